// The platform's fake timers drive lifeline's clock too: with no virtual clock installed, lifeline reads the time
// with Date.now() at each call, and a timer started while setTimeout is replaced takes its own from the
// replacement (the others share one real setTimeout), so node:test's mock.timers (Date and setTimeout faked)
// moves deadlines, sleep, after and ticker along with everything else it fakes.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { background, DeadlineExceeded, remaining, sleep, ticker, withCancel, withTimeout } from "@lifeline/core";
import { assertNoLeaks } from "@lifeline/testing";

/** hops lets `n` turns of the event loop pass (promise callbacks run) without any timer. */
async function hops(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

describe("node:test mock.timers", () => {
  it("ends a 30 s withTimeout on mock.timers.tick(30_000), and reads its faked Date for remaining()", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
    const [ctx, cancel] = withTimeout(background(), 30_000);
    assert.equal(ctx.deadline(), 1_030_000);
    assert.equal(remaining(ctx), 30_000);
    t.mock.timers.tick(29_999);
    assert.equal(ctx.err(), undefined);
    assert.equal(remaining(ctx), 1);
    t.mock.timers.tick(1);
    assert.equal(ctx.err(), DeadlineExceeded);
    cancel();
    t.mock.timers.reset();
  });

  it("drives sleep and ticker", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: 0 });
    const [ctx, cancel] = withCancel(background());
    try {
      let slept = false;
      const s = sleep(ctx, 500).then(() => (slept = true));
      const ch = ticker(ctx, 100);
      assert.equal(ch.length, 0);
      t.mock.timers.tick(499);
      await hops(3);
      assert.equal(slept, false);
      // A tick arrived (one kept, the rest dropped: nobody received). It carries the faked Date when it fired: Node 20's
      // mock.timers sets Date to the end of the tick (499) before running what is due; a tick is never early.
      const at = ch.tryRecv()?.[0]?.getTime();
      assert.ok(at !== undefined && at >= 100 && at <= 499, `tick at ${at}`);
      t.mock.timers.tick(1);
      await s;
      assert.equal(slept, true);
    } finally {
      cancel();
      t.mock.timers.reset();
    }
  });

  it("leaves deadlines armed before it on the real timer, and those armed after its reset too", async (t) => {
    const [real, cancelReal] = withTimeout(background(), 30);
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const [fake, cancelFake] = withTimeout(background(), 30);
    await real.done().recv(background()); // the real timer, while setTimeout is faked
    assert.equal(real.err(), DeadlineExceeded);
    assert.equal(fake.err(), undefined);
    t.mock.timers.tick(30);
    assert.equal(fake.err(), DeadlineExceeded);
    t.mock.timers.reset();
    const [later, cancelLater] = withTimeout(background(), 20);
    await later.done().recv(background());
    assert.equal(later.err(), DeadlineExceeded);
    cancelReal();
    cancelFake();
    cancelLater();
  });
});

after(() => assertNoLeaks());
