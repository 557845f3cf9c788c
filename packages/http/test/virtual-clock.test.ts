// The request timeout and the shutdown grace period run on lifeline's timers, so @lifeline/testing's virtual clock
// drives them: a real server on 127.0.0.1, real requests, and no real wait for the 2 s or the 5 s.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { background, cause, remaining, type Context } from "@lifeline/core";
import { HttpContexts, RequestTimeoutError } from "@lifeline/http";
import { assertNoLeaks, withVirtualClock } from "@lifeline/testing";
import { client, deferred, listen } from "./support.js";

const BOUND = { timeout: 10_000 };

describe("@lifeline/http under a virtual clock", () => {
  it("answers timeoutStatus once the virtual clock passes a 2 s request timeout, and not before", BOUND, async () => {
    await withVirtualClock(async (clock) => {
      const contexts = new HttpContexts({ timeoutMs: 2_000, timeoutStatus: 504, onError: () => {} });
      const arrived = deferred<{ ctx: Context; budget: number }>();
      const server = createServer(
        contexts.handler(async (ctx) => {
          arrived.resolve({ ctx, budget: remaining(ctx) });
          await ctx.done().recv(background()); // a handler stuck until its deadline
        }),
      );
      const c = client("http", await listen(server));
      try {
        const call = c.request({ path: "/slow" });
        let answered = false;
        void call.head.then(() => (answered = true));
        const { ctx, budget } = await arrived.promise;
        assert.equal(budget, 2_000, "virtual time stands still: the whole budget is left");
        await clock.advance(1_999);
        assert.equal(ctx.err(), undefined);
        assert.equal(answered, false);
        await clock.advance(1);
        const r = await call.done;
        assert.equal(r.status, 504);
        assert.ok(ctx.err() !== undefined);
      } finally {
        c.close();
        await contexts.shutdown(server, 0);
      }
    });
  });

  it("waits the shutdown grace period on the virtual clock, then cancels the request still running", BOUND, async () => {
    await withVirtualClock(async (clock) => {
      const contexts = new HttpContexts({ onError: () => {} });
      const arrived = deferred<Context>();
      const server = createServer(
        contexts.handler(async (ctx, _req, res) => {
          arrived.resolve(ctx);
          await ctx.done().recv(background());
          res.end("stopped");
        }),
      );
      const c = client("http", await listen(server));
      const call = c.request({ path: "/stuck" });
      const ctx = await arrived.promise;
      const shutdown = contexts.shutdown(server, 5_000);
      let finished = false;
      void shutdown.then(() => (finished = true));
      await clock.advance(4_999);
      assert.equal(finished, false);
      assert.equal(ctx.err(), undefined, "still within the grace period");
      await clock.advance(1);
      const report = await shutdown;
      assert.equal(report.graceful, false);
      assert.deepEqual(
        report.cancelled.map((x) => x.url),
        ["/stuck"],
      );
      assert.ok(ctx.err() !== undefined);
      await call.done.catch(() => {}); // the connection was closed under it
      c.close();
    });
  });

  it("a request timeout's cause names the 2 s budget", BOUND, async () => {
    await withVirtualClock(async (clock) => {
      const contexts = new HttpContexts({ timeoutMs: 2_000, onError: () => {} });
      const arrived = deferred<Context>();
      const server = createServer(
        contexts.handler(async (ctx) => {
          arrived.resolve(ctx);
          await ctx.done().recv(background());
        }),
      );
      const c = client("http", await listen(server));
      try {
        const call = c.request({ path: "/" });
        const ctx = await arrived.promise;
        await clock.advance(2_000);
        await call.done;
        const why = cause(ctx);
        assert.ok(why instanceof RequestTimeoutError);
        assert.equal(why.timeoutMs, 2_000);
      } finally {
        c.close();
        await contexts.shutdown(server, 0);
      }
    });
  });
});

after(() => assertNoLeaks());
