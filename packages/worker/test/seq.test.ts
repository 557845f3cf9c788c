import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { assertNoLeaks } from "@lifeline/testing";
// The task numbering is the pool's own (no public handle reaches 2^31 tasks in a test): tested directly.
import { seqAfter } from "../dist/internal/wire.js";

describe("task numbers", () => {
  it("fit the Int32Array slot a synchronous loop reads its end from, past 2^31 tasks too", () => {
    // The pool stores the seq of the task whose context ended in an Int32Array; the worker compares it with its
    // task's seq. A seq of 2^31 or more is stored wrapped (2^31 reads back as -2^31) and never matches: from then
    // on a CPU loop never sees its context end, and every stop waits out the grace and terminates the thread.
    const slot = new Int32Array(new SharedArrayBuffer(4));
    let seq = 2 ** 31 - 3;
    for (let i = 0; i < 5; i++) {
      seq = seqAfter(seq);
      assert.ok(seq >= 1, `seq ${seq} is never 0 (an unset slot)`);
      Atomics.store(slot, 0, seq);
      assert.equal(Atomics.load(slot, 0), seq);
    }
    assert.equal(seqAfter(0), 1);
  });
});

after(() => assertNoLeaks());
