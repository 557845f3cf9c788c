// @lifeline/core on Deno with no permissions at all (`deno run --no-prompt`, no --allow-*): it loads and its
// timers, tasks, channels and select work. The core suite itself runs with --allow-all, since its tests start
// child processes; this file is what catches a core that touches the environment (Deno throws NotCapable on
// reading an env variable without --allow-env). scripts/test-runtimes.mjs runs it after the suite, on Deno only
// (named *.deno-test.mjs, not *.test.mjs, so that Node's test run leaves it alone).
import assert from "node:assert/strict";
import {
  after,
  background,
  captureTaskStacks,
  Channel,
  DeadlineExceeded,
  go,
  recv,
  select,
  sleep,
  ticker,
  withCancel,
  withTimeout,
} from "@lifeline/core";
import { describe, it, run } from "./node-test.mjs";

describe("@lifeline/core on Deno without permissions", () => {
  it("reads no environment: LIFELINE_DEBUG is simply off", () => {
    assert.equal(captureTaskStacks(false), false);
  });

  it("ends a context at its deadline, with DeadlineExceeded", async () => {
    const [ctx, cancel] = withTimeout(background(), 20);
    try {
      const r = await select([recv(ctx.done()), recv(after(60_000))]);
      assert.equal(r.index, 0);
      assert.equal(ctx.err(), DeadlineExceeded);
    } finally {
      cancel();
    }
  });

  it("runs tasks that talk over a channel, and stops a ticker with its ctx", async () => {
    const [ctx, cancel] = withCancel(background());
    try {
      const ch = new Channel(0);
      const producer = go(ctx, async (c) => {
        for (let i = 0; i < 3; i++) await ch.send(c, i);
        ch.close();
      });
      const received = [];
      for (;;) {
        const [value, ok] = await ch.recv(ctx);
        if (!ok) break;
        received.push(value);
      }
      await producer;
      assert.deepEqual(received, [0, 1, 2]);
      const ticks = ticker(ctx, 5);
      await ticks.recv(ctx);
      await sleep(ctx, 1);
    } finally {
      cancel();
    }
  });
});

await run();
