import { after as afterAllTests, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { setImmediate as nextTurn } from "node:timers/promises";
import {
  after,
  background,
  Canceled,
  Channel,
  recv,
  select,
  DeadlineExceeded,
  ticker,
  withCancel,
  withTimeout,
  type CancelFunc,
  type Context,
  type Key,
  type ReceiveChannel,
} from "@lifeline/core";
import { cancellable, closedError, endedContexts, exactly, loseNoValueToCancel, track } from "./support.js";

// ---- helpers ---------------------------------------------------------------------------------------------------

/** ending returns a live context and a function that ends it, and the error it ends with. */
const endingContexts: [name: string, make: () => [Context, () => Promise<void>, CancelFunc], err: Error][] = [
  [
    "cancelled",
    () => {
      const [ctx, cancel] = withCancel(background());
      return [ctx, async () => cancel(), cancel];
    },
    Canceled,
  ],
  [
    "past its deadline",
    () => {
      const [ctx, cancel] = withTimeout(background(), 5);
      // Waits for the deadline itself. Deadline timers are unref'd by design, so the after() case (a ref'd
      // timer while it waits) keeps the test process alive meanwhile; it also bounds the wait.
      const end = async (): Promise<void> => {
        const r = await select([recv(ctx.done()), recv(after(10_000))]);
        assert.equal(r.index, 0, "the deadline fired");
      };
      return [ctx, end, cancel];
    },
    DeadlineExceeded,
  ],
];

// ---- construction and misuse ------------------------------------------------------------------------------------

describe("new Channel", () => {
  it("is unbuffered by default: capacity 0 and length 0", () => {
    const ch = new Channel<number>();
    assert.equal(ch.capacity, 0);
    assert.equal(ch.length, 0);
  });

  it("keeps the capacity it was given", () => {
    assert.equal(new Channel<number>(3).capacity, 3);
  });

  for (const bad of [-1, 1.5, NaN, Infinity, "2", null]) {
    it(`throws a TypeError naming Channel for capacity ${String(bad)} (${typeof bad})`, () => {
      assert.throws(() => new Channel<number>(bad as number), (e: unknown) => {
        assert.ok(e instanceof TypeError);
        assert.match(e.message, /Channel/);
        return true;
      });
    });
  }
});

describe("Channel with a value that is not a Context", () => {
  const bads: [string, unknown][] = [
    ["undefined", undefined],
    ["null", null],
    ["a plain object", {}],
    ["an AbortSignal", new AbortController().signal],
  ];
  for (const [name, bad] of bads) {
    it(`rejects recv(${name}) with a TypeError`, async () => {
      const ch = new Channel<number>(1);
      ch.trySend(1);
      await assert.rejects(async () => ch.recv(bad as Context), TypeError);
      assert.deepEqual(ch.tryRecv(), [1, true], "the value is still there");
    });
    it(`rejects send(${name}, v) with a TypeError`, async () => {
      const ch = new Channel<number>(1);
      await assert.rejects(async () => ch.send(bad as Context, 1), TypeError);
      assert.equal(ch.tryRecv(), undefined, "nothing was sent");
    });
  }
});

// ---- unbuffered -------------------------------------------------------------------------------------------------

describe("unbuffered Channel", () => {
  it("send resolves only once a receiver took the value", async (t) => {
    const [ctx] = cancellable(t);
    const ch = new Channel<string>();
    const sent = track(ch.send(ctx, "a"));
    await nextTurn();
    assert.equal(sent.state, "pending", "no receiver yet");
    assert.equal(ch.length, 0, "an unbuffered channel never holds a value");
    assert.deepEqual(await ch.recv(ctx), ["a", true]);
    await nextTurn();
    assert.equal(sent.state, "fulfilled");
  });

  it("recv waits for a sender and resolves with its value", async (t) => {
    const [ctx] = cancellable(t);
    const ch = new Channel<string>();
    const got = track(ch.recv(ctx));
    await nextTurn();
    assert.equal(got.state, "pending");
    assert.equal(ch.trySend("b"), true, "a receiver is waiting");
    await nextTurn();
    assert.deepEqual(got.value, ["b", true]);
  });

  it("trySend returns false when no receiver waits and sends nothing", () => {
    const ch = new Channel<number>();
    assert.equal(ch.trySend(1), false);
    assert.equal(ch.tryRecv(), undefined);
    assert.equal(ch.length, 0);
  });

  it("tryRecv returns undefined when no sender waits, and takes from a waiting sender", async (t) => {
    const [ctx] = cancellable(t);
    const ch = new Channel<number>();
    assert.equal(ch.tryRecv(), undefined);
    const sent = ch.send(ctx, 9);
    assert.deepEqual(ch.tryRecv(), [9, true]);
    await sent;
    assert.equal(ch.tryRecv(), undefined, "the value was taken once");
  });
});

// ---- buffered ---------------------------------------------------------------------------------------------------

describe("buffered Channel", () => {
  it("send completes at once while there is room; trySend returns false when full", async (t) => {
    const [ctx] = cancellable(t);
    const ch = new Channel<number>(2);
    await ch.send(ctx, 1);
    assert.equal(ch.trySend(2), true);
    assert.equal(ch.length, 2);
    assert.equal(ch.trySend(3), false);
    assert.equal(ch.length, 2, "the refused value is not buffered");
    assert.deepEqual([ch.tryRecv(), ch.tryRecv(), ch.tryRecv()], [[1, true], [2, true], undefined]);
  });

  it("a waiting sender's value takes the slot freed by a receive, in order", async (t) => {
    const [ctx] = cancellable(t);
    const ch = new Channel<number>(2);
    ch.trySend(1);
    ch.trySend(2);
    const sent = track(ch.send(ctx, 3));
    await nextTurn();
    assert.equal(sent.state, "pending", "the buffer is full");
    assert.deepEqual(await ch.recv(ctx), [1, true]);
    assert.equal(ch.length, 2, "3 moved into the buffer");
    await nextTurn();
    assert.equal(sent.state, "fulfilled");
    assert.deepEqual(await ch.recv(ctx), [2, true]);
    assert.deepEqual(await ch.recv(ctx), [3, true]);
    assert.equal(ch.length, 0);
  });

  it("keeps FIFO order over many fills and partial drains", () => {
    const ch = new Channel<number>(3000);
    const out: number[] = [];
    let next = 0;
    for (let round = 0; round < 10; round++) {
      while (ch.trySend(next)) next++;
      assert.equal(ch.length, 3000);
      for (let k = 0; k < 1700; k++) out.push(ch.tryRecv()![0] as number);
    }
    for (let r = ch.tryRecv(); r !== undefined; r = ch.tryRecv()) out.push(r[0] as number);
    assert.deepEqual(out, Array.from({ length: next }, (_, i) => i));
  });
});

// ---- close ------------------------------------------------------------------------------------------------------

describe("Channel.close", () => {
  it("gives every waiting receiver [undefined, false]", async (t) => {
    const [ctx] = cancellable(t);
    const ch = new Channel<number>();
    const waiting = [ch.recv(ctx), ch.recv(ctx), ch.recv(ctx)];
    ch.close();
    assert.deepEqual(await Promise.all(waiting), [
      [undefined, false],
      [undefined, false],
      [undefined, false],
    ]);
  });

  for (const capacity of [0, 1]) {
    it(`rejects every waiting sender with ChannelClosedError "send on closed channel" (capacity ${capacity})`, async (t) => {
      const [ctx] = cancellable(t);
      const ch = new Channel<number>(capacity);
      if (capacity > 0) ch.trySend(0);
      const waiting = [ch.send(ctx, 1), ch.send(ctx, 2)];
      ch.close();
      for (const p of waiting) await assert.rejects(p, closedError("send on closed channel"));
      assert.deepEqual(ch.tryRecv(), capacity > 0 ? [0, true] : [undefined, false], "no rejected value got in");
      assert.deepEqual(ch.tryRecv(), [undefined, false]);
    });
  }

  it("lets buffered values drain, then receives give [undefined, false]", async (t) => {
    const [ctx] = cancellable(t);
    const ch = new Channel<number>(3);
    ch.trySend(1);
    ch.trySend(2);
    ch.close();
    assert.equal(ch.length, 2);
    assert.deepEqual(await ch.recv(ctx), [1, true]);
    assert.deepEqual(ch.tryRecv(), [2, true]);
    assert.deepEqual(await ch.recv(ctx), [undefined, false]);
    assert.deepEqual(ch.tryRecv(), [undefined, false], "closed is ready: tryRecv is not undefined");
  });

  it("makes send reject and trySend throw ChannelClosedError", async (t) => {
    const [ctx] = cancellable(t);
    const ch = new Channel<number>(1);
    ch.close();
    await assert.rejects(ch.send(ctx, 1), closedError("send on closed channel"));
    assert.throws(() => ch.trySend(1), closedError("send on closed channel"));
    assert.equal(ch.length, 0);
  });

  it('throws ChannelClosedError "close of closed channel" the second time', () => {
    const ch = new Channel<number>();
    ch.close();
    assert.throws(() => ch.close(), closedError("close of closed channel"));
  });

  it("ends for await after every value has been yielded", async (t) => {
    const [ctx] = cancellable(t);
    const ch = new Channel<number>();
    const producer = (async () => {
      for (let i = 1; i <= 5; i++) await ch.send(ctx, i);
      ch.close();
    })();
    const seen: number[] = [];
    for await (const v of ch) seen.push(v);
    await producer;
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  });

  it("ends for await at once on a channel closed and drained", async () => {
    const ch = new Channel<number>(2);
    ch.trySend(7);
    ch.close();
    const seen: number[] = [];
    for await (const v of ch) seen.push(v);
    assert.deepEqual(seen, [7]);
  });
});

// ---- FIFO -------------------------------------------------------------------------------------------------------

describe("Channel waiters", () => {
  it("serves waiting receivers in arrival order", async (t) => {
    const [ctx] = cancellable(t);
    const ch = new Channel<string>();
    const waiting = ["first", "second", "third", "fourth"].map(() => ch.recv(ctx));
    for (const v of ["a", "b", "c", "d"]) assert.equal(ch.trySend(v), true);
    assert.deepEqual(
      (await Promise.all(waiting)).map(([v]) => v),
      ["a", "b", "c", "d"],
    );
  });

  for (const capacity of [0, 2]) {
    it(`serves waiting senders in arrival order (capacity ${capacity})`, async (t) => {
      const [ctx] = cancellable(t);
      const ch = new Channel<number>(capacity);
      const pre = Array.from({ length: capacity }, (_, i) => -capacity + i);
      for (const v of pre) ch.trySend(v);
      const sends = [1, 2, 3, 4].map((v) => ch.send(ctx, v));
      const got: number[] = [];
      for (let i = 0; i < pre.length + 4; i++) got.push((await ch.recv(ctx))[0] as number);
      await Promise.all(sends);
      assert.deepEqual(got, [...pre, 1, 2, 3, 4]);
    });
  }

  it("skips a receiver that gave up: the next in line gets the value", async (t) => {
    const [ctx] = cancellable(t);
    const [quitter, quit] = withCancel(background());
    const ch = new Channel<string>();
    const first = ch.recv(ctx);
    const second = ch.recv(quitter);
    const third = ch.recv(ctx);
    quit();
    await assert.rejects(second, exactly(Canceled));
    assert.equal(ch.trySend("x"), true);
    assert.equal(ch.trySend("y"), true);
    assert.equal(ch.trySend("z"), false, "no receiver is left");
    assert.deepEqual(await first, ["x", true]);
    assert.deepEqual(await third, ["y", true]);
  });

  for (const gone of [0, 1, 2]) {
    it(`serves the others in order when receiver ${gone} of 3 gave up (head, middle, tail of the queue)`, async (t) => {
      const [ctx] = cancellable(t);
      const [quitter, quit] = withCancel(background());
      const ch = new Channel<number>();
      const waits = [0, 1, 2].map((i) => ch.recv(i === gone ? quitter : ctx));
      quit();
      await assert.rejects(waits[gone]!, exactly(Canceled));
      assert.deepEqual([ch.trySend(10), ch.trySend(11), ch.trySend(12)], [true, true, false]);
      assert.deepEqual(await Promise.all(waits.filter((_, i) => i !== gone)), [[10, true], [11, true]]);
      const late = ch.recv(ctx); // the queue is empty and usable again
      assert.equal(ch.trySend(13), true);
      assert.deepEqual(await late, [13, true]);
    });

    it(`ends the other waits under ctx when wait ${gone} of 3 was served first (first, middle, last to listen)`, async () => {
      const [ctx, cancel] = withCancel(background());
      const chans = [0, 1, 2].map(() => new Channel<number>());
      const waits = chans.map((ch) => ch.recv(ctx));
      assert.equal(chans[gone]!.trySend(1), true);
      assert.deepEqual(await waits[gone], [1, true]);
      cancel();
      for (const [i, w] of waits.entries()) if (i !== gone) await assert.rejects(w, exactly(Canceled));
      assert.deepEqual(chans.map((ch) => ch.trySend(2)), [false, false, false], "no waiter is left on any channel");
    });
  }

  it("skips a sender that gave up: its value is never received", async (t) => {
    const [ctx] = cancellable(t);
    const [quitter, quit] = withCancel(background());
    const ch = new Channel<string>();
    const first = ch.send(ctx, "x");
    const second = ch.send(quitter, "lost");
    const third = ch.send(ctx, "y");
    quit();
    await assert.rejects(second, exactly(Canceled));
    assert.deepEqual([ch.tryRecv(), ch.tryRecv(), ch.tryRecv()], [["x", true], ["y", true], undefined]);
    await Promise.all([first, third]);
  });
});

// ---- context ----------------------------------------------------------------------------------------------------

describe("Channel with an ended ctx", () => {
  for (const [name, make, err] of endedContexts) {
    it(`recv on ${name} rejects with ctx.err() and leaves a buffered value`, async () => {
      const ch = new Channel<number>(1);
      ch.trySend(1);
      await assert.rejects(ch.recv(make()), exactly(err));
      assert.deepEqual(ch.tryRecv(), [1, true]);
    });

    it(`recv on ${name} rejects and leaves a waiting sender waiting`, async (t) => {
      const [live] = cancellable(t);
      const ch = new Channel<number>();
      const sent = track(ch.send(live, 2));
      await assert.rejects(ch.recv(make()), exactly(err));
      await nextTurn();
      assert.equal(sent.state, "pending");
      assert.deepEqual(ch.tryRecv(), [2, true]);
      await nextTurn();
      assert.equal(sent.state, "fulfilled");
    });

    it(`recv on ${name} rejects even on a closed channel`, async () => {
      const ch = new Channel<number>();
      ch.close();
      await assert.rejects(ch.recv(make()), exactly(err));
    });

    it(`send on ${name} rejects with ctx.err() and sends nothing, even to a waiting receiver`, async (t) => {
      const [live] = cancellable(t);
      const ch = new Channel<number>();
      const got = track(ch.recv(live));
      await assert.rejects(ch.send(make(), 3), exactly(err));
      await nextTurn();
      assert.equal(got.state, "pending", "the receiver still waits");
      assert.equal(ch.trySend(4), true);
      await nextTurn();
      assert.deepEqual(got.value, [4, true]);
    });

    it(`send on ${name} rejects and buffers nothing when there is room`, async () => {
      const ch = new Channel<number>(1);
      await assert.rejects(ch.send(make(), 3), exactly(err));
      assert.equal(ch.length, 0);
      assert.equal(ch.tryRecv(), undefined);
    });
  }
});

describe("Channel with a ctx that ends while waiting", () => {
  for (const [name, make, err] of endingContexts) {
    it(`recv rejects with ctx.err() when ctx is ${name}, and the later value goes to the next receiver`, async (t) => {
      const [ctx, end, cancel] = make();
      t.after(cancel);
      const [live] = cancellable(t);
      const ch = new Channel<number>();
      const lost = ch.recv(ctx);
      await end();
      await assert.rejects(lost, exactly(err));
      assert.equal(ch.trySend(1), false, "the receiver that gave up no longer waits");
      const sent = ch.send(live, 1);
      assert.deepEqual(await ch.recv(live), [1, true]);
      await sent;
    });

    it(`send rejects with ctx.err() when ctx is ${name}, and leaves nothing in an unbuffered channel`, async (t) => {
      const [ctx, end, cancel] = make();
      t.after(cancel);
      const ch = new Channel<number>();
      const lost = ch.send(ctx, 1);
      await end();
      await assert.rejects(lost, exactly(err));
      assert.equal(ch.tryRecv(), undefined);
    });

    it(`send rejects with ctx.err() when ctx is ${name}, and leaves a full buffer as it was`, async (t) => {
      const [ctx, end, cancel] = make();
      t.after(cancel);
      const ch = new Channel<number>(1);
      ch.trySend(0);
      const lost = ch.send(ctx, 1);
      await end();
      await assert.rejects(lost, exactly(err));
      assert.deepEqual([ch.tryRecv(), ch.tryRecv()], [[0, true], undefined]);
    });
  }

  it("recv that already got its value resolves with it, even if ctx is cancelled right after", async () => {
    const [ctx, cancel] = withCancel(background());
    const ch = new Channel<number>();
    const got = ch.recv(ctx);
    assert.equal(ch.trySend(5), true);
    cancel();
    assert.deepEqual(await got, [5, true]);
  });

  it("send whose value was taken resolves, even if ctx is cancelled right after", async () => {
    const [ctx, cancel] = withCancel(background());
    const ch = new Channel<number>();
    const sent = ch.send(ctx, 6);
    assert.deepEqual(ch.tryRecv(), [6, true]);
    cancel();
    await sent;
  });

  it("recv works with a context implemented by the user", async () => {
    const controller = new AbortController();
    let err: Error | undefined = undefined;
    const custom: Context = {
      deadline: () => undefined,
      done: () => background().done(),
      err: () => err,
      value: <T>(_key: Key<T>): T | undefined => undefined,
      signal: controller.signal,
    };
    const ch = new Channel<number>();
    const lost = ch.recv(custom);
    err = Canceled;
    controller.abort(Canceled);
    await assert.rejects(lost, exactly(Canceled));
    assert.equal(ch.trySend(1), false, "the receiver no longer waits");
  });
});

// ---- receive-only channels --------------------------------------------------------------------------------------

describe("receive-only channels", () => {
  const channels: [string, (ctx: Context) => ReceiveChannel<unknown>][] = [
    ["a context's done()", (ctx) => withCancel(ctx)[0].done()],
    ["background().done()", () => background().done()],
    ["after(ms)", () => after(60_000)],
    ["ticker(ctx, ms)", (ctx) => ticker(ctx, 60_000)],
  ];
  const ops: [string, (ch: Channel<unknown>, ctx: Context) => unknown][] = [
    ["send", (ch, ctx) => ch.send(ctx, 1)],
    ["trySend", (ch) => ch.trySend(1)],
    ["close", (ch) => ch.close()],
  ];
  for (const [name, make] of channels) {
    for (const [op, run] of ops) {
      it(`${op} on ${name} throws a TypeError and changes nothing`, async (t) => {
        const [ctx] = cancellable(t);
        const ch = make(ctx);
        assert.ok(ch instanceof Channel);
        await assert.rejects(async () => run(ch, ctx), TypeError);
        assert.equal(ch.tryRecv(), undefined, "nothing was sent and the channel is not closed");
      });
    }
  }

  it("a context's done() is closed when the context ends", async () => {
    const [ctx, cancel] = withCancel(background());
    const done = ctx.done();
    assert.equal(ctx.done(), done, "the same channel on every call");
    assert.equal(done.tryRecv(), undefined);
    const waiting = done.recv(background());
    cancel();
    assert.deepEqual(await waiting, [undefined, false]);
    assert.deepEqual(done.tryRecv(), [undefined, false]);
  });
});

// ---- stress -----------------------------------------------------------------------------------------------------

describe("Channel.recv losing to cancellation", () => {
  it("loses no value over 1000 random interleavings", async (t) => {
    const [live] = cancellable(t);
    await loseNoValueToCancel(live, 0x5eed, (ch, ctx) =>
      ch.recv(ctx).then(
        ([v]) => v,
        (e: unknown) => {
          assert.equal(e, Canceled);
          return undefined;
        },
      ),
    );
  });
});

describe("Channel.range(ctx): a cancellable for-range (issue 9)", () => {
  it("yields every value in order and ends when the channel is closed and drained", async (t) => {
    const [ctx] = cancellable(t);
    const ch = new Channel<number>(3);
    for (const v of [1, 2, 3]) ch.trySend(v);
    ch.close();
    const got: number[] = [];
    for await (const v of ch.range(ctx)) got.push(v);
    assert.deepEqual(got, [1, 2, 3]);
  });

  it("throws ctx.err() when ctx ends while it waits, consuming nothing", async () => {
    const [ctx, cancel] = withCancel(background());
    const ch = new Channel<number>(1);
    ch.trySend(1);
    const got: number[] = [];
    const loop = (async () => {
      for await (const v of ch.range(ctx)) got.push(v);
    })();
    const state = track(loop);
    while (got.length === 0) await nextTurn();
    assert.equal(state.state, "pending", "it waits for the next value");
    cancel();
    await assert.rejects(loop, exactly(Canceled));
    assert.deepEqual(got, [1]);
    assert.equal(ch.trySend(2), true, "no receiver was left behind (the buffer took it)");
    assert.deepEqual(ch.tryRecv(), [2, true]);
  });

  it("throws ctx.err() at the first step when ctx has already ended, leaving buffered values", async () => {
    for (const [name, make, err] of endedContexts) {
      const ch = new Channel<string>(1);
      ch.trySend("kept");
      const it = ch.range(make())[Symbol.asyncIterator]();
      await assert.rejects(it.next(), exactly(err), name);
      assert.deepEqual(ch.tryRecv(), ["kept", true], name);
    }
  });

  it("ends with DeadlineExceeded on a deadline", async () => {
    const [ctx, cancel] = withTimeout(background(), 20);
    try {
      const ch = new Channel<number>();
      await assert.rejects(
        (async () => {
          for await (const _ of ch.range(ctx)) assert.fail("nothing was sent");
        })(),
        exactly(DeadlineExceeded),
      );
    } finally {
      cancel();
    }
  });

  it("leaves no waiter behind when the loop is left early", async (t) => {
    const [ctx] = cancellable(t);
    const ch = new Channel<number>();
    const sent = ch.send(ctx, 1);
    for await (const v of ch.range(ctx)) {
      assert.equal(v, 1);
      break;
    }
    await sent;
    assert.equal(ch.trySend(2), false, "no receiver is parked on the unbuffered channel");
  });

  it("throws a TypeError naming Channel.range at the call for a bad ctx", () => {
    assert.throws(() => new Channel<number>().range(undefined as unknown as Context), (e: unknown) => {
      assert.ok(e instanceof TypeError && e.message.startsWith("Channel.range: ctx must be a Context"), String(e));
      return true;
    });
  });
});

afterAllTests(() => assertNoLeaks());
