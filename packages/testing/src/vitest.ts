// @lifeline/testing/vitest: the leak check wired into Vitest's hooks.
import { afterAll, afterEach, beforeEach } from "vitest";
import { assertNoLeaks, checkLeaks, snapshot, type LeakOptions, type Snapshot } from "./index.js";

export * from "./index.js";

/**
 * setupLeakCheck registers, for the test file it is called in (call it at the top of the file, or from a
 * `setupFiles` module for every file), a check after each test that fails the test if anything lifeline
 * made during it (from its beforeEach hooks on) is still alive; and one after all tests for what
 * `beforeAll` hooks made. Tests of the file must run one at a time: wrap `test.concurrent` tests with
 * `leakCheck` instead, which attributes by async context.
 */
export function setupLeakCheck(options: LeakOptions = {}): void {
  let base: Snapshot | undefined;
  beforeEach(() => {
    base = snapshot();
  });
  afterEach(async (context) => {
    const mark = base ?? snapshot();
    base = undefined;
    const ignoreExisting =
      options.ignoreExisting !== undefined && options.ignoreExisting.seq > mark.seq ? options.ignoreExisting : mark;
    await checkLeaks({ ...options, test: context.task.name, ignoreExisting });
  });
  afterAll(async () => {
    await assertNoLeaks(options);
  });
}
