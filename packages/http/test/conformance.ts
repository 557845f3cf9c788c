// The semantics every adapter and protocol must share, as one suite that each target's test file runs.
// A target wires framework-neutral routes (a function of the ctx and a body reader that returns an answer)
// into its framework the way a user would; the suite talks to it with a real client.
import { describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { background, Canceled, cause, DeadlineExceeded, withCancelCause, type Context } from "@lifeline/core";
import {
  ClientDisconnectedError,
  HttpContexts,
  RequestTimeoutError,
  ResponseCompleted,
  ServerShutdownError,
  type HttpContextOptions,
} from "@lifeline/http";
import { client, deferred, delay, ended, type Client, type Protocol } from "./support.js";

/** Answer is what a route returns: a whole text, or a stream of chunks written as they come. */
export type Answer = { status?: number; text: string } | { stream: AsyncIterable<string> };

/** Route is a framework-neutral handler. `body()` reads the request body the framework's way. */
export interface Route {
  timeoutMs?: number;
  run(ctx: Context, body: () => Promise<string>): Promise<Answer> | Answer;
}

/** Routes map a path (exact, any method) to its route. */
export type Routes = Record<string, Route>;

/** Running is a target's server, listening. */
export interface Running {
  port: number;
  /** server is what `contexts.shutdown` closes. */
  server: Parameters<HttpContexts["shutdown"]>[0];
  /** close stops everything the target started (idempotent, also after a shutdown). */
  close(): Promise<void>;
}

/** Target is one adapter or protocol under test. */
export interface Target {
  name: string;
  protocol: Protocol;
  /** known lists behaviours the target's framework gets wrong, each with its reason (the test is skipped). */
  known?: { cutStream?: string };
  start(contexts: HttpContexts, routes: Routes): Promise<Running>;
}

/** Reported is one call of the onError option. */
interface Reported {
  error: unknown;
  request: { method: string; url: string };
}

interface Served {
  contexts: HttpContexts;
  reported: Reported[];
  running: Running;
  /** connect opens a new client connection, closed after the test. */
  connect(): Client;
}

async function serve(t: TestContext, target: Target, routes: Routes, options: HttpContextOptions = {}): Promise<Served> {
  const reported: Reported[] = [];
  const contexts = new HttpContexts({ onError: (error, request) => reported.push({ error, request }), ...options });
  const running = await target.start(contexts, routes);
  const clients: Client[] = [];
  t.after(async () => {
    for (const c of clients) c.close();
    // shutdown closes the server and cancels the root context (again, harmlessly, if the test shut down).
    await contexts.shutdown(running.server, 0);
    await running.close();
  });
  return {
    contexts,
    reported,
    running,
    connect() {
      const c = client(target.protocol, running.port);
      clients.push(c);
      return c;
    },
  };
}

/** A body big enough to take several reads (and, on HTTP/2, a flow-control window). */
const BIG = "x".repeat(100_000);
/** A body the handler leaves unread; small enough to fit the buffers, so the client can finish sending. */
const SMALL = "y".repeat(8_000);
const POST = { method: "POST", headers: { "content-type": "application/octet-stream" } };
const BOUND = { timeout: 4000 };

/** settled lets a failed handler's rejection travel through the framework's error path. */
const settled = (): Promise<void> => delay(30);

function assertCompleted(ctx: Context): void {
  assert.equal(ctx.err(), Canceled);
  assert.equal(cause(ctx), ResponseCompleted);
}

/** conformance runs the shared suite against `target`. */
export function conformance(target: Target): void {
  const h2 = target.protocol === "h2";

  describe(`${target.name}: request contexts`, () => {
    it("GET: the ctx is live in the handler and ends with ResponseCompleted once the response is sent", BOUND, async (t) => {
      const seen = deferred<{ ctx: Context; err: Error | undefined }>();
      const s = await serve(t, target, {
        "/get": { run: (ctx) => (seen.resolve({ ctx, err: ctx.err() }), { text: "hello" }) },
      });
      const r = await s.connect().request({ path: "/get" }).done;
      assert.equal(r.status, 200);
      assert.equal(r.body, "hello");
      const { ctx, err } = await seen.promise;
      assert.equal(err, undefined);
      await ended(ctx);
      assertCompleted(ctx);
      assert.deepEqual(s.contexts.stats, { requests: 1, inFlight: 0, completed: 1, disconnected: 0, timedOut: 0, shutDown: 0, failed: 0 });
    });

    it("POST with the body read: the ctx does not end when the body has been read, only with the response", BOUND, async (t) => {
      const seen = deferred<{ ctx: Context; afterRead: Error | undefined; later: Error | undefined }>();
      const s = await serve(t, target, {
        "/echo": {
          async run(ctx, body) {
            const b = await body();
            const afterRead = ctx.err();
            await delay(20); // "not yet": the request side is over, the response is not
            seen.resolve({ ctx, afterRead, later: ctx.err() });
            return { text: String(b.length) };
          },
        },
      });
      const r = await s.connect().request({ ...POST, path: "/echo", body: BIG }).done;
      assert.equal(r.status, 200);
      assert.equal(r.body, String(BIG.length));
      const { ctx, afterRead, later } = await seen.promise;
      assert.equal(afterRead, undefined, "ended as soon as the body was read");
      assert.equal(later, undefined, "ended after the body was read, before the response");
      await ended(ctx);
      assertCompleted(ctx);
      assert.equal(s.contexts.stats.completed, 1);
      assert.equal(s.contexts.stats.disconnected, 0);
    });

    it("POST with the body unread: the response completes and the ctx ends with ResponseCompleted", BOUND, async (t) => {
      const seen = deferred<Context>();
      const s = await serve(t, target, { "/ignore": { run: (ctx) => (seen.resolve(ctx), { status: 202, text: "ignored" }) } });
      const r = await s.connect().request({ ...POST, path: "/ignore", body: SMALL }).done;
      assert.equal(r.status, 202);
      assert.equal(r.body, "ignored");
      const ctx = await seen.promise;
      await ended(ctx);
      assertCompleted(ctx);
      assert.equal(s.contexts.stats.completed, 1);
    });

    it("streaming (SSE): the ctx stays live after the handler returned, and ends with ResponseCompleted when the stream ends", BOUND, async (t) => {
      const seen = deferred<Context>();
      const release = deferred();
      const s = await serve(t, target, {
        "/sse": {
          run(ctx) {
            seen.resolve(ctx);
            return {
              stream: (async function* () {
                yield "data: 1\n\n";
                await release.promise;
                yield "data: 2\n\n";
              })(),
            };
          },
        },
      });
      const call = s.connect().request({ path: "/sse" });
      await call.until("data: 1");
      const ctx = await seen.promise;
      assert.equal(ctx.err(), undefined, "the handler returned, the stream goes on");
      await delay(20);
      assert.equal(ctx.err(), undefined, "still streaming");
      release.resolve();
      const r = await call.done;
      assert.equal(r.body, "data: 1\n\ndata: 2\n\n");
      await ended(ctx);
      assertCompleted(ctx);
    });

    it(`keep-alive: two requests on one ${h2 ? "session" : "socket"} each end with ResponseCompleted, the second unaffected by the first`, BOUND, async (t) => {
      const seen: Array<{ ctx: Context; err: Error | undefined }> = [];
      const s = await serve(t, target, { "/get": { run: (ctx) => (seen.push({ ctx, err: ctx.err() }), { text: `n${seen.length}` }) } });
      const c = s.connect();
      const first = c.request({ path: "/get" });
      assert.equal((await first.done).body, "n1");
      await ended(seen[0]!.ctx);
      assertCompleted(seen[0]!.ctx);
      const second = c.request({ path: "/get" });
      assert.equal((await second.done).body, "n2");
      assert.equal(second.connection(), first.connection(), "the connection was reused");
      assert.equal(seen[1]!.err, undefined, "the second ctx started live");
      assert.notEqual(seen[1]!.ctx, seen[0]!.ctx);
      await ended(seen[1]!.ctx);
      assertCompleted(seen[1]!.ctx);
      assert.equal(s.contexts.stats.completed, 2);
      assert.equal(s.contexts.stats.disconnected, 0);
    });

    it(
      h2
        ? "HTTP/2 stream reset (NGHTTP2_CANCEL) mid-handler ends the ctx with ClientDisconnectedError; the handler's failure is counted, not reported"
        : "a client that disconnects mid-handler ends the ctx with ClientDisconnectedError; the handler's failure is counted, not reported",
      BOUND,
      async (t) => {
        const seen = deferred<Context>();
        const threw = deferred();
        const s = await serve(t, target, {
          "/wait": {
            async run(ctx) {
              seen.resolve(ctx);
              await ended(ctx);
              threw.resolve();
              throw ctx.err();
            },
          },
        });
        const c = s.connect();
        const call = c.request({ path: "/wait" });
        const ctx = await seen.promise;
        assert.equal(ctx.err(), undefined);
        call.abort();
        await ended(ctx);
        assert.equal(ctx.err(), Canceled);
        const why = cause(ctx);
        assert.ok(why instanceof ClientDisconnectedError, `cause: ${String(why)}`);
        assert.equal(why.method, "GET");
        assert.equal(why.url, "/wait");
        await threw.promise;
        await settled();
        assert.deepEqual(s.reported, []);
        assert.equal(s.contexts.stats.disconnected, 1);
        assert.equal(s.contexts.stats.failed, 0);
        assert.equal(s.contexts.stats.inFlight, 0);
        if (h2) {
          // The session survives a reset stream: the next request on it is unaffected.
          const r = await c.request({ path: "/ok" }).done;
          assert.equal(r.status, 404);
        }
      },
    );

    it("a handler failing with a server error answers 500 and calls onError once", BOUND, async (t) => {
      const boom = new Error("boom");
      const seen = deferred<Context>();
      const s = await serve(t, target, {
        "/boom": {
          run(ctx) {
            seen.resolve(ctx);
            throw boom;
          },
        },
      });
      const r = await s.connect().request({ path: "/boom?x=1" }).done;
      assert.equal(r.status, 500);
      assert.equal(s.reported.length, 1);
      assert.equal(s.reported[0]!.error, boom);
      assert.deepEqual(s.reported[0]!.request, { method: "GET", url: "/boom?x=1" });
      assert.equal(s.contexts.stats.failed, 1);
      const ctx = await seen.promise;
      await ended(ctx);
      assertCompleted(ctx); // a 500 is still a response sent
    });

    /** waiter is a route that waits for its ctx to end, then fails with its err, as cancellable work does. */
    const waiter = (seen: { resolve(ctx: Context): void }, timeoutMs?: number): Route => ({
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      async run(ctx) {
        seen.resolve(ctx);
        await ended(ctx);
        throw ctx.err();
      },
    });

    async function timesOut(s: Served, ctxP: Promise<Context>, headers: Record<string, string> = {}): Promise<RequestTimeoutError> {
      const r = await s.connect().request({ path: "/slow", headers }).done;
      assert.equal(r.status, 503);
      const ctx = await ctxP;
      await ended(ctx);
      assert.equal(ctx.err(), DeadlineExceeded);
      const why = cause(ctx);
      assert.ok(why instanceof RequestTimeoutError, `cause: ${String(why)}`);
      await settled();
      assert.deepEqual(s.reported, [], "a deadline is not a server error");
      assert.equal(s.contexts.stats.timedOut, 1);
      assert.equal(s.contexts.stats.inFlight, 0);
      return why;
    }

    it("a route timeout answers 503 and ends the ctx with DeadlineExceeded, cause RequestTimeoutError", BOUND, async (t) => {
      const seen = deferred<Context>();
      const s = await serve(t, target, { "/slow": waiter(seen, 50) });
      const why = await timesOut(s, seen.promise);
      assert.equal(why.timeoutMs, 50);
      assert.equal(why.source, "server");
    });

    it("a server-wide timeout answers 503", BOUND, async (t) => {
      const seen = deferred<Context>();
      const s = await serve(t, target, { "/slow": waiter(seen) }, { timeoutMs: 50 });
      const why = await timesOut(s, seen.promise);
      assert.equal(why.timeoutMs, 50);
      assert.equal(why.source, "server");
    });

    it("a `timeout-ms: 50` header gets a 503, the caller's budget less the margin as cause", BOUND, async (t) => {
      const seen = deferred<Context>();
      const s = await serve(t, target, { "/slow": waiter(seen) });
      const why = await timesOut(s, seen.promise, { "timeout-ms": "50" });
      assert.equal(why.timeoutMs, 45);
      assert.equal(why.source, "header");
    });

    for (const [name, value] of [
      ["timeout-ms", "999999999"],
      ["grpc-timeout", "99999999H"],
    ] as const) {
      it(`a huge \`${name}: ${value}\` is clamped to maxTimeoutMs`, BOUND, async (t) => {
        const seen = deferred<Context>();
        const s = await serve(t, target, { "/slow": waiter(seen) }, { maxTimeoutMs: 60 });
        const why = await timesOut(s, seen.promise, { [name]: value });
        assert.equal(why.timeoutMs, 55);
        assert.equal(why.source, "header");
      });
    }

    it("malformed, negative and duplicated deadline headers are ignored", BOUND, async (t) => {
      const deadlines: Array<number | undefined> = [];
      const s = await serve(t, target, { "/get": { run: (ctx) => (deadlines.push(ctx.deadline()), { text: "ok" }) } });
      const c = s.connect();
      const cases: Array<Record<string, string | string[]>> = [
        { "timeout-ms": "-5" },
        { "timeout-ms": "abc" },
        { "timeout-ms": "1e3" },
        { "timeout-ms": "12.5" },
        { "timeout-ms": "1234567890" },
        { "timeout-ms": ["50", "60"] },
        { "grpc-timeout": "5" },
        { "grpc-timeout": "123456789S" },
        { "grpc-timeout": "-1S" },
        { "grpc-timeout": ["1S", "2S"] },
      ];
      for (const headers of cases) {
        const r = await c.request({ path: "/get", headers }).done;
        assert.equal(r.status, 200, JSON.stringify(headers));
      }
      assert.deepEqual(deadlines, cases.map(() => undefined));
      assert.equal(s.contexts.stats.completed, cases.length);
    });

    it("a deadline that passes mid-stream resets the response: the client sees it broken, not complete", { ...BOUND, skip: target.known?.cutStream ?? false }, async (t) => {
      const seen = deferred<Context>();
      const s = await serve(t, target, {
        "/sse": {
          timeoutMs: 50,
          run(ctx) {
            seen.resolve(ctx);
            return {
              stream: (async function* () {
                yield "data: 1\n\n";
                await ended(ctx);
                throw ctx.err();
              })(),
            };
          },
        },
      });
      const call = s.connect().request({ path: "/sse" });
      await call.until("data: 1");
      await assert.rejects(call.done);
      const ctx = await seen.promise;
      assert.equal(ctx.err(), DeadlineExceeded);
      assert.ok(cause(ctx) instanceof RequestTimeoutError);
      await settled();
      assert.deepEqual(s.reported, []);
      assert.equal(s.contexts.stats.timedOut, 1);
    });

    it("cancelling the parent context ends in-flight requests with its cause; the handler's failure is answered 503, unreported", BOUND, async (t) => {
      const [parent, cancelParent] = withCancelCause(background());
      const seen = deferred<Context>();
      const s = await serve(t, target, { "/wait": waiter(seen) }, { parent });
      const call = s.connect().request({ path: "/wait" });
      const ctx = await seen.promise;
      const maintenance = new Error("maintenance");
      cancelParent(maintenance);
      assert.equal(ctx.err(), Canceled);
      assert.equal(cause(ctx), maintenance);
      const r = await call.done;
      assert.equal(r.status, 503);
      await settled();
      assert.deepEqual(s.reported, []);
      assert.equal(s.contexts.stats.inFlight, 0);
    });

    it("shutdown drains then cancels: finished within grace completes, still running gets ServerShutdownError, idle connections close", BOUND, async (t) => {
      const quickSeen = deferred<Context>();
      const finishQuick = deferred();
      const stuckSeen = deferred<Context>();
      const s = await serve(t, target, {
        "/get": { run: () => ({ text: "ok" }) },
        "/quick": {
          async run(ctx) {
            quickSeen.resolve(ctx);
            await finishQuick.promise;
            return { text: "finished" };
          },
        },
        "/stuck": waiter(stuckSeen),
      });
      const idle = s.connect();
      assert.equal((await idle.request({ path: "/get" }).done).status, 200);
      const quick = s.connect().request({ path: "/quick" });
      const stuck = s.connect().request({ path: "/stuck" });
      const quickCtx = await quickSeen.promise;
      const stuckCtx = await stuckSeen.promise;

      const report = s.contexts.shutdown(s.running.server, 150);
      await idle.closed; // closed at once, not after the grace period
      assert.equal(quickCtx.err(), undefined, "in-flight work is not cancelled during the grace period");
      assert.equal(stuckCtx.err(), undefined);
      finishQuick.resolve();
      const q = await quick.done;
      assert.equal(q.body, "finished");
      await ended(quickCtx);
      assertCompleted(quickCtx);

      const r = await report;
      await ended(stuckCtx);
      assert.ok(cause(stuckCtx) instanceof ServerShutdownError, `cause: ${String(cause(stuckCtx))}`);
      await assert.rejects(stuck.done);
      assert.equal(r.graceful, false);
      assert.equal(r.cancelled.length, 1);
      assert.equal(r.cancelled[0]!.method, "GET");
      assert.equal(r.cancelled[0]!.url, "/stuck");
      assert.ok(r.cancelled[0]!.runningMs >= 0);
      await settled();
      assert.deepEqual(s.reported, []);
      assert.equal(s.contexts.stats.shutDown, 1);
      assert.equal(s.contexts.stats.completed, 2);
      assert.equal(s.contexts.stats.inFlight, 0);
    });

    it("shutdown with nothing in flight is graceful and resolves without waiting for the grace period", BOUND, async (t) => {
      const s = await serve(t, target, { "/get": { run: () => ({ text: "ok" }) } });
      const idle = s.connect();
      assert.equal((await idle.request({ path: "/get" }).done).status, 200);
      const r = await s.contexts.shutdown(s.running.server, 60_000);
      assert.deepEqual(r, { graceful: true, cancelled: [], upgraded: 0, leftOpen: 0 });
      await idle.closed;
    });
  });
}
