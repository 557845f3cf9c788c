// Issue 9, section 1: a request context ends on every path — a client that left before the ctx was made,
// a pipelined request still queued, a response ended but not fully sent — and shutdown ends whatever is open,
// upgraded connections included.
import { after, describe, it, type TestContext } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect as h2connect, constants as h2, createServer as createH2 } from "node:http2";
import { connect, type Socket } from "node:net";
import express from "express";
import { background, Canceled, cause, sleep, withCancel, type Context } from "@lifeline/core";
import { ClientDisconnectedError, HttpContexts, ResponseCompleted } from "@lifeline/http";
import { ctxOf, errorHandler, lifeline, requestListener } from "@lifeline/http/express";
import { alive, client, deferred, ended, listen } from "./support.js";

const BOUND = { timeout: 8000 };
const BIG = Buffer.alloc(16 * 1024 * 1024, 0x78);

/** rawClient opens a TCP connection that the test drives byte by byte; closed resolves when it closes. */
async function rawClient(port: number): Promise<{ socket: Socket; received: () => string; until(s: string): Promise<void>; closed: Promise<void> }> {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => {}); // the server may reset it
  await once(socket, "connect");
  let got = "";
  const waiters: Array<{ s: string; resolve: () => void }> = [];
  socket.setEncoding("latin1");
  socket.on("data", (chunk: string) => {
    got += chunk;
    for (let i = waiters.length - 1; i >= 0; i--) if (got.includes(waiters[i]!.s)) waiters.splice(i, 1)[0]!.resolve();
  });
  const closed = once(socket, "close").then(() => {});
  return {
    socket,
    received: () => got,
    until: (s) => (got.includes(s) ? Promise.resolve() : new Promise((resolve) => waiters.push({ s, resolve }))),
    closed,
  };
}

/** upgrading answers every Upgrade request with a 101 and keeps the socket, as a WebSocket server does. */
function upgrading(server: Server): Server {
  server.on("upgrade", (_req: IncomingMessage, socket: Socket) => {
    socket.on("error", () => {});
    socket.on("end", () => socket.end()); // the peer closed its side: close ours, as a WebSocket server does
    socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n");
  });
  return server;
}

async function upgrade(port: number) {
  const c = await rawClient(port);
  c.socket.write("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n");
  await c.until("101 Switching Protocols");
  return c;
}

function served(t: TestContext, contexts: HttpContexts, server: Server): void {
  t.after(async () => {
    server.closeAllConnections();
    await contexts.shutdown(server, 0);
  });
}

describe("a request whose client left before its ctx was made", () => {
  it("gets a ctx born ended with ClientDisconnectedError (Express: an async middleware before lifeline)", BOUND, (t) => leftEarly(t, "middleware"));
  // The front door made the ctx before that middleware ran: it ends when the client leaves, like any disconnect.
  it("Express behind requestListener: the ctx made before the middleware ends when the client leaves", BOUND, (t) => leftEarly(t, "requestListener"));

  async function leftEarly(t: TestContext, form: "middleware" | "requestListener") {
    const reported: unknown[] = [];
    const contexts = new HttpContexts({ onError: (e) => reported.push(e) });
    const entered = deferred();
    const handled = deferred<{ ctx: Context; err: Error | undefined }>();
    const slept = deferred<unknown>();
    const app = express();
    app.use(async (_req, res, next) => {
      entered.resolve();
      if (!res.closed) await once(res, "close"); // the client leaves while this middleware runs
      next();
    });
    if (form === "middleware") app.use(lifeline(contexts));
    app.get("/x", async (req, res) => {
      const ctx = ctxOf(req);
      handled.resolve({ ctx, err: ctx.err() });
      try {
        await sleep(ctx, 2000);
      } catch (e) {
        slept.resolve(e);
        throw e;
      }
      res.send("late");
    });
    app.use(errorHandler(contexts));
    const server = createServer(form === "middleware" ? app : requestListener(contexts, app));
    served(t, contexts, server);
    const c = client("http", await listen(server));
    t.after(() => c.close());
    const call = c.request({ path: "/x" });
    await entered.promise;
    call.abort();
    const { ctx, err } = await handled.promise;
    assert.equal(err, Canceled, "the handler got an ended ctx");
    assert.ok(cause(ctx) instanceof ClientDisconnectedError, `cause: ${String(cause(ctx))}`);
    assert.equal(await slept.promise, Canceled, "sleep(ctx, 2000) stops at once");
    assert.equal(contexts.stats.inFlight, 0);
    assert.equal(contexts.stats.disconnected, 1);
    assert.deepEqual(reported, []);
  }
});

describe("pipelining", () => {
  it("a queued request's ctx ends when its connection closes, and shutdown(server, Infinity) does not wait for it", BOUND, async (t) => {
    const contexts = new HttpContexts({ onError: () => {} });
    const slow = deferred<Context>();
    const queued = deferred<{ ctx: Context; res: ServerResponse }>();
    const server = createServer(
      contexts.handler<IncomingMessage, ServerResponse>(async (ctx, req, res) => {
        if (req.url === "/slow") slow.resolve(ctx);
        else queued.resolve({ ctx, res });
        await ended(ctx);
      }),
    );
    served(t, contexts, server);
    const c = await rawClient(await listen(server));
    c.socket.write("GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /queued HTTP/1.1\r\nHost: x\r\n\r\n");
    const slowCtx = await slow.promise;
    const { ctx, res } = await queued.promise;
    assert.equal(res.socket, null, "the second response is queued behind the first");
    c.socket.destroy();
    await alive(ended(slowCtx));
    await alive(ended(ctx));
    assert.ok(cause(ctx) instanceof ClientDisconnectedError, `cause: ${String(cause(ctx))}`);
    assert.equal(contexts.stats.inFlight, 0);
    assert.equal(contexts.stats.disconnected, 2);
    assert.deepEqual(await contexts.shutdown(server, Infinity), { graceful: true, cancelled: [], upgraded: 0, leftOpen: 0 });
  });
});

describe("a response ended but not fully sent", () => {
  it("HTTP/1: res.end(16 MiB) to a client that reads 64 KiB and leaves is a disconnect, not ResponseCompleted", BOUND, async (t) => {
    const contexts = new HttpContexts({ onError: () => {} });
    const seen = deferred<Context>();
    const server = createServer(contexts.handler((ctx, _req, res) => (seen.resolve(ctx), res.end(BIG))));
    served(t, contexts, server);
    const c = await rawClient(await listen(server));
    c.socket.write("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    const ctx = await seen.promise;
    await c.until("\r\n\r\n");
    while (c.received().length < 64 * 1024) await new Promise((resolve) => c.socket.once("data", resolve));
    c.socket.pause(); // the rest stays unread: the kernel's buffers cannot hold 16 MiB
    c.socket.destroy();
    await alive(ended(ctx));
    assert.ok(cause(ctx) instanceof ClientDisconnectedError, `cause: ${String(cause(ctx))}`);
    assert.equal(contexts.stats.completed, 0);
    assert.equal(contexts.stats.disconnected, 1);
  });

  it("HTTP/2: the same over a stream the client cancels after 64 KiB is a disconnect", BOUND, async (t) => {
    const contexts = new HttpContexts({ onError: () => {} });
    const seen = deferred<Context>();
    const server = contexts.watch(createH2(contexts.handler((ctx, _req, res) => (seen.resolve(ctx), res.end(BIG)))));
    const port = await listen(server);
    t.after(() => contexts.shutdown(server, 0));
    const session = h2connect(`http://127.0.0.1:${port}`);
    session.on("error", () => {});
    t.after(() => session.destroy());
    const stream = session.request({ ":path": "/big" });
    stream.on("error", () => {});
    let n = 0;
    await new Promise<void>((resolve) =>
      stream.on("data", (chunk: Buffer) => {
        n += chunk.length;
        if (n >= 64 * 1024) resolve();
      }),
    );
    stream.close(h2.NGHTTP2_CANCEL);
    const ctx = await seen.promise;
    await alive(ended(ctx));
    assert.ok(cause(ctx) instanceof ClientDisconnectedError, `cause: ${String(cause(ctx))}`);
    assert.equal(contexts.stats.completed, 0);
  });

  it("a small response fully sent still ends with ResponseCompleted (HTTP/1 and HTTP/2)", BOUND, async (t) => {
    const contexts = new HttpContexts({ onError: () => {} });
    const seen: Context[] = [];
    const h1 = createServer(contexts.handler((ctx, _req, res) => (seen.push(ctx), res.end("ok"))));
    const h2s = contexts.watch(createH2(contexts.handler((ctx, _req, res) => (seen.push(ctx), res.end("ok")))));
    served(t, contexts, h1);
    const a = client("http", await listen(h1));
    const b = client("h2", await listen(h2s));
    t.after(async () => (a.close(), b.close(), await contexts.shutdown(h2s, 0)));
    assert.equal((await a.request({ path: "/" }).done).body, "ok");
    assert.equal((await b.request({ path: "/" }).done).body, "ok");
    for (const ctx of seen) {
      await alive(ended(ctx));
      assert.equal(cause(ctx), ResponseCompleted);
    }
    assert.equal(contexts.stats.completed, 2);
  });
});

describe("shutdown with upgraded (101) connections", () => {
  it("destroys an upgraded connection of a watched server after the grace period and reports it", BOUND, async (t) => {
    const contexts = new HttpContexts({ onError: () => {} });
    const server = contexts.watch(upgrading(createServer(contexts.handler((_ctx, _req, res) => res.end("ok")))));
    served(t, contexts, server);
    const ws = await upgrade(await listen(server));
    const report = await contexts.shutdown(server, 100);
    assert.deepEqual(report, { graceful: false, cancelled: [], upgraded: 1, leftOpen: 0 });
    await ws.closed;
  });

  it("watches a server from its first request on, without watch()", BOUND, async (t) => {
    const contexts = new HttpContexts({ onError: () => {} });
    const server = upgrading(createServer(contexts.handler((_ctx, _req, res) => res.end("ok"))));
    served(t, contexts, server);
    const port = await listen(server);
    const c = client("http", port);
    t.after(() => c.close());
    assert.equal((await c.request({ path: "/" }).done).body, "ok");
    const ws = await upgrade(port);
    const report = await contexts.shutdown(server, 50);
    assert.equal(report.upgraded, 1);
    assert.equal(report.graceful, false);
    await ws.closed;
  });

  it("waits within the grace period for an upgraded connection to close: graceful, nothing to destroy", BOUND, async (t) => {
    const contexts = new HttpContexts({ onError: () => {} });
    const server = contexts.watch(upgrading(createServer(contexts.handler((_ctx, _req, res) => res.end("ok")))));
    served(t, contexts, server);
    const ws = await upgrade(await listen(server));
    const report = contexts.shutdown(server, 60_000);
    ws.socket.end(); // the client closes it, as a WebSocket client told of the shutdown would
    assert.deepEqual(await alive(report), { graceful: true, cancelled: [], upgraded: 0, leftOpen: 0 });
  });

  it("an upgraded connection it never saw does not keep shutdown waiting: it reports it left open", BOUND, async (t) => {
    const contexts = new HttpContexts({ onError: () => {} });
    const server = upgrading(createServer(contexts.handler((_ctx, _req, res) => res.end("ok"))));
    const ws = await upgrade(await listen(server)); // before any request: the server is not watched
    t.after(() => ws.socket.destroy());
    const report = await alive(contexts.shutdown(server, 50));
    assert.deepEqual(report, { graceful: false, cancelled: [], upgraded: 0, leftOpen: 1 });
  });
});

describe("failed(): only the request's own stop is quiet", () => {
  async function failing(t: TestContext, fail: (ctx: Context) => Promise<never>, timeoutMs?: number) {
    const reported: unknown[] = [];
    const contexts = new HttpContexts({ onError: (e) => reported.push(e), ...(timeoutMs === undefined ? {} : { timeoutMs }) });
    const seen = deferred<Context>();
    const done = deferred();
    const server = createServer(
      contexts.handler(async (ctx) => {
        seen.resolve(ctx);
        try {
          await fail(ctx);
        } finally {
          done.resolve();
        }
      }),
    );
    served(t, contexts, server);
    const c = client("http", await listen(server));
    t.after(() => c.close());
    return { contexts, reported, seen: seen.promise, done: done.promise, call: c.request({ path: "/" }) };
  }
  /** settle lets the rejection reach failed(): it runs in the handler's rejection callback, a microtask later. */
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it("a Canceled from an unrelated context, after the request's deadline passed, is reported", BOUND, async (t) => {
    const s = await failing(
      t,
      async (ctx) => {
        await ended(ctx);
        const [other, cancel] = withCancel(background());
        cancel();
        throw other.err();
      },
      20,
    );
    assert.equal((await s.call.done).status, 503);
    await s.done;
    await settle();
    assert.equal(s.reported.length, 1);
    assert.equal(s.reported[0], Canceled);
    assert.equal(s.contexts.stats.failed, 1);
  });

  it("a real bug after the client left is reported; the request's own cancellation, wrapped, is not", BOUND, async (t) => {
    for (const [name, make, expected] of [
      ["TypeError", () => new TypeError("bug"), 1],
      ["Error wrapping ctx.err()", (ctx: Context) => new Error("query stopped", { cause: ctx.err() }), 0],
      ["Error wrapping cause(ctx)", (ctx: Context) => new AggregateError([cause(ctx)], "all stopped"), 0],
    ] as const) {
      const s = await failing(t, async (ctx) => {
        await ended(ctx);
        throw make(ctx);
      });
      const ctx = await s.seen;
      s.call.abort();
      await s.done;
      await settle();
      assert.ok(cause(ctx) instanceof ClientDisconnectedError);
      assert.equal(s.reported.length, expected, name);
      assert.equal(s.contexts.stats.failed, expected, name);
    }
  });
});

after(() => assertNoLeaks());
