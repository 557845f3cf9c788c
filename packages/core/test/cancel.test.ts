import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import {
  afterFunc,
  background,
  Canceled,
  cause,
  Channel,
  createKey,
  DeadlineExceeded,
  todo,
  withCancel,
  withCancelCause,
  withDeadline,
  withDeadlineCause,
  withoutCancel,
  withSignal,
  withTimeout,
  withTimeoutCause,
  withValue,
  type CancelFunc,
  type Context,
  type Key,
} from "@lifeline/core";
import {
  abortListeners,
  assertEnded,
  assertLive,
  deferred,
  delay,
  ended,
  isClosed,
  ManualContext,
  prng,
  runScriptSync,
  turn,
} from "./support.js";

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/** FakeSignal is a duck-typed AbortSignal, as from a polyfill or another realm, that counts its listeners. */
class FakeSignal {
  aborted = false;
  reason: unknown = undefined;
  adds = 0;
  removes = 0;
  readonly listeners = new Set<() => void>();
  addEventListener(type: string, listener: () => void): void {
    assert.equal(type, "abort");
    this.adds++;
    this.listeners.add(listener);
  }
  removeEventListener(type: string, listener: () => void): void {
    assert.equal(type, "abort");
    this.removes++;
    this.listeners.delete(listener);
  }
  abort(reason: unknown): void {
    this.aborted = true;
    this.reason = reason;
    for (const l of [...this.listeners]) l();
  }
  get asSignal(): AbortSignal {
    return this as unknown as AbortSignal;
  }
}

// ---------------------------------------------------------------------------------------------------------------

describe("withCancel", () => {
  it("ends the child with Canceled before cancel returns", () => {
    const [ctx, cancel] = withCancel(background());
    assertLive(ctx);
    cancel();
    assertEnded(ctx, Canceled);
  });

  it("is idempotent: a second cancel changes nothing", () => {
    const [ctx, cancel] = withCancel(background());
    const signal = ctx.signal;
    const done = ctx.done();
    cancel();
    cancel();
    assertEnded(ctx, Canceled);
    assert.equal(ctx.signal, signal);
    assert.equal(ctx.done(), done);
  });

  it("returns the same signal and done channel on every call, before and after it ends", () => {
    const [ctx, cancel] = withCancel(background());
    const signal = ctx.signal;
    const done = ctx.done();
    assert.equal(ctx.signal, signal);
    assert.equal(ctx.done(), done);
    cancel();
    assert.equal(ctx.signal, signal);
    assert.equal(ctx.done(), done);
  });

  it("has a done channel that nobody outside can close or send on", () => {
    const [ctx, cancel] = withCancel(background());
    const done = ctx.done() as unknown as Channel<never>;
    assert.throws(() => done.close(), TypeError);
    assert.throws(() => done.trySend(undefined as never), TypeError);
    assertLive(ctx);
    cancel();
    assert.throws(() => done.close(), TypeError);
    assertEnded(ctx, Canceled);
  });

  it("gives an aborted signal and a closed done channel when first read after the end", () => {
    const [ctx, cancel] = withCancel(background());
    cancel();
    assert.equal(ctx.signal.aborted, true);
    assert.equal(ctx.signal.reason, Canceled);
    assert.equal(isClosed(ctx.done()), true);
  });

  it("wakes a receive already waiting on done with [undefined, false]", async () => {
    const [ctx, cancel] = withCancel(background());
    const waiting = ctx.done().recv(background());
    cancel();
    assert.deepEqual(await waiting, [undefined, false]);
  });

  it("dispatches the signal's abort event with reason Canceled", () => {
    const [ctx, cancel] = withCancel(background());
    const reasons: unknown[] = [];
    ctx.signal.addEventListener("abort", () => reasons.push(ctx.signal.reason));
    cancel();
    cancel();
    assert.deepEqual(reasons, [Canceled]);
  });

  it("ends every descendant, of every kind, before cancel returns", () => {
    const [root, cancel] = withCancel(background());
    const k = createKey<string>("k");
    const [a, ca] = withCancelCause(withValue(root, k, "v"));
    const [b, cb] = withTimeout(a, 60_000);
    const [c, cc] = withDeadline(b, Date.now() + 60_000);
    const [d, cd] = withSignal(c, new AbortController().signal);
    const [e, ce] = withCancel(d);
    const v = withValue(e, k, "w");
    const all = { a, b, c, d, e, v };
    for (const [name, ctx] of Object.entries(all)) assertLive(ctx, name);
    cancel();
    for (const [name, ctx] of Object.entries(all)) assertEnded(ctx, Canceled, Canceled, name);
    for (const f of [ca, cb, cc, cd, ce]) f();
  });

  it("has the whole subtree ended before any abort listener runs", () => {
    const [root, cancel] = withCancel(background());
    const [mid, cancelMid] = withCancel(root);
    const leaves = Array.from({ length: 5 }, () => withTimeout(mid, 60_000));
    const [outside, cancelOutside] = withCancel(background());
    const all = [root, mid, ...leaves.map(([leaf]) => leaf)];
    const checks: string[] = [];
    for (const [i, ctx] of all.entries()) {
      ctx.signal.addEventListener("abort", () => {
        for (const [j, other] of all.entries()) {
          if (other.err() !== Canceled) checks.push(`in node ${i}'s abort listener, node ${j} was not ended yet`);
          if (!isClosed(other.done())) checks.push(`in node ${i}'s abort listener, node ${j}'s done was open`);
        }
        checks.push(`listener ${i}`);
      });
    }
    cancel();
    assert.deepEqual(
      checks.sort(),
      all.map((_, i) => `listener ${i}`).sort(),
      "every listener ran once, before cancel returned, and saw every node ended",
    );
    assertLive(outside);
    for (const [, c] of leaves) c();
    cancelMid();
    cancelOutside();
  });

  it("never ends the parent when the child is cancelled", () => {
    const [parent, cancelParent] = withCancel(background());
    const [sibling, cancelSibling] = withCancel(parent);
    const [child, cancelChild] = withCancelCause(parent);
    cancelChild(new Error("child only"));
    assertLive(parent, "parent");
    assertLive(sibling, "sibling");
    cancelParent();
    assertEnded(sibling, Canceled);
    assert.equal(cause(child) instanceof Error, true);
    cancelSibling();
  });

  it("gives a child born ended, with the parent's err and cause, when the parent has ended", () => {
    const why = new Error("Because!");
    const [parent, cancelParent] = withCancelCause(background());
    cancelParent(why);
    const kinds: [string, () => [Context, CancelFunc]][] = [
      ["withCancel", () => withCancel(parent)],
      ["withCancelCause", () => withCancelCause(parent)],
      ["withTimeout", () => withTimeout(parent, 60_000)],
      ["withDeadlineCause", () => withDeadlineCause(parent, Date.now() + 60_000, new Error("slow"))],
      ["withSignal", () => withSignal(parent, new AbortController().signal)],
    ];
    for (const [name, make] of kinds) {
      const [child, cancel] = make();
      assertEnded(child, Canceled, why, name);
      cancel();
      assertEnded(child, Canceled, why, name);
    }
    const [timedOut, cancelT] = withTimeout(background(), 0);
    const [child, cancelChild] = withCancel(timedOut);
    assertEnded(child, DeadlineExceeded);
    cancelChild();
    cancelT();
  });

  it("keeps the other children attached when children leave from the head, middle and tail", async () => {
    const [parent, cancelParent] = withCancelCause(background());
    const children = Array.from({ length: 7 }, () => withCancel(parent));
    const ran: number[] = [];
    const stops = Array.from({ length: 5 }, (_, i) => afterFunc(parent, () => ran.push(i)));
    for (const i of [3, 0, 6]) children[i]![1]();
    for (const i of [2, 0, 4]) assert.equal(stops[i]!(), true);
    const why = new Error("parent");
    cancelParent(why);
    for (const [i, [child]] of children.entries()) {
      assertEnded(child, Canceled, [0, 3, 6].includes(i) ? Canceled : why, `child ${i}`);
    }
    await turn();
    assert.deepEqual(ran.sort(), [1, 3]);
    for (const [, cancel] of children) cancel();
  });

  it("copes with 100k children cancelled one by one, then the parent", () => {
    const [parent, cancelParent] = withCancel(background());
    const children = Array.from({ length: 100_000 }, () => withCancel(parent));
    for (const [, cancel] of children) cancel();
    assertLive(parent);
    for (let i = 0; i < children.length; i += 9973) assert.equal(children[i]![0].err(), Canceled);
    const [late, cancelLate] = withCancel(parent);
    cancelParent();
    assertEnded(parent, Canceled);
    assertEnded(late, Canceled);
    cancelLate();
  });

  it("ends 100k children when the parent is cancelled", () => {
    const [parent, cancelParent] = withCancelCause(background());
    const children = Array.from({ length: 100_000 }, () => withCancel(parent));
    const why = new Error("shutdown");
    cancelParent(why);
    for (const [child] of children) assert.equal(child.err(), Canceled);
    assert.equal(cause(children[children.length - 1]![0]), why);
    for (const [, cancel] of children) cancel();
  });
});

describe("withCancelCause", () => {
  it("records the cause given, for the context and all its descendants", () => {
    const [ctx, cancel] = withCancelCause(background());
    const [child, cancelChild] = withCancel(ctx);
    const grandchild = withValue(child, createKey("k"), 1);
    const why = new Error("why");
    cancel(why);
    assertEnded(ctx, Canceled, why);
    assertEnded(child, Canceled, why, "child");
    assertEnded(grandchild, Canceled, why, "grandchild");
    cancelChild();
  });

  it("keeps only the first cause", () => {
    const [ctx, cancel] = withCancelCause(background());
    const first = new Error("first");
    cancel(first);
    cancel(new Error("second"));
    assert.equal(cause(ctx), first);
  });

  it("accepts a cause that is not an Error", () => {
    for (const why of ["a string", 42, { code: "E_GONE" }, false]) {
      const [ctx, cancel] = withCancelCause(background());
      cancel(why);
      assertEnded(ctx, Canceled, why);
    }
  });

  it("treats a missing, undefined or null cause as Canceled (Go's nil)", () => {
    for (const call of [(c: (why?: unknown) => void) => c(), (c: (why?: unknown) => void) => c(undefined), (c: (why?: unknown) => void) => c(null)]) {
      const [ctx, cancel] = withCancelCause(background());
      call(cancel);
      assertEnded(ctx, Canceled, Canceled);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("a 100-node tree cancelled in random order", () => {
  interface Node {
    ctx: Context;
    parent: number; // -1 for a child of background
    end: () => unknown; // ends this node; returns the cause its subtree will report
    endedWith: unknown; // undefined while live
    cancel: CancelFunc;
  }

  function build(r: (n: number) => number): Node[] {
    const nodes: Node[] = [];
    const k = createKey<number>("depth");
    for (let i = 0; i < 100; i++) {
      // Half the time hang the node under one of the newest nodes, so the tree gets deep.
      const parent = i === 0 ? -1 : r(2) === 0 ? r(i) : Math.max(0, i - 1 - r(5));
      let base = parent === -1 ? background() : nodes[parent]!.ctx;
      if (r(4) === 0) base = withValue(base, k, i); // value layers are transparent to cancellation
      let node: Node;
      switch (r(4)) {
        case 0: {
          const [ctx, cancel] = withCancel(base);
          node = { ctx, parent, cancel, end: () => (cancel(), Canceled), endedWith: undefined };
          break;
        }
        case 1: {
          const [ctx, cancel] = withCancelCause(base);
          const why = new Error(`node ${i}`);
          node = { ctx, parent, cancel, end: () => (cancel(why), why), endedWith: undefined };
          break;
        }
        case 2: {
          const [ctx, cancel] = withTimeout(base, 60_000);
          node = { ctx, parent, cancel, end: () => (cancel(), Canceled), endedWith: undefined };
          break;
        }
        default: {
          const controller = new AbortController();
          const [ctx, cancel] = withSignal(base, controller.signal);
          const reason = `signal ${i}`;
          node = { ctx, parent, cancel, end: () => (controller.abort(reason), reason), endedWith: undefined };
        }
      }
      if (i % 2 === 0) void node.ctx.signal; // half the signals exist before the cancel, half are made after
      if (i % 3 === 0) void node.ctx.done();
      nodes.push(node);
    }
    return nodes;
  }

  function isUnder(nodes: Node[], i: number, ancestor: number): boolean {
    for (let j = i; j !== -1; j = nodes[j]!.parent) if (j === ancestor) return true;
    return false;
  }

  for (const seed of [1, 2, 3, 20240611]) {
    it(`ends exactly the cancelled node's subtree at each step (seed ${seed})`, () => {
      const r = prng(seed);
      const nodes = build(r);
      const order = nodes.map((_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = r(i + 1);
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      for (const [step, victim] of order.entries()) {
        const wasLive = nodes[victim]!.ctx.err() === undefined;
        const why = nodes[victim]!.end();
        if (wasLive) {
          for (const [i, n] of nodes.entries()) if (n.endedWith === undefined && isUnder(nodes, i, victim)) n.endedWith = why;
        }
        for (const [i, n] of nodes.entries()) {
          const what = `seed ${seed}, step ${step} (cancelled ${victim}), node ${i}`;
          if (n.endedWith === undefined) {
            assert.equal(n.ctx.err(), undefined, what);
            assert.equal(cause(n.ctx), undefined, what);
            assert.equal(isClosed(n.ctx.done()), false, what);
            if (i % 2 === 0) assert.equal(n.ctx.signal.aborted, false, what);
          } else {
            assertEnded(n.ctx, Canceled, n.endedWith, what);
          }
        }
      }
      for (const n of nodes) n.cancel();
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------

describe("random layers of values, cancels and timeouts (Go's testLayers)", () => {
  function layers(seed: number, timeout: boolean): {
    ctxs: Context[];
    cancels: { layer: number; cancel: CancelFunc }[];
    vals: Key<object>[];
    firstTimer: number;
  } {
    const r = prng(seed);
    const ctxs: Context[] = [];
    const cancels: { layer: number; cancel: CancelFunc }[] = [];
    const vals: Key<object>[] = [];
    let firstTimer = -1;
    let ctx = background();
    for (let i = 0; i < 30 || firstTimer === -1 || cancels.length === 0 || vals.length === 0; i++) {
      switch (r(3)) {
        case 0: {
          const key = createKey<object>(`v${i}`);
          ctx = withValue(ctx, key, key);
          vals.push(key);
          break;
        }
        case 1: {
          let cancel: CancelFunc;
          [ctx, cancel] = withCancel(ctx);
          cancels.push({ layer: i, cancel });
          break;
        }
        default: {
          let cancel: CancelFunc;
          [ctx, cancel] = withTimeout(ctx, timeout ? 10 : 60_000);
          cancels.push({ layer: i, cancel });
          if (firstTimer === -1) firstTimer = i;
        }
      }
      ctxs.push(ctx);
    }
    return { ctxs, cancels, vals, firstTimer };
  }

  function checkValues(ctx: Context, vals: Key<object>[], when: string): void {
    for (const key of vals) assert.equal(ctx.value(key), key, `${when}: value(${key.name})`);
  }

  for (let seed = 1; seed <= 25; seed++) {
    it(`ends exactly the layers below the one cancelled, keeping every value (seed ${seed})`, () => {
      const { ctxs, cancels, vals, firstTimer } = layers(seed, false);
      const leaf = ctxs[ctxs.length - 1]!;
      assert.ok(String(leaf).startsWith("context.Background."), String(leaf));
      assertLive(leaf, "leaf");
      checkValues(leaf, vals, "before cancel");
      assert.equal(leaf.deadline(), ctxs[firstTimer]!.deadline(), "the leaf's deadline is the earliest one");
      const r = prng(seed * 7919);
      const victim = cancels[r(cancels.length)]!;
      victim.cancel();
      assert.equal(isClosed(leaf.done()), true);
      checkValues(leaf, vals, "after cancel");
      for (const [i, ctx] of ctxs.entries()) {
        if (i >= victim.layer) assert.equal(ctx.err(), Canceled, `layer ${i}, cancelled ${victim.layer}`);
        else assert.equal(ctx.err(), undefined, `layer ${i}, cancelled ${victim.layer}`);
      }
      for (const { cancel } of cancels) cancel();
    });
  }

  for (const seed of [101, 102, 103]) {
    it(`times out at the first timer layer and below, keeping every value (seed ${seed})`, async () => {
      const { ctxs, cancels, vals, firstTimer } = layers(seed, true);
      const leaf = ctxs[ctxs.length - 1]!;
      checkValues(leaf, vals, "before timeout");
      try {
        await ended(leaf);
        assert.equal(leaf.err(), DeadlineExceeded);
        assert.equal(cause(leaf), DeadlineExceeded);
        checkValues(leaf, vals, "after timeout");
        for (const [i, ctx] of ctxs.entries()) {
          if (i >= firstTimer) assert.equal(ctx.err(), DeadlineExceeded, `layer ${i}`);
          else assert.equal(ctx.err(), undefined, `layer ${i}`);
        }
      } finally {
        for (const { cancel } of cancels) cancel();
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------

describe("cause (Go's TestCause)", () => {
  const forever = 1e9;
  const parentCause = new Error("parentCause");
  const childCause = new Error("childCause");
  const tooSlow = new Error("tooSlow");
  const finishedEarly = new Error("finishedEarly");
  type Defer = (f: () => void) => void;
  /** cancelNow makes a child of background() and cancels it at once, with `args`. */
  const cancelNow =
    <A extends unknown[]>(make: (parent: Context) => [Context, (...args: A) => void], ...args: A) =>
    (): Context => {
      const [ctx, cancel] = make(background());
      cancel(...args);
      return ctx;
    };
  /** cancelLater makes a child of background() and leaves its cancel to the end of the test. */
  const cancelLater =
    (make: (parent: Context) => [Context, CancelFunc]) =>
    (defer: Defer): Context => {
      const [ctx, cancel] = make(background());
      defer(cancel);
      return ctx;
    };
  /**
   * nested cancels a parent and its child, `first` first, each with its cause: withCancelCause, or withCancel
   * for a nil cause (undefined).
   */
  const nested =
    (parentWhy: Error | undefined, childWhy: Error | undefined, first: "parent" | "child") => (): Context => {
      const make = (parent: Context, why: Error | undefined): [Context, () => void] => {
        if (why === undefined) return withCancel(parent);
        const [ctx, cancel] = withCancelCause(parent);
        return [ctx, () => cancel(why)];
      };
      const [parent, cancelParent] = make(background(), parentWhy);
      const [ctx, cancelChild] = make(parent, childWhy);
      if (first === "parent") {
        cancelParent();
        cancelChild();
      } else {
        cancelChild();
        cancelParent();
      }
      return ctx;
    };
  /** stacked makes a timeout child, with cause tooSlow, of a parent that is then cancelled with finishedEarly. */
  const stacked =
    (ms: number) =>
    (defer: Defer): Context => {
      const [parent, cancel] = withCancelCause(background());
      const [ctx, cancelChild] = withTimeoutCause(parent, ms, tooSlow);
      defer(cancelChild);
      cancel(finishedEarly);
      return ctx;
    };
  /** detached returns withoutCancel of a child of background(), made before the child is cancelled with `args`. */
  const detached =
    <A extends unknown[]>(make: (parent: Context) => [Context, (...args: A) => void], ...args: A) =>
    (): Context => {
      const [ctx, cancel] = make(background());
      const w = withoutCancel(ctx);
      cancel(...args);
      return w;
    };
  const table: { name: string; ctx: (defer: Defer) => Context | Promise<Context>; err: Error | undefined; cause: unknown }[] = [
    { name: "Background", ctx: () => background(), err: undefined, cause: undefined },
    { name: "TODO", ctx: () => todo(), err: undefined, cause: undefined },
    { name: "WithCancel", ctx: cancelNow(withCancel), err: Canceled, cause: Canceled },
    { name: "WithCancel live", ctx: cancelLater(withCancel), err: undefined, cause: undefined },
    { name: "WithCancelCause", ctx: cancelNow(withCancelCause, parentCause), err: Canceled, cause: parentCause },
    { name: "WithCancelCause nil", ctx: cancelNow(withCancelCause, undefined), err: Canceled, cause: Canceled },
    { name: "WithCancelCause: parent cause before child", ctx: nested(parentCause, childCause, "parent"), err: Canceled, cause: parentCause },
    { name: "WithCancelCause: parent cause after child", ctx: nested(parentCause, childCause, "child"), err: Canceled, cause: childCause },
    { name: "WithCancelCause: parent cause before nil", ctx: nested(parentCause, undefined, "parent"), err: Canceled, cause: parentCause },
    { name: "WithCancelCause: parent cause after nil", ctx: nested(parentCause, undefined, "child"), err: Canceled, cause: Canceled },
    { name: "WithCancelCause: child cause after nil", ctx: nested(undefined, childCause, "parent"), err: Canceled, cause: Canceled },
    { name: "WithCancelCause: child cause before nil", ctx: nested(undefined, childCause, "child"), err: Canceled, cause: childCause },
    {
      name: "WithCancelCause: grandparent cause through a value layer",
      ctx: (defer) => {
        const [parent, cancelParent] = withCancelCause(background());
        const [ctx, cancelChild] = withCancel(withValue(parent, createKey("k"), 1));
        defer(cancelChild);
        cancelParent(parentCause);
        return withValue(ctx, createKey("k2"), 2);
      },
      err: Canceled,
      cause: parentCause,
    },
    {
      name: "WithCancelCause on a parent that has already ended",
      ctx: () => {
        const [parent, cancelParent] = withCancelCause(background());
        cancelParent(parentCause);
        const [ctx, cancel] = withCancelCause(parent);
        cancel(childCause);
        return ctx;
      },
      err: Canceled,
      cause: parentCause,
    },
    { name: "WithTimeout", ctx: cancelNow((p) => withTimeout(p, 0)), err: DeadlineExceeded, cause: DeadlineExceeded },
    { name: "WithTimeout canceled", ctx: cancelNow((p) => withTimeout(p, forever)), err: Canceled, cause: Canceled },
    {
      name: "WithTimeout fired",
      ctx: async (defer) => {
        const [ctx, cancel] = withTimeout(background(), 5);
        defer(cancel);
        await ended(ctx);
        return ctx;
      },
      err: DeadlineExceeded,
      cause: DeadlineExceeded,
    },
    { name: "WithTimeoutCause", ctx: cancelNow((p) => withTimeoutCause(p, 0, tooSlow)), err: DeadlineExceeded, cause: tooSlow },
    {
      name: "WithTimeoutCause fired",
      ctx: async (defer) => {
        const [ctx, cancel] = withTimeoutCause(background(), 5, tooSlow);
        defer(cancel);
        await ended(ctx);
        cancel();
        return ctx;
      },
      err: DeadlineExceeded,
      cause: tooSlow,
    },
    { name: "WithTimeoutCause canceled", ctx: cancelNow((p) => withTimeoutCause(p, forever, tooSlow)), err: Canceled, cause: Canceled },
    { name: "WithTimeoutCause stacked", ctx: stacked(0), err: DeadlineExceeded, cause: tooSlow },
    { name: "WithTimeoutCause stacked canceled", ctx: stacked(forever), err: Canceled, cause: finishedEarly },
    {
      name: "WithTimeoutCause whose parent's earlier deadline fires",
      ctx: async (defer) => {
        const [parent, cancelParent] = withTimeout(background(), 5);
        const [ctx, cancel] = withTimeoutCause(parent, forever, tooSlow);
        defer(cancel);
        defer(cancelParent);
        await ended(ctx);
        return ctx;
      },
      err: DeadlineExceeded,
      cause: DeadlineExceeded,
    },
    {
      name: "WithDeadline in the past",
      ctx: cancelLater((p) => withDeadline(p, Date.now() - 1000)),
      err: DeadlineExceeded,
      cause: DeadlineExceeded,
    },
    {
      name: "WithDeadlineCause in the past",
      ctx: cancelLater((p) => withDeadlineCause(p, new Date(0), tooSlow)),
      err: DeadlineExceeded,
      cause: tooSlow,
    },
    { name: "WithoutCancel", ctx: () => withoutCancel(background()), err: undefined, cause: undefined },
    { name: "WithoutCancel canceled", ctx: detached(withCancelCause, finishedEarly), err: undefined, cause: undefined },
    { name: "WithoutCancel timeout", ctx: detached((p) => withTimeoutCause(p, 0, tooSlow)), err: undefined, cause: undefined },
    {
      name: "WithCancel under WithoutCancel under an ended parent",
      ctx: () => {
        const [parent, cancelParent] = withCancelCause(background());
        cancelParent(parentCause);
        const [ctx, cancel] = withCancel(withoutCancel(parent));
        cancel();
        return ctx;
      },
      err: Canceled,
      cause: Canceled,
    },
    {
      name: "WithSignal aborted with a reason",
      ctx: (defer) => {
        const controller = new AbortController();
        const [ctx, cancel] = withSignal(background(), controller.signal);
        defer(cancel);
        controller.abort(finishedEarly);
        return ctx;
      },
      err: Canceled,
      cause: finishedEarly,
    },
    {
      name: "WithSignal canceled before the signal aborts",
      ctx: () => {
        const controller = new AbortController();
        const [ctx, cancel] = withSignal(background(), controller.signal);
        cancel();
        controller.abort(finishedEarly);
        return ctx;
      },
      err: Canceled,
      cause: Canceled,
    },
    {
      name: "custom context, ended",
      ctx: () => {
        const custom = new ManualContext();
        custom.end(Canceled);
        return custom;
      },
      err: Canceled,
      cause: Canceled,
    },
    {
      name: "WithCancelCause of a custom context, cancelled with a cause, then the custom context ends",
      ctx: () => {
        const custom = new ManualContext();
        const [ctx, cancel] = withCancelCause(custom);
        cancel(childCause);
        custom.end(Canceled);
        return ctx;
      },
      err: Canceled,
      cause: childCause,
    },
    {
      name: "WithCancel of a custom context that ends with DeadlineExceeded",
      ctx: (defer) => {
        const custom = new ManualContext();
        const [ctx, cancel] = withCancel(custom);
        defer(cancel);
        custom.end(DeadlineExceeded);
        return ctx;
      },
      err: DeadlineExceeded,
      cause: DeadlineExceeded,
    },
    {
      name: "WithCancelCause of a custom context, the custom context ends first",
      ctx: () => {
        const custom = new ManualContext();
        const [ctx, cancel] = withCancelCause(custom);
        custom.end(Canceled);
        cancel(childCause);
        return ctx;
      },
      err: Canceled,
      cause: Canceled,
    },
  ];

  for (const t of table) {
    it(`gives err ${t.err?.name ?? "undefined"} and the right cause for ${t.name}`, async () => {
      const deferred: (() => void)[] = [];
      try {
        const ctx = await t.ctx((f) => deferred.push(f));
        assert.equal(ctx.err(), t.err, "err()");
        assert.equal(cause(ctx), t.cause, "cause()");
      } finally {
        for (const f of deferred.reverse()) f();
      }
    });
  }

  it("leaves a custom context live, with no cause, when its child is cancelled with a cause", () => {
    const custom = new ManualContext();
    const [, cancel] = withCancelCause(custom);
    cancel(childCause);
    assert.equal(custom.err(), undefined);
    assert.equal(cause(custom), undefined);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("afterFunc", () => {
  it("does not run f while the context is live", async () => {
    const [ctx, cancel] = withCancel(background());
    let ran = 0;
    const stop = afterFunc(ctx, () => ran++);
    await delay(20); // a short real delay, to assert "not yet"
    assert.equal(ran, 0);
    assert.equal(stop(), true);
    cancel();
  });

  it("runs f once, asynchronously, after cancel; stop then returns false", async () => {
    const [ctx, cancel] = withCancel(background());
    const d = deferred();
    let ran = 0;
    const stop = afterFunc(ctx, () => {
      ran++;
      d.resolve();
    });
    cancel();
    assert.equal(ran, 0, "f must not run inside cancel()");
    await d.promise;
    cancel();
    await turn();
    assert.equal(ran, 1);
    assert.equal(stop(), false);
    assert.equal(stop(), false);
  });

  it("sees the context ended when f runs", async () => {
    const [ctx, cancel] = withCancelCause(background());
    const why = new Error("why");
    const seen = new Promise<[unknown, unknown]>((resolve) => afterFunc(ctx, () => resolve([ctx.err(), cause(ctx)])));
    cancel(why);
    assert.deepEqual(await seen, [Canceled, why]);
  });

  it("runs f when the deadline passes", async () => {
    const [ctx, cancel] = withTimeout(background(), 5);
    const seen = new Promise<unknown>((resolve) => afterFunc(ctx, () => resolve(ctx.err())));
    await ended(ctx);
    assert.equal(await seen, DeadlineExceeded);
    cancel();
  });

  it("runs f when an ancestor ends, through value layers", async () => {
    const [root, cancel] = withCancel(background());
    const [mid, cancelMid] = withTimeout(root, 60_000);
    const ctx = withValue(mid, createKey("k"), 1);
    const d = deferred();
    afterFunc(ctx, d.resolve);
    cancel();
    await d.promise;
    cancelMid();
  });

  it("runs f at once, but not synchronously, when the context has already ended", async () => {
    const [ctx, cancel] = withCancel(background());
    cancel();
    const d = deferred();
    let ran = 0;
    const stop = afterFunc(ctx, () => {
      ran++;
      d.resolve();
    });
    assert.equal(ran, 0, "f must not run inside afterFunc()");
    assert.equal(stop(), false, "f has already been started");
    await d.promise;
    assert.equal(ran, 1);
  });

  it("stop before the end returns true, and f never runs", async () => {
    const [ctx, cancel] = withCancel(background());
    let ran = 0;
    const stop = afterFunc(ctx, () => ran++);
    assert.equal(stop(), true);
    assert.equal(stop(), false);
    cancel();
    await turn();
    assert.equal(ran, 0);
  });

  it("cancel then stop in the same tick: stop returns false and f still runs", async () => {
    const [ctx, cancel] = withCancel(background());
    const d = deferred();
    let ran = 0;
    const stop = afterFunc(ctx, () => {
      ran++;
      d.resolve();
    });
    cancel();
    assert.equal(stop(), false);
    await d.promise;
    await turn();
    assert.equal(ran, 1);
  });

  it("stops only its own f", async () => {
    const [ctx, cancel] = withCancel(background());
    const ran: string[] = [];
    const d = deferred();
    const stopA = afterFunc(ctx, () => ran.push("a"));
    afterFunc(ctx, () => {
      ran.push("b");
      d.resolve();
    });
    assert.equal(stopA(), true);
    cancel();
    await d.promise;
    await turn();
    assert.deepEqual(ran, ["b"]);
  });

  it("never runs f on a context that never ends, and stop returns true", async () => {
    let ran = 0;
    const stop = afterFunc(background(), () => ran++);
    const [parent, cancel] = withCancel(background());
    const stop2 = afterFunc(withoutCancel(parent), () => ran++);
    cancel();
    await turn();
    assert.equal(ran, 0);
    assert.equal(stop(), true);
    assert.equal(stop2(), true);
  });

  it("runs f when a withSignal context's signal aborts", async () => {
    const controller = new AbortController();
    const [ctx, cancel] = withSignal(background(), controller.signal);
    const d = deferred();
    afterFunc(ctx, d.resolve);
    controller.abort("bye");
    await d.promise;
    cancel();
  });

  const reportTable = [
    { name: "throws", body: `() => { throw new Error("boom from f"); }` },
    { name: "returns a rejected promise", body: `async () => { throw new Error("boom from f"); }` },
  ];
  for (const t of reportTable) {
    it(`reports, never drops, an error when f ${t.name}`, () => {
      const r = runScriptSync(
        [`const [ctx, cancel] = withCancel(background());`, `afterFunc(ctx, ${t.body});`, `cancel();`],
        { as: "{ afterFunc, background, withCancel }" },
      );
      assert.equal(r.signal, null, r.stderr);
      assert.notEqual(r.status, 0, "an unhandled error from f must fail the process");
      assert.match(r.stderr, /boom from f/);
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------

describe("withSignal", () => {
  it("ends the context, before abort() returns, with Canceled and the reason as cause", () => {
    const controller = new AbortController();
    const [ctx, cancel] = withSignal(background(), controller.signal);
    const [child, cancelChild] = withCancel(ctx);
    assertLive(ctx);
    controller.abort("stop");
    assertEnded(ctx, Canceled, "stop");
    assertEnded(child, Canceled, "stop", "child");
    cancelChild();
    cancel();
  });

  const reasons: { name: string; reason: () => unknown; err: Error }[] = [
    { name: "a string", reason: () => "stop", err: Canceled },
    { name: "an Error", reason: () => new Error("x"), err: Canceled },
    { name: "a DOMException AbortError", reason: () => new DOMException("aborted", "AbortError"), err: Canceled },
    { name: "a DOMException TimeoutError", reason: () => new DOMException("timed out", "TimeoutError"), err: DeadlineExceeded },
    { name: "an object named TimeoutError", reason: () => ({ name: "TimeoutError" }), err: DeadlineExceeded },
    { name: "an Error named TimeoutError", reason: () => Object.assign(new Error("t"), { name: "TimeoutError" }), err: DeadlineExceeded },
    { name: "DeadlineExceeded", reason: () => DeadlineExceeded, err: DeadlineExceeded },
    { name: "Canceled", reason: () => Canceled, err: Canceled },
    { name: "a number", reason: () => 0, err: Canceled },
  ];
  for (const t of reasons) {
    it(`maps an abort reason of ${t.name} to ${t.err.name === "AbortError" ? "Canceled" : "DeadlineExceeded"}, with the reason as cause`, () => {
      const reason = t.reason();
      const live = new AbortController();
      const [a, cancelA] = withSignal(background(), live.signal);
      live.abort(reason);
      const [b, cancelB] = withSignal(background(), AbortSignal.abort(reason));
      for (const ctx of [a, b]) {
        assert.equal(ctx.err(), t.err);
        assert.equal(cause(ctx), live.signal.reason);
        assert.equal(ctx.signal.reason, t.err);
      }
      cancelA();
      cancelB();
    });
  }

  it("takes the platform's default reason when aborted without one", () => {
    const controller = new AbortController();
    const [ctx, cancel] = withSignal(background(), controller.signal);
    controller.abort();
    assert.equal(ctx.err(), Canceled);
    assert.ok(cause(ctx) instanceof DOMException);
    assert.equal((cause(ctx) as DOMException).name, "AbortError");
    cancel();
  });

  it("is born ended for a signal that has already aborted", () => {
    const [ctx, cancel] = withSignal(background(), AbortSignal.abort("gone"));
    assertEnded(ctx, Canceled, "gone");
    cancel();
    assertEnded(ctx, Canceled, "gone");
  });

  it("ends with DeadlineExceeded when an AbortSignal.timeout fires", async () => {
    const signal = AbortSignal.timeout(5);
    const [ctx, cancel] = withSignal(background(), signal);
    await ended(ctx);
    assert.equal(ctx.err(), DeadlineExceeded);
    assert.ok(cause(ctx) instanceof DOMException);
    assert.equal((cause(ctx) as DOMException).name, "TimeoutError");
    assert.equal(cause(ctx), signal.reason);
    cancel();
  });

  it("adopts another lifeline context's signal, with its err", () => {
    const [other, cancelOther] = withCancel(background());
    const [ctx, cancel] = withSignal(background(), other.signal);
    cancelOther();
    assertEnded(ctx, Canceled, Canceled);
    const [timedOut, cancelT] = withTimeout(background(), 0);
    const [ctx2, cancel2] = withSignal(background(), timedOut.signal);
    assertEnded(ctx2, DeadlineExceeded, DeadlineExceeded);
    cancel();
    cancel2();
    cancelT();
  });

  it("ends when the parent ends, keeping the parent's err and cause", () => {
    const [parent, cancelParent] = withCancelCause(background());
    const controller = new AbortController();
    const [ctx, cancel] = withSignal(parent, controller.signal);
    const why = new Error("parent");
    cancelParent(why);
    assertEnded(ctx, Canceled, why);
    controller.abort("late");
    assertEnded(ctx, Canceled, why);
    cancel();
  });

  it("never ends the parent, and passes the parent's deadline and values on", () => {
    const k = createKey<string>("k");
    const [parent, cancelParent] = withTimeout(withValue(background(), k, "v"), 60_000);
    const controller = new AbortController();
    const [ctx, cancel] = withSignal(parent, controller.signal);
    assert.equal(ctx.deadline(), parent.deadline());
    assert.equal(ctx.value(k), "v");
    controller.abort("only the child");
    assertLive(parent);
    cancel();
    assertLive(parent);
    cancelParent();
  });

  it("is born ended, adding no listener, when the parent has ended", () => {
    const [parent, cancelParent] = withCancelCause(background());
    const why = new Error("early");
    cancelParent(why);
    const fake = new FakeSignal();
    const [ctx, cancel] = withSignal(parent, fake.asSignal);
    assertEnded(ctx, Canceled, why);
    assert.equal(fake.adds, 0);
    cancel();
  });

  describe("with a duck-typed signal from a polyfill or another realm", () => {
    it("ends the context when it aborts, with the reason as cause", () => {
      const fake = new FakeSignal();
      const [ctx, cancel] = withSignal(background(), fake.asSignal);
      const [child, cancelChild] = withCancel(ctx);
      fake.abort("polyfilled");
      assertEnded(ctx, Canceled, "polyfilled");
      assertEnded(child, Canceled, "polyfilled", "child");
      assert.equal(fake.listeners.size, 0, "the listener is removed once it fired");
      cancelChild();
      cancel();
    });

    it("maps a TimeoutError reason to DeadlineExceeded", () => {
      const fake = new FakeSignal();
      const [ctx, cancel] = withSignal(background(), fake.asSignal);
      const reason = { name: "TimeoutError", message: "polyfill timeout" };
      fake.abort(reason);
      assertEnded(ctx, DeadlineExceeded, reason);
      cancel();
    });

    it("is born ended, adding no listener, when it has already aborted", () => {
      const fake = new FakeSignal();
      fake.aborted = true;
      fake.reason = "before";
      const [ctx, cancel] = withSignal(background(), fake.asSignal);
      assertEnded(ctx, Canceled, "before");
      assert.equal(fake.adds, 0);
      cancel();
    });

    it("uses Canceled as cause for an abort without a reason", () => {
      const fake = new FakeSignal();
      const [ctx, cancel] = withSignal(background(), fake.asSignal);
      fake.abort(undefined);
      assertEnded(ctx, Canceled, Canceled);
      cancel();
    });

    it("has its listener removed by cancel", () => {
      const fake = new FakeSignal();
      const [ctx, cancel] = withSignal(background(), fake.asSignal);
      assert.equal(fake.adds, 1);
      assert.equal(fake.listeners.size, 1);
      cancel();
      assert.equal(fake.listeners.size, 0);
      assert.equal(fake.removes, 1);
      fake.abort("after cancel");
      assertEnded(ctx, Canceled, Canceled);
    });

    it("has its listener removed when the parent ends", () => {
      const fake = new FakeSignal();
      const [parent, cancelParent] = withCancel(background());
      const [ctx, cancel] = withSignal(parent, fake.asSignal);
      cancelParent();
      assert.equal(fake.listeners.size, 0);
      assertEnded(ctx, Canceled);
      cancel();
      assert.equal(fake.listeners.size, 0);
    });

    it("gets one listener for many contexts, removed when the last one is cancelled", () => {
      const fake = new FakeSignal();
      const ctxs = Array.from({ length: 100 }, () => withSignal(background(), fake.asSignal));
      assert.equal(fake.adds, 1);
      for (const [, cancel] of ctxs.slice(0, 99)) cancel();
      assert.equal(fake.listeners.size, 1);
      assert.equal(fake.removes, 0);
      const [last, cancelLast] = ctxs[99]!;
      assertLive(last);
      cancelLast();
      assert.equal(fake.listeners.size, 0);
      // A new adopter after that adds a listener again, and the signal still reaches it.
      const [again, cancelAgain] = withSignal(background(), fake.asSignal);
      assert.equal(fake.listeners.size, 1);
      fake.abort("now");
      assertEnded(again, Canceled, "now");
      for (const [ctx] of ctxs) assertEnded(ctx, Canceled, Canceled);
      cancelAgain();
    });
  });

  it("adds one native listener to an AbortSignal shared by many contexts, and removes it", () => {
    const controller = new AbortController();
    const count = (): number => abortListeners(controller.signal);
    const ctxs = Array.from({ length: 1000 }, () => withSignal(background(), controller.signal));
    assert.equal(count(), 1);
    for (const [, cancel] of ctxs.slice(1)) cancel();
    assert.equal(count(), 1);
    controller.abort("all");
    assert.equal(count(), 0);
    assertEnded(ctxs[0]![0], Canceled, "all");
    assertEnded(ctxs[1]![0], Canceled, Canceled);
    ctxs[0]![1]();
  });

  it("removes its native listener from an AbortSignal on cancel", () => {
    const controller = new AbortController();
    const [, cancel] = withSignal(background(), controller.signal);
    assert.equal(abortListeners(controller.signal), 1);
    cancel();
    assert.equal(abortListeners(controller.signal), 0);
  });
});

after(() => assertNoLeaks());
