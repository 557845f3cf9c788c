import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { background, blockOn, go, withCancel } from "@lifeline/core";
import { deferred } from "./support.js";

describe("blockOn", () => {
  it("shows the task as blocked on `what` until the promise settles, and returns its value", async () => {
    const d = deferred<number>();
    const entered = deferred<void>();
    const t = go(background(), async (ctx) => {
      const p = blockOn(ctx, "worker run", d.promise);
      entered.resolve();
      return await p;
    });
    await entered.promise;
    assert.equal(t.state, "blocked");
    assert.equal(t.blockedOn, "worker run");
    d.resolve(7);
    assert.equal(await t, 7);
    assert.equal(t.state, "done");
  });

  it("passes a rejection through and unblocks the task", async () => {
    const d = deferred<number>();
    const boom = new Error("boom");
    const t = go(background(), (ctx) => blockOn(ctx, "process wait", d.promise));
    await Promise.resolve();
    await Promise.resolve();
    assert.equal(t.blockedOn, "process wait");
    d.reject(boom);
    await assert.rejects(Promise.resolve(t), (e) => e === boom);
  });

  it("does not end the wait when the context ends: the caller settles it", async () => {
    const [ctx, cancel] = withCancel(background());
    const d = deferred<string>();
    const p = blockOn(ctx, "worker run", d.promise);
    cancel();
    let settled = false;
    void p.then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, false);
    d.resolve("stopped");
    assert.equal(await p, "stopped");
  });

  it("rejects bad input with a TypeError naming the argument", () => {
    assert.throws(() => blockOn(undefined as never, "x", Promise.resolve()), /blockOn: ctx must be a Context, got `undefined`/);
    assert.throws(() => blockOn(background(), 3 as never, Promise.resolve()), /blockOn: what must be a string/);
    assert.throws(() => blockOn(background(), "x", 3 as never), /blockOn: promise must be a promise/);
  });
});

after(() => assertNoLeaks());
