// Vitest's fake timers drive lifeline's clock (lifeline reads Date.now() at each use, and a timer started while
// setTimeout is faked takes its own from the fake), and
// @lifeline/testing's own virtual clock works under Vitest too. Every test here passes.
import { afterEach, expect, test, vi } from "vitest";
import { background, Channel, DeadlineExceeded, go, remaining, sleep, withCancel, withTimeout } from "@lifeline/core";
import { setupLeakCheck, withVirtualClock } from "@lifeline/testing/vitest";

setupLeakCheck({ retryMs: 20 });
afterEach(() => void vi.useRealTimers());

test("vi.useFakeTimers drives a 30 s withTimeout", () => {
  vi.useFakeTimers({ now: 1_000_000 });
  const [ctx, cancel] = withTimeout(background(), 30_000);
  expect(remaining(ctx)).toBe(30_000);
  vi.advanceTimersByTime(29_999);
  expect(ctx.err()).toBeUndefined();
  vi.advanceTimersByTime(1);
  expect(ctx.err()).toBe(DeadlineExceeded);
  cancel();
});

test("vi.useFakeTimers drives sleep", async () => {
  vi.useFakeTimers();
  const [ctx, cancel] = withCancel(background());
  const s = sleep(ctx, 2_000);
  await vi.advanceTimersByTimeAsync(2_000);
  await s;
  cancel();
});

test("withVirtualClock under Vitest: a task gives up after 2 s", async () => {
  await withVirtualClock(async (clock) => {
    const [ctx, cancel] = withTimeout(background(), 2_000);
    const task = go(ctx, (ctx) => new Channel<number>().recv(ctx).then(() => "received", (e: unknown) => (e === DeadlineExceeded ? "gave up" : "other")));
    await clock.wait();
    await clock.advance(2_000);
    expect(await task).toBe("gave up");
    cancel();
  });
});
