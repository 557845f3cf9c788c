// HttpContexts beyond the shared conformance suite: the request 'close' trap, options, misuse, and edges.
import { after, describe, it, type TestContext } from "node:test";
import { assertNoLeaks, findLeaks, TestScope } from "@lifeline/testing";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { background, cause, DeadlineExceeded, remaining, withCancel, type Context } from "@lifeline/core";
import { HttpContexts, RequestTimeoutError, ResponseCompleted, type HttpContextOptions } from "@lifeline/http";
import { client, deferred, delay, ended, listen, text } from "./support.js";

const BOUND = { timeout: 4000 };

async function serve(
  t: TestContext,
  fn: (ctx: Context, req: IncomingMessage, res: ServerResponse) => unknown,
  options: HttpContextOptions = {},
) {
  const contexts = new HttpContexts({ onError: () => {}, ...options });
  const server = createServer(contexts.handler(fn));
  const c = client("http", await listen(server));
  t.after(async () => {
    c.close();
    await contexts.shutdown(server, 0);
  });
  return { contexts, c };
}

describe("HttpContexts", () => {
  it("the ctx outlives the request's own 'close' event, which fires once the body has been read (nodejs/node#38924)", BOUND, async (t) => {
    const seen = deferred<{ ctx: Context; reqClosed: boolean; err: Error | undefined }>();
    const s = await serve(t, async (ctx, req, res) => {
      const body = await text(req);
      if (!req.closed) await once(req, "close");
      await delay(10); // "not yet"
      seen.resolve({ ctx, reqClosed: req.closed, err: ctx.err() });
      res.end(String(body.length));
    });
    const r = await s.c.request({ method: "POST", path: "/", body: "z".repeat(50_000) }).done;
    assert.equal(r.body, "50000");
    const { ctx, reqClosed, err } = await seen.promise;
    assert.equal(reqClosed, true, "req 'close' fired before the response");
    assert.equal(err, undefined);
    await ended(ctx);
    assert.equal(cause(ctx), ResponseCompleted);
  });

  it("a budget already spent (`timeout-ms: 0`) gives the handler an ended ctx; failing with it answers timeoutStatus", BOUND, async (t) => {
    const seen = deferred<{ ctx: Context; err: Error | undefined }>();
    const s = await serve(
      t,
      (ctx) => {
        seen.resolve({ ctx, err: ctx.err() });
        throw ctx.err(); // the deadline's own answer comes a microtask later (afterFunc): failed() answers
      },
      { timeoutStatus: 504 },
    );
    const r = await s.c.request({ path: "/", headers: { "timeout-ms": "0" } }).done;
    assert.equal(r.status, 504);
    const { ctx, err } = await seen.promise;
    assert.equal(err, DeadlineExceeded, "the handler gets an ended ctx");
    const why = cause(ctx);
    assert.ok(why instanceof RequestTimeoutError);
    assert.equal(why.timeoutMs, 0);
    assert.equal(why.source, "header");
    assert.equal(why.name, "RequestTimeoutError");
    assert.equal(why.message, "request timed out after 0 ms (the caller's budget)");
    assert.equal(String(why), "RequestTimeoutError: request timed out after 0 ms (the caller's budget)");
    assert.ok(why instanceof Error);
    assert.deepEqual(Object.keys(why), ["timeoutMs", "source"]);
  });

  it("RequestTimeoutError is made without stack frames, and leaves Error.stackTraceLimit as it was", () => {
    const limit = Error.stackTraceLimit;
    const e = new RequestTimeoutError(250, "server");
    assert.equal(Error.stackTraceLimit, limit);
    assert.equal(e.stack, "RequestTimeoutError: request timed out after 250 ms (server timeout)");
    assert.equal(new Error("x").stack!.split("\n").length > 1, true, "other errors keep their frames");
  });

  it("a header budget longer than the route's timeout does not extend it", BOUND, async (t) => {
    const left: number[] = [];
    const s = await serve(t, (ctx, _req, res) => (left.push(remaining(ctx)), res.end()), { timeoutMs: 1000 });
    await s.c.request({ path: "/", headers: { "timeout-ms": "60000" } }).done;
    assert.ok(left[0]! <= 1000 && left[0]! > 500, `${left[0]} ms left`);
  });

  it("trustTimeoutHeader: false ignores the budget header", BOUND, async (t) => {
    const deadlines: Array<number | undefined> = [];
    const s = await serve(t, (ctx, _req, res) => (deadlines.push(ctx.deadline()), res.end()), { trustTimeoutHeader: false });
    await s.c.request({ path: "/", headers: { "timeout-ms": "50" } }).done;
    assert.deepEqual(deadlines, [undefined]);
  });

  it("timeoutStatus sets the status of the deadline's answer", BOUND, async (t) => {
    const s = await serve(t, async (ctx) => ended(ctx), { timeoutMs: 20, timeoutStatus: 504 });
    assert.equal((await s.c.request({ path: "/" }).done).status, 504);
    assert.equal(s.contexts.stats.timedOut, 1);
  });

  it("a synchronous throw is handled like a rejection: 500, reported once", BOUND, async (t) => {
    const reported: unknown[] = [];
    const s = await serve(
      t,
      () => {
        throw new RangeError("sync");
      },
      { onError: (e) => reported.push(e) },
    );
    assert.equal((await s.c.request({ path: "/" }).done).status, 500);
    assert.equal(reported.length, 1);
    assert.ok(reported[0] instanceof RangeError);
  });

  describe("misuse throws TypeErrors naming the bad value", () => {
    for (const [name, options] of [
      ["timeoutMs", { timeoutMs: -1 }],
      ["timeoutMs", { timeoutMs: Number.NaN }],
      ["maxTimeoutMs", { maxTimeoutMs: "5" as unknown as number }],
      ["marginMs", { marginMs: -5 }],
    ] as const) {
      it(`${name}: ${JSON.stringify(options)}`, () => {
        assert.throws(() => new HttpContexts(options), { name: "TypeError", message: new RegExp(`HttpContexts: ${name} must be a non-negative number`) });
      });
    }
    it("a constructor that throws leaves no context behind, even under a cancellable parent", async () => {
      const [parent, cancel] = withCancel(background());
      try {
        const scope = new TestScope("throwing constructor");
        scope.run(() => assert.throws(() => new HttpContexts({ parent, timeoutMs: -1 }), { name: "TypeError" }));
        // Still linked into the live parent, a root made before the throw would be a context nobody can cancel.
        assert.deepEqual(await findLeaks(scope, { retryMs: 0 }), []);
      } finally {
        cancel();
      }
    });
    it("handler(fn) with fn not a function", (t) => {
      // No server to shut down: the root hangs off a parent that the test cancels.
      const [parent, cancel] = withCancel(background());
      t.after(cancel);
      assert.throws(() => new HttpContexts({ parent }).handler("nope" as unknown as () => void), {
        name: "TypeError",
        message: "HttpContexts.handler: fn must be a function, got string",
      });
    });
    it("shutdown(server, graceMs) with a negative graceMs", async () => {
      const server = createServer();
      const contexts = new HttpContexts();
      await assert.rejects(contexts.shutdown(server, -1), { name: "TypeError", message: /graceMs must be a non-negative number, got -1/ });
      await contexts.shutdown(server, 0); // the refused call changed nothing: a valid one still ends the root
    });
  });
});

after(() => assertNoLeaks());
