import { after as afterAllTests, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import {
  after,
  background,
  Canceled,
  Channel,
  recv,
  select,
  send,
  trySelect,
  withCancel,
  type ReceiveChannel,
  type SelectCase,
  type SendChannel,
} from "@lifeline/core";
import {
  cancellable,
  cancelled,
  closedError,
  loseNoValueToCancel,
  prng,
  runScript,
  ticks,
  track,
  typeErrorNaming,
} from "./support.js";

// ---- basics -----------------------------------------------------------------------------------------------------

describe("select", () => {
  it("resolves with the index, value and ok of a ready receive case", async () => {
    const idle = new Channel<number>();
    const ready = new Channel<string>(1);
    ready.trySend("hello");
    assert.deepEqual(await select([recv(idle), recv(ready)]), { index: 1, value: "hello", ok: true });
    assert.equal(ready.length, 0);
  });

  it("waits until a case becomes ready", async () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    const r = select([recv(a), recv(b)]);
    const state = track(r);
    await nextTurn();
    assert.equal(state.state, "pending");
    assert.equal(b.trySend(2), true, "the select waits on b");
    assert.deepEqual(await r, { index: 1, value: 2, ok: true });
  });

  it("reports ok false for the receive case of a closed channel", async () => {
    const idle = new Channel<number>();
    const closed = new Channel<number>();
    closed.close();
    assert.deepEqual(await select([recv(idle), recv(closed)]), { index: 1, value: undefined, ok: false });
  });

  it("fires recv(ctx.done()) with ok false when the context ends while waiting", async () => {
    const [ctx, cancel] = withCancel(background());
    const idle = new Channel<number>();
    const r = select([recv(idle), recv(ctx.done())]);
    cancel();
    assert.deepEqual(await r, { index: 1, value: undefined, ok: false });
    assert.equal(idle.trySend(1), false, "no waiter left on the other channel");
  });

  it("fires recv(after(ms)) with the time", async () => {
    const idle = new Channel<number>();
    const before = Date.now();
    const r = await select([recv(idle), recv(after(5))]);
    assert.equal(r.index, 1);
    assert.equal(r.ok, true);
    assert.ok(r.value instanceof Date);
    assert.ok(r.value.getTime() >= before + 5, "not before its time");
  });

  it("a send case that wins delivers its value to a waiting receiver", async (t) => {
    const [ctx] = cancellable(t);
    const out = new Channel<number>();
    const got = out.recv(ctx);
    const idle = new Channel<number>();
    assert.deepEqual(await select([recv(idle), send(out, 42)]), { index: 1, value: undefined, ok: true });
    assert.deepEqual(await got, [42, true]);
  });

  it("a waiting send case delivers its value to the receiver that comes", async (t) => {
    const [ctx] = cancellable(t);
    const out = new Channel<number>();
    const idle = new Channel<number>();
    const r = track(select([recv(idle), send(out, 43)]));
    await nextTurn();
    assert.equal(r.state, "pending", "no receiver yet");
    assert.deepEqual(await out.recv(ctx), [43, true]);
    await nextTurn();
    assert.deepEqual(r.value, { index: 1, value: undefined, ok: true });
    assert.equal(idle.trySend(1), false, "no waiter left on the other channel");
  });

  it("a send case fills a buffer with room", async () => {
    const out = new Channel<string>(1);
    assert.deepEqual(await select([send(out, "v")]), { index: 0, value: undefined, ok: true });
    assert.deepEqual(out.tryRecv(), ["v", true]);
  });

  it("a send case on a closed channel rejects with ChannelClosedError", async () => {
    const closed = new Channel<number>();
    closed.close();
    await assert.rejects(select([send(closed, 1)]), closedError("send on closed channel"));
  });

  it("a waiting send case rejects with ChannelClosedError when its channel is closed", async () => {
    const out = new Channel<number>();
    const idle = new Channel<number>();
    const r = select([recv(idle), send(out, 1)]);
    out.close();
    await assert.rejects(r, closedError("send on closed channel"));
    assert.equal(idle.trySend(1), false, "no waiter left on the other channel");
  });

  it("a waiting receive case reports ok false when its channel is closed", async () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    const r = select([recv(a), recv(b)]);
    a.close();
    assert.deepEqual(await r, { index: 0, value: undefined, ok: false });
    assert.equal(b.trySend(1), false);
  });

  it("does not pair a send case with a receive case of the same select", async (t) => {
    const [ctx] = cancellable(t);
    const ch = new Channel<number>();
    const r = track(select([send(ch, 1), recv(ch)]));
    await nextTurn();
    assert.equal(r.state, "pending");
    assert.deepEqual(await ch.recv(ctx), [1, true]);
    await nextTurn();
    assert.deepEqual(r.value, { index: 0, value: undefined, ok: true });
    assert.equal(ch.trySend(2), false, "its receive case left with it");
  });

  it("serves several waiting selects on one channel in arrival order", async () => {
    const ch = new Channel<number>();
    const idle = new Channel<number>();
    const first = select([recv(idle), recv(ch)]);
    const second = select([recv(ch), recv(idle)]);
    const third = select([recv(ch)]);
    for (const v of [1, 2, 3]) assert.equal(ch.trySend(v), true);
    assert.deepEqual(
      (await Promise.all([first, second, third])).map((r) => r.value),
      [1, 2, 3],
    );
  });
});

// ---- misuse -----------------------------------------------------------------------------------------------------

function describeValue(v: unknown): string {
  return v === undefined ? "undefined" : (v as object).constructor === Object ? `a plain object (${Object.keys(v as object).join(", ") || "empty"})` : String(v);
}

describe("select and trySelect with bad cases", () => {
  const ch = new Channel<number>();
  const bads: [string, unknown][] = [
    ["an empty array", []],
    ["undefined", undefined],
    ["a channel instead of an array", ch],
    ["a channel instead of a case", [ch]],
    ["an empty object", [{}]],
    ["null", [null]],
    ["a case with a fake channel", [{ op: "recv", channel: { recv() {}, tryRecv() {} } }]],
    ["a case with an unknown op", [{ op: "peek", channel: ch }]],
    ["a good case followed by a bad one", [recv(ch), { op: "send" }]],
  ];
  for (const [name, bad] of bads) {
    it(`select throws a TypeError naming select for ${name}`, () => {
      assert.throws(() => select(bad as SelectCase[]), typeErrorNaming("select"));
    });
    it(`trySelect throws a TypeError naming trySelect for ${name}`, () => {
      assert.throws(() => trySelect(bad as SelectCase[]), typeErrorNaming("trySelect"));
    });
  }

  // A hand-written ReceiveChannel does not type-check (the interface is branded) and is refused at the call.
  const handWritten = { recv: () => Promise.resolve([1, true]), tryRecv: () => undefined, length: 0, capacity: 0 };
  for (const bad of [undefined, {}, new AbortController().signal, handWritten]) {
    it(`recv() and send() throw a TypeError for ${describeValue(bad)}`, () => {
      assert.throws(() => recv(bad as Channel<number>), typeErrorNaming("recv"));
      assert.throws(() => send(bad as Channel<number>, 1), typeErrorNaming("send"));
    });
  }

  it("a send case on a context's done() (receive-only) throws a TypeError and sends nothing", async (t) => {
    const [ctx] = cancellable(t);
    const done = ctx.done() as unknown as SendChannel<never> & Channel<never>;
    const waiting = track(done.recv(background())); // a receiver waits, so the send would otherwise be ready
    assert.throws(() => trySelect([send(done, undefined as never)]), TypeError);
    await nextTurn();
    assert.equal(waiting.state, "pending", "the receiver got nothing");
    assert.equal(ctx.err(), undefined);
  });

  it("a send case on after(ms) (receive-only) throws a TypeError and sends nothing", () => {
    const timer = after(60_000) as unknown as SendChannel<Date> & Channel<Date>;
    assert.throws(() => trySelect([send(timer, new Date(0))]), TypeError);
    assert.equal(timer.tryRecv(), undefined, "no fake time was delivered");
  });
});

// ---- exactly one case commits -----------------------------------------------------------------------------------

describe("select commits exactly one case", () => {
  it("takes from exactly one of two ready buffered channels", async () => {
    const a = new Channel<number>(1);
    const b = new Channel<number>(1);
    for (let i = 0; i < 200; i++) {
      a.trySend(i);
      b.trySend(i);
      const r = await select([recv(a), recv(b)]);
      assert.deepEqual([r.value, r.ok], [i, true]);
      const [winner, loser] = r.index === 0 ? [a, b] : [b, a];
      assert.equal(winner.length, 0);
      assert.deepEqual(loser.tryRecv(), [i, true], "the loser's value is still there");
    }
  });

  it("sends on exactly one of two send cases with room", async () => {
    const a = new Channel<number>(1);
    const b = new Channel<number>(1);
    for (let i = 0; i < 200; i++) {
      const r = await select([send(a, i), send(b, i)]);
      const [winner, loser] = r.index === 0 ? [a, b] : [b, a];
      assert.deepEqual(winner.tryRecv(), [i, true]);
      assert.equal(loser.tryRecv(), undefined, "the loser sent nothing");
    }
  });

  it("leaves the losing sender waiting; its value goes to the next receiver", async (t) => {
    const [ctx] = cancellable(t);
    const a = new Channel<string>();
    const b = new Channel<string>();
    for (let i = 0; i < 50; i++) {
      const sentA = track(a.send(ctx, `a${i}`));
      const sentB = track(b.send(ctx, `b${i}`));
      const r = await select([recv(a), recv(b)]);
      const [winner, loser, loserSent, name] = r.index === 0 ? [a, b, sentB, "b"] : [b, a, sentA, "a"];
      assert.equal(r.value, `${r.index === 0 ? "a" : "b"}${i}`);
      assert.equal(winner.tryRecv(), undefined);
      await nextTurn();
      assert.equal(loserSent.state, "pending", "the losing sender still waits");
      assert.deepEqual(await loser.recv(ctx), [`${name}${i}`, true]);
      await nextTurn();
      assert.equal(loserSent.state, "fulfilled");
    }
  });

  it("leaves no receive waiter behind: a later send on the other channel finds no receiver", async () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    const r = select([recv(a), recv(b)]);
    assert.equal(a.trySend(1), true);
    assert.deepEqual(await r, { index: 0, value: 1, ok: true });
    assert.equal(b.trySend(2), false, "the finished select does not take it");
    assert.equal(a.trySend(3), false);
  });

  it("leaves no send waiter behind: the other channel has nothing to receive", async (t) => {
    const [ctx] = cancellable(t);
    const a = new Channel<number>();
    const out = new Channel<number>();
    const r = select([recv(a), send(out, 9)]);
    assert.equal(a.trySend(1), true);
    assert.deepEqual(await r, { index: 0, value: 1, ok: true });
    assert.equal(out.tryRecv(), undefined, "the send case was withdrawn");
    const later = track(out.recv(ctx));
    await nextTurn();
    assert.equal(later.state, "pending");
  });

  it("withdraws every case when ctx.done() fires", async () => {
    const [ctx, cancel] = withCancel(background());
    const a = new Channel<number>();
    const out = new Channel<number>();
    const r = select([recv(a), send(out, 1), recv(ctx.done())]);
    cancel();
    assert.deepEqual(await r, { index: 2, value: undefined, ok: false });
    assert.equal(a.trySend(1), false);
    assert.equal(out.tryRecv(), undefined);
  });
});

// ---- trySelect --------------------------------------------------------------------------------------------------

describe("trySelect", () => {
  it("returns undefined and does nothing when no case is ready", () => {
    const a = new Channel<number>();
    const out = new Channel<number>();
    const full = new Channel<number>(1);
    full.trySend(0);
    assert.equal(trySelect([recv(a), send(out, 1), send(full, 2), recv(after(60_000))]), undefined);
    assert.equal(a.trySend(1), false, "no receiver was left on a");
    assert.equal(out.tryRecv(), undefined, "nothing was sent on out");
    assert.deepEqual([full.tryRecv(), full.tryRecv()], [[0, true], undefined]);
  });

  it("performs a ready receive case", () => {
    const a = new Channel<number>();
    const b = new Channel<number>(1);
    b.trySend(5);
    assert.deepEqual(trySelect([recv(a), recv(b)]), { index: 1, value: 5, ok: true });
    assert.equal(b.length, 0);
  });

  it("performs a ready send case", async (t) => {
    const [ctx] = cancellable(t);
    const out = new Channel<number>();
    const got = out.recv(ctx);
    assert.deepEqual(trySelect([recv(new Channel<number>()), send(out, 6)]), { index: 1, value: undefined, ok: true });
    assert.deepEqual(await got, [6, true]);
  });

  it("takes from a waiting sender", async (t) => {
    const [ctx] = cancellable(t);
    const a = new Channel<number>();
    const sent = a.send(ctx, 7);
    assert.deepEqual(trySelect([recv(a)]), { index: 0, value: 7, ok: true });
    await sent;
  });

  it("reports a closed channel and an ended ctx as ready", () => {
    const closed = new Channel<number>();
    closed.close();
    assert.deepEqual(trySelect([recv(closed)]), { index: 0, value: undefined, ok: false });
    assert.deepEqual(trySelect([recv(cancelled()[0].done())]), { index: 0, value: undefined, ok: false });
  });

  it("throws ChannelClosedError for a send case on a closed channel", () => {
    const closed = new Channel<number>(1);
    closed.close();
    assert.throws(() => trySelect([send(closed, 1)]), closedError("send on closed channel"));
  });
});

// ---- fairness ---------------------------------------------------------------------------------------------------

describe("select fairness", () => {
  /** Each setup returns the cases, the indexes of those never ready, and a function that restores the state. */
  const setups: [string, () => { cases: SelectCase[]; idle: number[]; refill: () => void }][] = [
    [
      "three buffered receive cases",
      () => {
        const chs = [new Channel<number>(1), new Channel<number>(1), new Channel<number>(1)];
        const refill = (): void => {
          for (const ch of chs) if (ch.length === 0) ch.trySend(1);
        };
        refill();
        return { cases: chs.map((ch) => recv(ch)), idle: [], refill };
      },
    ],
    [
      "a buffered value, buffer room, a closed done channel and one idle channel",
      () => {
        const value = new Channel<number>(1);
        const room = new Channel<number>(1);
        const idle = new Channel<number>();
        const refill = (): void => {
          if (value.length === 0) value.trySend(1);
          room.tryRecv();
        };
        refill();
        return { cases: [recv(value), send(room, 2), recv(idle), recv(cancelled()[0].done())], idle: [2], refill };
      },
    ],
  ];
  const rounds = 30_000;

  for (const [name, setup] of setups) {
    // The declared result type stands in for SelectResult, which is `never` for a non-tuple array (see the
    // typing test below).
    const runners: [string, (cases: SelectCase[]) => Promise<{ index: number }>][] = [
      ["select", (cases) => select(cases)],
      ["trySelect", async (cases) => trySelect(cases)!],
    ];
    for (const [fn, run] of runners) {
      it(`${fn} chooses uniformly among ${name} over ${rounds} rounds`, async () => {
        const { cases, idle, refill } = setup();
        const counts = cases.map(() => 0);
        for (let i = 0; i < rounds; i++) {
          const r = await run(cases);
          counts[r.index]!++;
          refill();
        }
        for (const i of idle) assert.equal(counts[i], 0, `case ${i} was never ready and never chosen`);
        const readyCount = cases.length - idle.length;
        const expected = rounds / readyCount;
        let chi2 = 0;
        counts.forEach((c, i) => {
          if (idle.includes(i)) return;
          chi2 += (c - expected) ** 2 / expected;
          assert.ok(Math.abs(c - expected) < 0.03 * rounds, `case ${i}: ${c} of ${rounds}, expected about ${expected}`);
        });
        // With 2 or 3 degrees of freedom, chi² > 45 has a probability below 1e-9 for a fair choice.
        assert.ok(chi2 < 45, `chi² = ${chi2.toFixed(1)} for counts ${counts.join(", ")}`);
      });
    }
  }
});

// ---- typing -----------------------------------------------------------------------------------------------------

describe("select typing", () => {
  it("narrows value by index and ok (checked by tsc)", async () => {
    const nums = new Channel<number>(1);
    const words = new Channel<string>(1);
    const flags = new Channel<boolean>(1);
    flags.trySend(true); // full: the send case is not ready
    words.trySend("hi");
    const r = await select([recv(nums), recv(words), send(flags, false)]);
    switch (r.index) {
      case 0: {
        const n: number | undefined = r.value;
        assert.fail(`nums was empty, got ${n}`);
        break;
      }
      case 1: {
        if (r.ok) {
          const s: string = r.value;
          assert.equal(s.toUpperCase(), "HI");
          // @ts-expect-error a receive case's value has its channel's type, not another's
          const wrong: number = r.value;
          assert.equal(typeof wrong, "string");
        } else {
          const closed: undefined = r.value;
          assert.fail(`words is open, got ${closed}`);
        }
        break;
      }
      case 2: {
        const nothing: undefined = r.value;
        const ok: true = r.ok;
        assert.fail(`flags was full, got ${nothing} ${ok}`);
        break;
      }
      default: {
        const never: never = r;
        assert.fail(`no such case: ${String(never)}`);
      }
    }
  });
});

describe("select typing over an array built at run time", () => {
  it("gives a result with a numeric index, a value and ok (checked by running tsc on a snippet)", () => {
    // A compile error here would break the build of every test, so this one compiles a snippet in a child.
    const dir = mkdtempSync(join(tmpdir(), "lifeline-select-types-"));
    try {
      const types = fileURLToPath(import.meta.resolve("@lifeline/core")).replace(/\.js$/, ".d.ts");
      writeFileSync(
        join(dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            module: "nodenext",
            moduleResolution: "nodenext",
            noEmit: true,
            skipLibCheck: true,
            types: [],
            target: "es2022",
            lib: ["es2022"], // without DOM: half the start-up time; skipLibCheck covers AbortSignal in our .d.ts
            paths: { "@lifeline/core": [types] },
          },
          files: ["fan-in.ts"],
        }),
      );
      writeFileSync(
        join(dir, "fan-in.ts"),
        [
          `import { Channel, recv, select, trySelect, type SelectCase } from "@lifeline/core";`,
          `const inputs = [new Channel<number>(1), new Channel<number>(1), new Channel<number>(1)];`,
          `const cases: SelectCase[] = inputs.map((ch) => recv(ch));`,
          `export async function fanIn(): Promise<number> {`,
          `  const r = await select(cases);`,
          `  const index: number = r.index;`,
          `  const ok: boolean = r.ok;`,
          `  const now = trySelect(cases);`,
          `  return index + (ok ? 1 : 0) + (now === undefined ? 0 : now.index);`,
          `}`,
        ].join("\n"),
      );
      const tsc = fileURLToPath(new URL("../bin/tsc", import.meta.resolve("typescript")));
      const r = spawnSync(process.execPath, [tsc, "-p", dir], { encoding: "utf8", timeout: 60_000 });
      assert.equal(r.status, 0, `tsc reported:\n${r.stdout}${r.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---- cancellation races -----------------------------------------------------------------------------------------

describe("select losing to cancellation", () => {
  it("loses no value over 1000 random interleavings", async (t) => {
    const [live] = cancellable(t);
    await loseNoValueToCancel(live, 0xc0ffee, (ch, ctx) =>
      select([recv(ch), recv(ctx.done())]).then((r) => {
        if (r.index === 0) {
          assert.equal(r.ok, true);
          return r.value as number;
        }
        assert.deepEqual(r, { index: 1, value: undefined, ok: false });
        return undefined;
      }),
    );
  });

  it("loses no value with several producers and consumers sharing a channel", async (t) => {
    const [live] = cancellable(t);
    const rand = prng(42);
    const ch = new Channel<number>(2);
    const total = 3000;
    const received: number[] = [];
    const producers = [0, 1, 2].map(async (p) => {
      for (let i = p; i < total; i += 3) {
        await ticks(rand(3));
        await ch.send(live, i);
      }
    });
    const consumers = [0, 1, 2, 3].map(async () => {
      for (;;) {
        const [ctx, cancel] = withCancel(background());
        const chosen = select([recv(ch), recv(ctx.done())]);
        await ticks(rand(4));
        cancel();
        const r = await chosen;
        if (r.index === 0) {
          if (!r.ok) return;
          received.push(r.value);
        }
      }
    });
    await Promise.all(producers);
    ch.close();
    await Promise.all(consumers);
    assert.equal(ch.tryRecv()?.[1], false, "drained");
    assert.deepEqual(
      received.sort((x, y) => x - y),
      Array.from({ length: total }, (_, i) => i),
      "every value exactly once",
    );
  });
});

// ---- long-lived ctx ---------------------------------------------------------------------------------------------

describe("select and recv against one long-lived ctx", () => {
  it("keep working over 10k iterations, and cancelling the ctx afterwards ends what waits on it", async () => {
    const [ctx, cancel] = withCancel(background());
    try {
      const buffered = new Channel<number>(1);
      const unbuffered = new Channel<number>();
      for (let i = 0; i < 10_000; i++) {
        // The other case is ready at once.
        buffered.trySend(i);
        const a = await select([recv(ctx.done()), recv(buffered)]);
        assert.equal(a.value, i);
        // The select waits on ctx.done() before the other case fires.
        const pending = select([recv(ctx.done()), recv(unbuffered)]);
        assert.equal(unbuffered.trySend(i), true);
        assert.equal((await pending).value, i);
        // recv(ctx) waits with a listener on ctx.
        const got = unbuffered.recv(ctx);
        assert.equal(unbuffered.trySend(i), true);
        assert.deepEqual(await got, [i, true]);
      }
      assert.equal(ctx.err(), undefined);
      assert.equal(ctx.done().tryRecv(), undefined);
      assert.equal(unbuffered.trySend(-1), false, "no select or recv left a waiter");

      const waitingSelect = select([recv(unbuffered), recv(ctx.done())]);
      const waitingRecv = unbuffered.recv(ctx);
      cancel();
      assert.deepEqual(await waitingSelect, { index: 1, value: undefined, ok: false });
      await assert.rejects(waitingRecv, (e) => e === Canceled);
      assert.equal(unbuffered.trySend(-1), false, "both gave up their place");
    } finally {
      cancel();
    }
  });
});

// ---- nil channels and hand-written channels (issue 9) -------------------------------------------------------------

describe("select over Go's nil channel (recv(null), send(null, v))", () => {
  it("never fires a nil case, and takes the ready case beside it (typed)", async () => {
    const ch = new Channel<number>(1);
    ch.trySend(7);
    const nil = <T>(): Channel<T> | null => null; // a channel variable switched off, as Go code does
    for (let i = 0; i < 20; i++) {
      const r = await select([recv(nil<string>()), send(nil<number>(), 1), recv(ch)]);
      assert.equal(r.index, 2);
      if (r.index === 2 && r.ok) {
        const n: number = r.value; // narrowed to the non-nil case's type
        assert.equal(n, 7);
      }
      ch.trySend(7);
    }
    assert.equal(ch.tryRecv()?.[0], 7);
  });

  it("trySelect over nil cases only is the default case: undefined, nothing done", () => {
    assert.equal(trySelect([recv(null), send(null, 1)]), undefined);
  });

  it("waits on the other cases while a nil case sits beside them, and leaves no trace", async (t) => {
    const [ctx, cancel] = cancellable(t);
    const ch = new Channel<number>();
    const p = track(select([recv(null), send(null, 5), recv(ctx.done()), recv(ch)]));
    await ticks(5);
    assert.equal(p.state, "pending");
    cancel();
    await ticks(2);
    assert.equal(p.state, "fulfilled");
    assert.equal(p.value!.index, 2);
    assert.equal(ch.tryRecv(), undefined, "nothing was sent by the nil send case");
  });

  it("waits on its one receive case beside nil cases and reports that case's index: a value, a close, a cancel", async (t) => {
    const ch = new Channel<number>();
    const p = track(select([recv(null), send(null, 5), recv(ch)]));
    await ticks(2);
    assert.equal(p.state, "pending");
    assert.equal(ch.trySend(9), true, "the waiting case takes the value");
    await ticks(2);
    assert.deepEqual(p.value, { index: 2, value: 9, ok: true });

    const closed = track(select([send(null, 1), recv(ch)]));
    await ticks(2);
    ch.close();
    await ticks(2);
    assert.deepEqual(closed.value, { index: 1, value: undefined, ok: false });

    const [ctx, cancel] = cancellable(t);
    const done = track(select([recv(null), recv(null), recv(ctx.done())]));
    await ticks(2);
    cancel();
    await ticks(2);
    assert.deepEqual(done.value, { index: 2, value: undefined, ok: false });
  });

  it("waits forever when every case is nil, keeping nothing alive (as Go blocks forever)", async () => {
    const r = await runScript([
      `setTimeout(() => console.log("still pending"), 50);`,
      // Not awaited at the top level: Node exits 13 on an unsettled top-level await, Deno 1, and Bun never exits.
      `core.select([core.recv(null), core.send(null, 1)]).then(() => console.log("fired"));`,
    ]);
    assert.equal(r.signal, null, `killed: something kept the process alive. ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "still pending");
  });
});

describe("a hand-written ReceiveChannel", () => {
  it("does not type-check and is refused at the call with a TypeError", () => {
    const fake = {
      recv: () => Promise.resolve([1, true] as [number, true]),
      tryRecv: () => undefined,
      length: 0,
      capacity: 0,
      range: () => ({ [Symbol.asyncIterator]: () => new Channel<number>()[Symbol.asyncIterator]() }),
      [Symbol.asyncIterator]: () => new Channel<number>()[Symbol.asyncIterator](),
    };
    // @ts-expect-error ReceiveChannel is a view of a lifeline Channel, not an interface to implement
    const typed: ReceiveChannel<number> = fake;
    assert.throws(() => recv(typed), typeErrorNaming("recv"));
  });
});

afterAllTests(() => assertNoLeaks());
