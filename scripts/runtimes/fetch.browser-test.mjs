// The page's own fetch, aborted through ctx.signal (Chromium only: named *.browser-test.mjs, not *.test.mjs, so that
// Node's test run leaves it alone). The core's suite checks this against Node's
// fetch (errors.test: "fetch with ctx.signal against a server that never answers"), but a page cannot start that
// server, so scripts/test-runtimes.mjs serves these endpoints beside the bundles:
//   /never      never answers; the server counts arrivals and closed connections
//   /count?arrived=N&closed=M   answers once at least N requests arrived and M of their connections closed
// so each test waits for the server to see the request (and then the abort) instead of sleeping; a wait that never
// ends fails the test at its timeout.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  background,
  Canceled,
  DeadlineExceeded,
  isCanceled,
  isDeadlineExceeded,
  withCancel,
  withCancelCause,
  withTimeout,
} from "@lifeline/core";
import { assertNoLeaks } from "@lifeline/testing";

let arrived = 0;
let closed = 0;

/** seen waits until the server has seen `a` more requests arrive and `c` more connections close. */
async function seen(a, c) {
  arrived += a;
  closed += c;
  const r = await fetch(`/count?arrived=${arrived}&closed=${closed}`);
  assert.equal(r.status, 200);
}

describe("the page's fetch with ctx.signal against a server that never answers", () => {
  it("rejects with an error for which isCanceled is true when the ctx is cancelled mid-request, and drops the request", { timeout: 10_000 }, async () => {
    const [ctx, cancel] = withCancel(background());
    const response = fetch("/never", { signal: ctx.signal });
    await seen(1, 0);
    cancel();
    await assert.rejects(response, (e) => {
      assert.equal(isCanceled(e), true, `got ${String(e)}`);
      assert.equal(isDeadlineExceeded(e), false);
      return true;
    });
    await seen(0, 1);
    assert.equal(Canceled.name, "AbortError");
  });

  it("rejects with an error for which isCanceled is true when the ctx was cancelled before the call", { timeout: 10_000 }, async () => {
    const [ctx, cancel] = withCancel(background());
    cancel();
    await assert.rejects(fetch("/never", { signal: ctx.signal }), (e) => isCanceled(e));
  });

  it("rejects a fetch on a child ctx when its parent is cancelled, and drops the request", { timeout: 10_000 }, async () => {
    const [parent, cancelParent] = withCancelCause(background());
    const [ctx, cancel] = withCancel(parent);
    const response = fetch("/never", { signal: ctx.signal });
    await seen(1, 0);
    cancelParent(new Error("client went away"));
    await assert.rejects(response, (e) => isCanceled(e));
    await seen(0, 1);
    cancel();
  });

  it("rejects with an error for which isDeadlineExceeded is true when the ctx times out, and drops the request", { timeout: 10_000 }, async () => {
    const [ctx, cancel] = withTimeout(background(), 30);
    try {
      await assert.rejects(fetch("/never", { signal: ctx.signal }), (e) => {
        assert.equal(isDeadlineExceeded(e), true, `got ${String(e)}`);
        assert.equal(isCanceled(e), false);
        return true;
      });
      assert.equal(ctx.err(), DeadlineExceeded);
      await seen(1, 1);
    } finally {
      cancel();
    }
    assert.equal(DeadlineExceeded.name, "TimeoutError");
  });
});

after(() => assertNoLeaks());
