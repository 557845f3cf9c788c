import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import http from "node:http";
import net from "node:net";
import {
  background,
  Canceled,
  DeadlineExceeded,
  isCanceled,
  isDeadlineExceeded,
  remaining,
  withCancel,
  withTimeout,
  type Context,
} from "@lifeline/core";
import { BudgetExhaustedError, fetch, TIMEOUT_HEADER } from "@lifeline/http";

// ---------------------------------------------------------------------------------------------------------------
// Helpers: real servers on 127.0.0.1, port 0. Every test closes what it opened in a finally.

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

interface TestServer {
  url: string;
  server: http.Server;
  /** requests the server has seen, in order. */
  seen: http.IncomingMessage[];
  close(): Promise<void>;
}

async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<TestServer> {
  const seen: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** echo answers every request with a JSON of what it received. */
function echo(req: http.IncomingMessage, res: http.ServerResponse): void {
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk: string) => (body += chunk));
  req.on("end", () => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body, port: req.socket.remotePort }));
  });
}

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
  body: string;
  port: number;
}

/** rejection returns the rejection of `p`, failing if it resolves. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    return error;
  }
  assert.fail("expected a rejection");
}

type Ending = "cancel" | "deadline";

/**
 * expiring returns a core ctx with a deadline a minute away that passes when the test calls `expire()`: its
 * parent is a Context of our own whose err() becomes DeadlineExceeded on demand. The phase tests use it so
 * that "the deadline passed during phase X" never races a timer against a loaded machine; one test below
 * uses a real withTimeout end to end.
 */
function expiring(): { ctx: Context; expire: () => void; cleanup: () => void } {
  const ac = new AbortController();
  const due = Date.now() + 60_000;
  const parent: Context = {
    deadline: () => due,
    done: () => background().done(), // not used by the core for a parent of this kind
    err: () => (ac.signal.aborted ? DeadlineExceeded : undefined),
    value: () => undefined,
    signal: ac.signal,
  };
  const [ctx, cancel] = withCancel(parent);
  return { ctx, expire: () => ac.abort(DeadlineExceeded), cleanup: cancel };
}

/** contextFor returns a ctx that `end()` ends, by cancel or by its deadline passing. */
function contextFor(ending: Ending): { ctx: Context; end: () => void; cleanup: () => void } {
  if (ending === "cancel") {
    const [ctx, cancel] = withCancel(background());
    return { ctx, end: cancel, cleanup: cancel };
  }
  const { ctx, expire, cleanup } = expiring();
  return { ctx, end: expire, cleanup };
}

function assertEndedBy(error: unknown, ending: Ending): void {
  if (ending === "cancel") {
    assert.equal(error, Canceled);
    assert.ok(isCanceled(error));
  } else {
    assert.equal(error, DeadlineExceeded);
    assert.ok(isDeadlineExceeded(error));
  }
}

/** customContext is a Context we did not make, backed by an AbortController: its listeners can be counted. */
function customContext(): { ctx: Context; cancel: () => void; signal: AbortSignal } {
  const ac = new AbortController();
  const ctx: Context = {
    deadline: () => undefined,
    done: () => background().done(),
    err: () => (ac.signal.aborted ? Canceled : undefined),
    value: () => undefined,
    signal: ac.signal,
  };
  return { ctx, cancel: () => ac.abort(Canceled), signal: ac.signal };
}

// ---------------------------------------------------------------------------------------------------------------

describe("fetch", () => {
  it("resolves with the response, its status, headers, url and body", async () => {
    const s = await serve((req, res) => {
      if (req.url === "/moved") {
        res.writeHead(302, { location: "/final" }).end();
        return;
      }
      res.writeHead(req.url === "/odd" ? 700 : 201, "Made It", { "set-cookie": ["a=1", "b=2"], "x-test": "yes" });
      res.end("hello");
    });
    try {
      const res = await fetch(background(), `${s.url}/created`);
      assert.ok(res instanceof Response);
      assert.equal(res.status, 201);
      assert.equal(res.statusText, "Made It");
      assert.equal(res.ok, true);
      assert.equal(res.url, `${s.url}/created`);
      assert.equal(res.type, "basic");
      assert.equal(res.headers.get("x-test"), "yes");
      assert.deepEqual(res.headers.getSetCookie(), ["a=1", "b=2"]);
      const copy = res.clone();
      assert.equal(await res.text(), "hello");
      assert.equal(await copy.text(), "hello");
      assert.equal(copy.url, `${s.url}/created`);

      const redirected = await fetch(background(), `${s.url}/moved`);
      assert.equal(redirected.redirected, true);
      assert.equal(redirected.url, `${s.url}/final`);
      await redirected.arrayBuffer();

      // The Response constructor refuses statuses outside 200–599; the platform passes a server's 700 on, so do we.
      const odd = await fetch(background(), `${s.url}/odd`);
      assert.equal(odd.status, 700);
      assert.equal(odd.ok, false);
      assert.equal(odd.clone().status, 700);
      assert.equal(odd.clone().statusText, "Made It");
      assert.equal(await odd.text(), "hello");
    } finally {
      await s.close();
    }
  });

  it("sends a Request's method, headers and body", async () => {
    const s = await serve(echo);
    try {
      const [ctx, cancel] = withTimeout(background(), 5000);
      try {
        const req = new Request(`${s.url}/r`, { method: "POST", headers: { "x-mine": "1" }, body: "payload" });
        const got = (await (await fetch(ctx, req)).json()) as Echo;
        assert.equal(got.method, "POST");
        assert.equal(got.body, "payload");
        assert.equal(got.headers["x-mine"], "1");
        assert.match(got.headers[TIMEOUT_HEADER] ?? "", /^\d+$/);
      } finally {
        cancel();
      }
    } finally {
      await s.close();
    }
  });

  describe("aborts when the ctx ends", () => {
    it("at a real deadline (withTimeout) while the server does not answer: DeadlineExceeded", async () => {
      const s = await serve(() => {}); // never answers; its listening socket keeps the process up for the timer
      const [ctx, cancel] = withTimeout(background(), 100);
      try {
        const error = await rejection(fetch(ctx, `${s.url}/never`));
        assert.equal(error, DeadlineExceeded);
        assert.equal(ctx.err(), DeadlineExceeded);
      } finally {
        cancel();
        await s.close();
      }
    });

    for (const ending of ["cancel", "deadline"] as const) {
      it(`while connecting (TLS handshake never answered), by ${ending}`, async () => {
        // A TCP server that accepts and reads but never answers the TLS ClientHello: the request is stuck in
        // the connect phase for as long as we like.
        const sockets = new Set<net.Socket>();
        const hello = deferred();
        const server = net.createServer((socket) => {
          sockets.add(socket);
          socket.once("data", () => hello.resolve());
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const { ctx, end, cleanup } = contextFor(ending);
        try {
          const { port } = server.address() as net.AddressInfo;
          const failed = rejection(fetch(ctx, `https://127.0.0.1:${port}/`));
          await hello.promise;
          end();
          assertEndedBy(await failed, ending);
        } finally {
          cleanup();
          for (const socket of sockets) socket.destroy();
          await new Promise((resolve) => server.close(resolve));
        }
      });

      it(`while waiting for the headers, by ${ending}`, async () => {
        const arrived = deferred();
        const s = await serve(() => arrived.resolve()); // never answers
        const { ctx, end, cleanup } = contextFor(ending);
        try {
          const failed = rejection(fetch(ctx, `${s.url}/slow`));
          await arrived.promise;
          end();
          assertEndedBy(await failed, ending);
        } finally {
          cleanup();
          await s.close();
        }
      });

      // Each way of reading a body, ending while a read is pending; and ending before any read (Node 20 and 22
      // reject that read with a DOMException of their own: the relay turns it into ctx.err()).
      // start(res) begins the read and resolves once it is pending, past the first chunk where it can be.
      const reads: Record<string, (res: Response) => Promise<{ pending: Promise<unknown> }>> = {
        "text()": async (res) => ({ pending: res.text() }),
        "json()": async (res) => ({ pending: res.json() }),
        "arrayBuffer()": async (res) => ({ pending: res.arrayBuffer() }),
        "a reader": async (res) => {
          const reader = res.body!.getReader();
          assert.equal(new TextDecoder().decode((await reader.read()).value), "partial");
          return { pending: reader.read() };
        },
      };
      for (const [how, start] of Object.entries(reads)) {
        it(`while reading the body with ${how}, by ${ending}`, async () => {
          const s = await serve((_req, res) => {
            res.writeHead(200, { "content-length": "1000" });
            res.write("partial"); // then stalls
          });
          const { ctx, end, cleanup } = contextFor(ending);
          try {
            const res = await fetch(ctx, `${s.url}/body`);
            assert.equal(res.status, 200);
            const { pending } = await start(res);
            end();
            assertEndedBy(await rejection(pending), ending);
          } finally {
            cleanup();
            await s.close();
          }
        });
      }

      it(`before the body is read, by ${ending}: the read rejects with ctx.err()`, async () => {
        const s = await serve((_req, res) => {
          res.writeHead(200, { "content-length": "1000" });
          res.write("partial");
        });
        const { ctx, end, cleanup } = contextFor(ending);
        try {
          const res = await fetch(ctx, `${s.url}/body`);
          end();
          assertEndedBy(await rejection(res.text()), ending);
        } finally {
          cleanup();
          await s.close();
        }
      });
    }
  });

  describe("releases the body when the ctx ends", () => {
    it("a complete body never read: its keep-alive connection survives and serves the next requests", async () => {
      const s = await serve((req, res) => res.end(`hello from ${req.url}`));
      try {
        const [ctx, cancel] = withCancel(background());
        const first = await fetch(ctx, `${s.url}/first`);
        const socket = s.seen[0]!.socket;
        let closed = false;
        socket.once("close", () => (closed = true));
        cancel();
        assert.equal(await rejection(first.text()), Canceled);
        // The platform's pool hands the connection back a macrotask after the response ended, so the very next
        // request may still open a second one; one of the next few takes the first connection (the pool picks
        // its first free connection). Had the cancel destroyed it, none would.
        const sockets: unknown[] = [];
        for (let i = 0; i < 3 && !sockets.includes(socket); i++) {
          assert.equal(await (await fetch(background(), `${s.url}/next`)).text(), "hello from /next");
          sockets.push(s.seen.at(-1)!.socket);
        }
        assert.ok(sockets.includes(socket), "a later request came on the first request's connection");
        assert.equal(closed, false);
      } finally {
        await s.close();
      }
    });

    it("a body still streaming and never read: its connection is closed, not left checked out of the pool", async () => {
      const s = await serve((_req, res) => {
        res.writeHead(200, { "content-length": String(1 << 24) });
        res.write(Buffer.alloc(1 << 16)); // then stalls: the request stays in progress on its connection
      });
      try {
        const [ctx, cancel] = withCancel(background());
        const res = await fetch(ctx, `${s.url}/big`);
        const closed = new Promise((resolve) => s.seen[0]!.socket.once("close", resolve));
        cancel();
        await closed;
        assert.equal(await rejection(res.arrayBuffer()), Canceled);
      } finally {
        await s.close();
      }
    });
  });

  describe("budget", () => {
    it("sends the remaining budget minus the margin in timeout-ms", async () => {
      const s = await serve(echo);
      try {
        const [ctx, cancel] = withTimeout(background(), 2000);
        try {
          for (const marginMs of [undefined, 0, 100] as const) {
            const before = remaining(ctx);
            const init = marginMs === undefined ? {} : { marginMs };
            const got = (await (await fetch(ctx, s.url, init)).json()) as Echo;
            const sent = Number(got.headers[TIMEOUT_HEADER]);
            const margin = marginMs ?? 5;
            assert.ok(sent <= before - margin, `${sent} ≤ ${before} − ${margin}`);
            assert.ok(sent >= before - margin - 500, `${sent} ≥ ${before} − ${margin} − 500 ms of slack`);
          }
        } finally {
          cancel();
        }
      } finally {
        await s.close();
      }
    });

    it("sends no timeout-ms without a deadline, and leaves the caller's alone", async () => {
      const s = await serve(echo);
      try {
        const [ctx, cancel] = withCancel(background());
        try {
          const none = (await (await fetch(ctx, s.url)).json()) as Echo;
          assert.equal(none.headers[TIMEOUT_HEADER], undefined);
          const theirs = (await (await fetch(ctx, s.url, { headers: { [TIMEOUT_HEADER]: "123" } })).json()) as Echo;
          assert.equal(theirs.headers[TIMEOUT_HEADER], "123");
        } finally {
          cancel();
        }
      } finally {
        await s.close();
      }
    });

    it("keeps a smaller timeout-ms the caller set, replaces a larger or malformed one", async () => {
      const s = await serve(echo);
      try {
        const [ctx, cancel] = withTimeout(background(), 2000);
        try {
          const table: [given: string, expect: (sent: number) => boolean][] = [
            ["50", (sent) => sent === 50],
            ["999999", (sent) => sent <= 1995],
            ["soon", (sent) => sent <= 1995],
          ];
          for (const [given, expect] of table) {
            const asHeaders = (await (await fetch(ctx, s.url, { headers: { [TIMEOUT_HEADER]: given } })).json()) as Echo;
            const asRequest = new Request(s.url, { headers: [[TIMEOUT_HEADER, given], ["x-kept", "1"]] });
            const fromRequest = (await (await fetch(ctx, asRequest)).json()) as Echo;
            for (const got of [asHeaders, fromRequest]) {
              const sent = Number(got.headers[TIMEOUT_HEADER]);
              assert.ok(expect(sent), `given ${given}, sent ${got.headers[TIMEOUT_HEADER]}`);
            }
            assert.equal(fromRequest.headers["x-kept"], "1");
          }
        } finally {
          cancel();
        }
      } finally {
        await s.close();
      }
    });

    it("does not send a request with less than minimumBudgetMs left: BudgetExhaustedError, cause DeadlineExceeded", async () => {
      const s = await serve(echo);
      try {
        const cases: [timeoutMs: number, minimumBudgetMs: number | undefined][] = [
          [5, undefined], // below the default 10 ms
          [1000, 5000],
        ];
        for (const [timeoutMs, minimumBudgetMs] of cases) {
          const [ctx, cancel] = withTimeout(background(), timeoutMs);
          try {
            const init = minimumBudgetMs === undefined ? {} : { minimumBudgetMs };
            const error = await rejection(fetch(ctx, `${s.url}/doomed`, init));
            assert.ok(error instanceof BudgetExhaustedError);
            assert.equal(error.name, "BudgetExhaustedError");
            assert.equal(error.cause, DeadlineExceeded);
            assert.ok(isDeadlineExceeded(error));
            assert.equal(error.minimumMs, minimumBudgetMs ?? 10);
            assert.ok(error.remainingMs <= timeoutMs);
          } finally {
            cancel();
          }
        }
        // The server saw nothing of the doomed requests: the first request it sees is this one.
        await (await fetch(background(), `${s.url}/after`)).text();
        assert.deepEqual(
          s.seen.map((r) => r.url),
          ["/after"],
        );
      } finally {
        await s.close();
      }
    });

    it("sends with minimumBudgetMs 0 however little is left", async () => {
      const s = await serve(echo);
      try {
        const [ctx, cancel] = withTimeout(background(), 1000);
        try {
          const got = (await (await fetch(ctx, s.url, { minimumBudgetMs: 0, marginMs: 5000 })).json()) as Echo;
          assert.equal(got.headers[TIMEOUT_HEADER], "0");
        } finally {
          cancel();
        }
      } finally {
        await s.close();
      }
    });

    it("rejects with ctx.err() without sending when the ctx already ended", async () => {
      const s = await serve(echo);
      try {
        const [cancelled, cancel] = withCancel(background());
        cancel();
        assert.equal(await rejection(fetch(cancelled, `${s.url}/a`)), Canceled);
        const [expired, stop] = withTimeout(background(), 1);
        await expired.done().recv(background());
        stop();
        assert.equal(await rejection(fetch(expired, `${s.url}/b`)), DeadlineExceeded);
        await (await fetch(background(), `${s.url}/after`)).text();
        assert.deepEqual(
          s.seen.map((r) => r.url),
          ["/after"],
        );
      } finally {
        await s.close();
      }
    });
  });

  describe("leaves nothing attached to the ctx once the response is done", () => {
    it("however the response ends: read, cancelled, without a body, failed", async () => {
      const s = await serve((req, res) => {
        if (req.url === "/204") res.writeHead(204).end();
        else if (req.url === "/500") res.writeHead(500).end("broken");
        else res.end(JSON.stringify({ ok: true }));
      });
      // A port nobody listens on: the closed server's.
      const gone = http.createServer();
      await new Promise<void>((resolve) => gone.listen(0, "127.0.0.1", resolve));
      const refused = `http://127.0.0.1:${(gone.address() as net.AddressInfo).port}/`;
      await new Promise((resolve) => gone.close(resolve));

      const { ctx, cancel, signal } = customContext();
      const listeners = (): number => getEventListeners(signal, "abort").length;
      try {
        const pending = await fetch(ctx, `${s.url}/json`);
        assert.equal(listeners(), 1, "one listener (the core's) while a response is open");
        await pending.json();
        assert.equal(listeners(), 0);

        const ways: (() => Promise<unknown>)[] = [
          async () => (await fetch(ctx, `${s.url}/json`)).json(),
          async () => (await fetch(ctx, `${s.url}/json`)).text(),
          async () => (await fetch(ctx, `${s.url}/json`)).body!.cancel(),
          async () => (await fetch(ctx, `${s.url}/json`, { method: "HEAD" })).body,
          async () => (await fetch(ctx, `${s.url}/204`)).body,
          async () => (await fetch(ctx, `${s.url}/500`)).arrayBuffer(),
          async () => {
            const reader = (await fetch(ctx, `${s.url}/json`)).body!.getReader();
            while (!(await reader.read()).done);
          },
          async () => assert.ok(!isCanceled(await rejection(fetch(ctx, refused)))),
        ];
        const rounds = 25;
        for (let round = 0; round < rounds; round++) await Promise.all(ways.map((way) => way()));
        assert.equal(listeners(), 0, `no listener left after ${rounds * ways.length} requests`);

        // Ending the ctx now touches none of them: nothing runs, nothing is reported.
        cancel();
        assert.equal(listeners(), 0);
      } finally {
        cancel();
        await s.close();
      }
    });

    it("a network failure is passed on as it is", async () => {
      const gone = http.createServer();
      await new Promise<void>((resolve) => gone.listen(0, "127.0.0.1", resolve));
      const refused = `http://127.0.0.1:${(gone.address() as net.AddressInfo).port}/`;
      await new Promise((resolve) => gone.close(resolve));
      const error = await rejection(fetch(background(), refused));
      assert.ok(error instanceof TypeError);
      assert.ok(!isCanceled(error) && !isDeadlineExceeded(error));
    });
  });

  describe("misuse", () => {
    it("rejects a signal in init with a TypeError naming fetch", async () => {
      const ac = new AbortController();
      // @ts-expect-error the type rules signal out: the ctx cancels the request
      await assert.rejects(fetch(background(), "http://127.0.0.1:1/", { signal: ac.signal }), {
        name: "TypeError",
        message: /^fetch: init\.signal is not allowed/,
      });
    });

    it("rejects a ctx that is not a Context with a TypeError naming fetch", async () => {
      for (const bad of [undefined, null, {}, "ctx", ac()]) {
        // @ts-expect-error deliberately wrong
        await assert.rejects(fetch(bad, "http://127.0.0.1:1/"), { name: "TypeError", message: /^fetch: ctx must be a Context/ });
      }
      function ac(): AbortSignal {
        return new AbortController().signal;
      }
    });

    it("rejects budget options that are not non-negative numbers", async () => {
      for (const bad of [-1, NaN, Infinity, "5"]) {
        for (const name of ["minimumBudgetMs", "marginMs"]) {
          await assert.rejects(fetch(background(), "http://127.0.0.1:1/", { [name]: bad }), {
            name: "TypeError",
            message: new RegExp(`^fetch: ${name} must be a non-negative number`),
          });
        }
      }
    });
  });
});

after(() => assertNoLeaks());
