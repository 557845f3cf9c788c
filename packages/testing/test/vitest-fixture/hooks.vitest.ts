// setupLeakCheck: a check after each test. "clean" passes; each "leaks …" test fails with a LeakError.
import { afterAll, beforeAll, test, vi } from "vitest";
import { background, Channel, go, ticker, withCancel, type CancelFunc, type Context } from "@lifeline/core";
import { setupLeakCheck } from "@lifeline/testing/vitest";

setupLeakCheck({ retryMs: 20 });

// Made before the tests and ended after them all: not any test's leak.
let root: Context;
let stop: CancelFunc;
beforeAll(() => {
  [root, stop] = withCancel(background());
});
afterAll(() => [vi.useRealTimers(), stop()]); // the last test's fake timers stay on until here (after its check)

test("clean", async () => {
  const [ctx, cancel] = withCancel(root);
  await go(ctx, () => 1);
  cancel();
});

test("leaks a ticker", () => {
  ticker(root, 100); // LEAK-SITE ticker
});

test("leaks a task", async () => {
  const ch = new Channel<number>(0);
  go(root, (ctx) => ch.recv(ctx), { name: "vitest-never-fed" }).then(undefined, () => {}); // LEAK-SITE task
  await new Promise((r) => setTimeout(r, 5));
});

test("clean after a leaky one", () => {
  const [, cancel] = withCancel(root);
  cancel();
});

// Last: its fake timers stay installed while setupLeakCheck's afterEach runs (until afterAll above).
test("leaks a context under fake timers", () => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setImmediate", "clearImmediate", "Date", "performance"] });
  withCancel(root); // LEAK-SITE fake timers
});
