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
  remaining,
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
  type Context,
  type Key,
  type ReceiveChannel,
} from "@lifeline/core";
import { abortListeners, assertEnded, assertLive, ManualContext } from "./support.js";

describe("background and todo", () => {
  for (const [name, root, printed] of [
    ["background", background, "context.Background"],
    ["todo", todo, "context.TODO"],
  ] as const) {
    describe(name, () => {
      it("returns the same object on every call", () => {
        assert.equal(root(), root());
      });

      it("never ends and has no deadline, values or cause", () => {
        const ctx = root();
        assertLive(ctx);
        assert.equal(ctx.deadline(), undefined);
        assert.equal(ctx.value(createKey("anything")), undefined);
        assert.equal(remaining(ctx), Infinity);
      });

      it("returns the same never-closed done channel on every call", () => {
        const ctx = root();
        assert.equal(ctx.done(), ctx.done());
        assert.equal(ctx.done().tryRecv(), undefined);
        assert.equal(ctx.done().length, 0);
      });

      it("returns the same never-aborted signal on every read", () => {
        const ctx = root();
        assert.equal(ctx.signal, ctx.signal);
        assert.ok(ctx.signal instanceof AbortSignal);
        assert.equal(ctx.signal.aborted, false);
      });

      it(`prints as ${printed}`, () => {
        assert.equal(String(root()), printed);
        assert.equal(`${root()}`, printed);
      });

      it("is not ended by cancelling a child", () => {
        const [child, cancel] = withCancel(root());
        cancel();
        assert.equal(child.err(), Canceled);
        assertLive(root());
      });
    });
  }

  it("have done channels that nobody outside can close or send on", () => {
    for (const ctx of [background(), todo(), withoutCancel(background())]) {
      const done = ctx.done() as unknown as Channel<never>;
      assert.throws(() => done.close(), TypeError);
      assert.throws(() => done.trySend(undefined as never), TypeError);
      assertLive(ctx);
    }
  });

  it("are two different contexts", () => {
    assert.notEqual(background(), todo());
  });
});

describe("createKey and withValue", () => {
  it("makes two different keys from one name", () => {
    const a = createKey<string>("user");
    const b = createKey<string>("user");
    assert.notEqual(a, b);
    assert.equal(a.name, "user");
    assert.equal(b.name, "user");
    const ctx = withValue(background(), a, "alice");
    assert.equal(ctx.value(a), "alice");
    assert.equal(ctx.value(b), undefined);
  });

  it("returns the value stored under a key, and undefined for other keys", () => {
    const k1 = createKey<string>("k1");
    const k2 = createKey<number>("k2");
    const c1 = withValue(background(), k1, "c1k1");
    assert.equal(c1.value(k1), "c1k1");
    assert.equal(c1.value(k2), undefined);
    const c2 = withValue(c1, k2, 2);
    assert.equal(c2.value(k1), "c1k1");
    assert.equal(c2.value(k2), 2);
    assert.equal(background().value(k1), undefined);
  });

  it("lets the nearest value shadow an outer one, also with undefined, without changing the parent", () => {
    const k = createKey<string | undefined>("k");
    const outer = withValue(background(), k, "outer");
    const inner = withValue(outer, k, "inner");
    const cleared = withValue(inner, k, undefined);
    assert.equal(outer.value(k), "outer");
    assert.equal(inner.value(k), "inner");
    assert.equal(cleared.value(k), undefined);
    assert.equal(withValue(cleared, createKey("other"), 1).value(k), undefined);
  });

  it("stores any kind of value, compared by identity", () => {
    const k = createKey<object>("obj");
    const v = { id: 1 };
    assert.equal(withValue(background(), k, v).value(k), v);
    const fk = createKey<() => void>("fn");
    const f = (): void => {};
    assert.equal(withValue(background(), fk, f).value(fk), f);
  });

  it("finds values through cancel, deadline, signal and withoutCancel layers", () => {
    const k = createKey<string>("req");
    const k2 = createKey<string>("deep");
    let ctx: Context = withValue(background(), k, "r1");
    const cancels: (() => void)[] = [];
    const [a, ca] = withCancel(ctx);
    cancels.push(ca);
    const [b, cb] = withTimeout(a, 60_000);
    cancels.push(cb);
    const [c, cc] = withSignal(b, new AbortController().signal);
    cancels.push(cc);
    const d = withoutCancel(c);
    const [e, ce] = withDeadline(d, Date.now() + 60_000);
    cancels.push(ce);
    ctx = withValue(e, k2, "deep");
    assert.equal(ctx.value(k), "r1");
    assert.equal(ctx.value(k2), "deep");
    for (const cancel of cancels) cancel();
    // Values outlive cancellation.
    assert.equal(ctx.value(k), "r1");
    assert.equal(e.value(k), "r1");
  });

  it("ends exactly when its parent does, sharing its done channel, signal and deadline", () => {
    const k = createKey<number>("n");
    const [parent, cancel] = withTimeout(background(), 60_000);
    const child = withValue(parent, k, 1);
    assert.equal(child.done(), parent.done());
    assert.equal(child.signal, parent.signal);
    assert.equal(child.deadline(), parent.deadline());
    assertLive(child);
    cancel();
    assertEnded(child, Canceled);
  });

  it("does not end a parent that never ends", () => {
    const child = withValue(background(), createKey("k"), 1);
    assertLive(child);
    assert.equal(child.deadline(), undefined);
  });
});

describe("String(ctx)", () => {
  const user = createKey<string>("user");
  class Point {
    constructor(readonly x: number) {}
  }
  const printable = { toString: () => "printable" };
  const table: { name: string; make: () => [Context, (() => void)?]; printed: string | RegExp }[] = [
    { name: "withCancel", make: () => withCancel(background()), printed: "context.Background.WithCancel" },
    { name: "withCancelCause", make: () => withCancelCause(background()), printed: "context.Background.WithCancel" },
    { name: "withCancel on todo", make: () => withCancel(todo()), printed: "context.TODO.WithCancel" },
    {
      name: "withCancel twice",
      make: () => {
        const [a, ca] = withCancel(background());
        const [b, cb] = withCancel(a);
        return [b, () => (cb(), ca())];
      },
      printed: "context.Background.WithCancel.WithCancel",
    },
    { name: "withValue with a string", make: () => [withValue(background(), user, "alice")], printed: "context.Background.WithValue(user, alice)" },
    {
      name: "withValue with undefined",
      make: () => [withValue(background(), user as Key<string | undefined>, undefined)],
      printed: "context.Background.WithValue(user, <nil>)",
    },
    {
      name: "withValue with a class instance",
      make: () => [withValue(background(), createKey<Point>("point"), new Point(1))],
      printed: "context.Background.WithValue(point, Point)",
    },
    {
      name: "withValue with a value that has its own toString",
      make: () => [withValue(background(), createKey<object>("p"), printable)],
      printed: "context.Background.WithValue(p, printable)",
    },
    { name: "withoutCancel", make: () => [withoutCancel(background())], printed: "context.Background.WithoutCancel" },
    {
      name: "withSignal",
      make: () => withSignal(background(), new AbortController().signal),
      printed: "context.Background.WithSignal",
    },
    {
      name: "withTimeout",
      make: () => withTimeout(background(), 60_000),
      printed: /^context\.Background\.WithDeadline\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[[\d.]+m?s\]\)$/,
    },
    {
      name: "withTimeout(Number.MAX_SAFE_INTEGER), a deadline past what a Date can show",
      make: () => withTimeout(background(), Number.MAX_SAFE_INTEGER),
      printed: /^context\.Background\.WithDeadline\(.+\)$/,
    },
    {
      name: "withDeadline(1e300), a deadline past what a Date can show",
      make: () => withDeadline(background(), 1e300),
      printed: /^context\.Background\.WithDeadline\(.+\)$/,
    },
    { name: "withTimeout(Infinity), which sets no deadline", make: () => withTimeout(background(), Infinity), printed: "context.Background.WithCancel" },
    {
      name: "a mixed chain",
      make: () => {
        const [a, ca] = withCancel(background());
        const v = withValue(a, user, "bob");
        const w = withoutCancel(v);
        const [s, cs] = withSignal(w, new AbortController().signal);
        return [s, () => (cs(), ca())];
      },
      printed: "context.Background.WithCancel.WithValue(user, bob).WithoutCancel.WithSignal",
    },
  ];
  for (const t of table) {
    it(`describes ${t.name}`, () => {
      const [ctx, cancel] = t.make();
      try {
        if (typeof t.printed === "string") assert.equal(String(ctx), t.printed);
        else assert.match(String(ctx), t.printed);
      } finally {
        cancel?.();
      }
    });
  }

  it("prints a deadline as its ISO time", () => {
    const at = new Date(Date.now() + 3_600_000);
    const [ctx, cancel] = withDeadline(background(), at);
    assert.ok(String(ctx).startsWith(`context.Background.WithDeadline(${at.toISOString()} [`), String(ctx));
    cancel();
  });
});

/** OtherContext is a user type that embeds a lifeline context and forwards every method to it (Go's otherContext). */
class OtherContext implements Context {
  constructor(readonly inner: Context) {}
  deadline(): number | undefined {
    return this.inner.deadline();
  }
  done(): ReceiveChannel<never> {
    return this.inner.done();
  }
  err(): Error | undefined {
    return this.inner.err();
  }
  value<T>(key: Key<T>): T | undefined {
    return this.inner.value(key);
  }
  get signal(): AbortSignal {
    return this.inner.signal;
  }
}

/** OwnSignalContext forwards to a lifeline context but ends by its own AbortController (Go's customDoneContext). */
class OwnSignalContext extends OtherContext {
  readonly controller = new AbortController();
  readonly #done = new Channel<never>(0);
  override get signal(): AbortSignal {
    return this.controller.signal;
  }
  override done(): ReceiveChannel<never> {
    return this.#done;
  }
}

describe("a custom Context as parent", () => {
  describe("that forwards to a lifeline context", () => {
    it("ends its children synchronously, with the inner context's err and cause", () => {
      const [inner, cancel] = withCancelCause(background());
      const other = new OtherContext(inner);
      const [child, cancelChild] = withCancel(other);
      const [grandchild, cancelGrandchild] = withTimeout(child, 60_000);
      assertLive(child);
      const why = new Error("stop");
      cancel(why);
      assertEnded(child, Canceled, why, "child");
      assertEnded(grandchild, Canceled, why, "grandchild");
      cancelGrandchild();
      cancelChild();
    });

    it("passes on the inner context's deadline and values", () => {
      const k = createKey<string>("k");
      const [inner, cancel] = withTimeout(withValue(background(), k, "v"), 60_000);
      const other = new OtherContext(inner);
      const [child, cancelChild] = withTimeout(other, 120_000);
      assert.equal(child.deadline(), inner.deadline());
      assert.equal(child.value(k), "v");
      assert.equal(withValue(child, createKey("x"), 1).value(k), "v");
      cancelChild();
      cancel();
    });

    it("is not ended by its children", () => {
      const [inner, cancel] = withCancel(background());
      const other = new OtherContext(inner);
      for (let i = 0; i < 3; i++) withCancel(other)[1]();
      assertLive(other);
      assertLive(inner);
      cancel();
    });

    it("gives a child born ended when the inner context has already ended", () => {
      const [inner, cancel] = withCancelCause(background());
      const why = new Error("early");
      cancel(why);
      const [child, cancelChild] = withCancel(new OtherContext(inner));
      assertEnded(child, Canceled, why);
      cancelChild();
    });

    it("with its own signal ends its children when that signal aborts, with the inner cause (Go's customDoneContext)", () => {
      const [inner, cancelInner] = withCancelCause(background());
      const ctx = new OwnSignalContext(inner);
      const [child, cancelChild] = withCancel(ctx);
      const why = new Error("TestCustomContextPropagation");
      cancelInner(why);
      ctx.controller.abort(Canceled);
      assertEnded(child, Canceled, why, "child");
      cancelChild();
    });
  });

  describe("implemented from scratch", () => {
    it("ends its children synchronously when it ends; cause(child) is its err", () => {
      for (const err of [Canceled, DeadlineExceeded]) {
        const custom = new ManualContext();
        const [child, cancelChild] = withCancel(custom);
        const [grandchild, cancelGrandchild] = withCancelCause(child);
        const v = withValue(child, createKey("k"), 1);
        assertLive(child, "child");
        custom.end(err);
        assertEnded(child, err, err, "child");
        assertEnded(grandchild, err, err, "grandchild");
        assertEnded(v, err, err, "value child");
        cancelGrandchild(new Error("later"));
        assert.equal(cause(grandchild), err);
        cancelChild();
      }
    });

    it("passes its deadline on: a child's deadline is the earlier one", () => {
      const due = Date.now() + 60_000;
      const custom = new ManualContext(due);
      const [plain, c1] = withCancel(custom);
      assert.equal(plain.deadline(), due);
      const [later, c2] = withTimeout(custom, 120_000);
      assert.equal(later.deadline(), due);
      assert.equal(String(later), "ManualContext.WithCancel");
      const [sooner, c3] = withTimeout(custom, 1_000);
      assert.ok(sooner.deadline()! < due);
      assert.match(String(sooner), /^ManualContext\.WithDeadline\(/);
      assert.equal(withoutCancel(custom).deadline(), undefined);
      c1();
      c2();
      c3();
    });

    it("passes its values on through every kind of child", () => {
      const k = createKey<string>("k");
      const custom = new ManualContext(undefined, [[k, "v"]]);
      const [a, ca] = withCancel(custom);
      const [b, cb] = withTimeout(a, 60_000);
      const c = withValue(b, createKey("other"), 0);
      const [d, cd] = withSignal(withoutCancel(c), new AbortController().signal);
      assert.equal(d.value(k), "v");
      cd();
      cb();
      ca();
    });

    it("gives a child born ended when it has already ended", () => {
      const custom = new ManualContext();
      custom.end(DeadlineExceeded);
      const [child, cancel] = withCancel(custom);
      assertEnded(child, DeadlineExceeded);
      const [t, cancelT] = withTimeout(custom, 60_000);
      assertEnded(t, DeadlineExceeded);
      cancel();
      cancelT();
    });

    it("is not ended by its children, and they take their listener with them", () => {
      const custom = new ManualContext();
      const children = Array.from({ length: 3 }, () => withCancelCause(custom));
      assert.equal(abortListeners(custom.signal), 1, "one native listener for many children");
      children[0]![1](new Error("x"));
      children[1]![1]();
      assert.equal(abortListeners(custom.signal), 1);
      children[2]![1]();
      assert.equal(abortListeners(custom.signal), 0);
      assert.equal(custom.err(), undefined);
      assert.equal(custom.signal.aborted, false);
      assert.equal(cause(children[0]![0]) instanceof Error, true);
    });

    it("does not end what was derived through withoutCancel", () => {
      const custom = new ManualContext();
      const [child, cancel] = withCancel(withoutCancel(custom));
      custom.end(Canceled);
      assertLive(child);
      cancel();
    });

    it("runs afterFunc when it ends", async () => {
      const custom = new ManualContext();
      let ran = 0;
      const fired = new Promise<void>((resolve) => afterFunc(custom, () => (ran++, resolve())));
      assert.equal(ran, 0);
      custom.end(Canceled);
      await fired;
      assert.equal(ran, 1);
    });

    it("prints as its class name", () => {
      const [child, cancel] = withCancel(new ManualContext());
      assert.equal(String(child), "ManualContext.WithCancel");
      assert.equal(String(withValue(child, createKey("k"), "v")), "ManualContext.WithCancel.WithValue(k, v)");
      cancel();
    });
  });
});

describe("withoutCancel", () => {
  it("keeps the parent's values", () => {
    const k = createKey<string>("k");
    const [parent, cancel] = withCancel(withValue(background(), k, "v"));
    const ctx = withoutCancel(parent);
    assert.equal(ctx.value(k), "v");
    cancel();
    assert.equal(ctx.value(k), "v");
  });

  it("never ends, has no deadline and no cause, even when its parent ends", () => {
    const [parent, cancel] = withTimeoutCause(background(), 60_000, new Error("too slow"));
    const ctx = withoutCancel(parent);
    assert.equal(ctx.deadline(), undefined);
    assert.equal(remaining(ctx), Infinity);
    cancel();
    assert.equal(parent.err(), Canceled);
    assertLive(ctx);
    assert.equal(ctx.done(), background().done());
  });

  it("is a parent whose children outlive the original parent", () => {
    const [parent, cancel] = withCancel(background());
    const [child, cancelChild] = withCancel(withoutCancel(parent));
    const [grand, cancelGrand] = withDeadlineCause(child, Date.now() + 60_000, new Error("slow"));
    cancel();
    assertLive(child, "child");
    assertLive(grand, "grandchild");
    cancelChild();
    assertEnded(grand, Canceled);
    cancelGrand();
  });

  it("gives a live context even when the parent has already ended", () => {
    const [parent, cancel] = withCancelCause(background());
    cancel(new Error("gone"));
    const ctx = withoutCancel(parent);
    assertLive(ctx);
    const [child, cancelChild] = withCancel(ctx);
    assertLive(child);
    cancelChild();
    assertEnded(child, Canceled);
  });
});

describe("bad input", () => {
  const bg = background();
  const key = createKey<number>("k");
  const fn = (): void => {};
  const notContexts: unknown[] = [null, undefined, {}, 42, "ctx", fn, { deadline: fn, done: fn, err: fn, value: fn }];
  type AnyFn = (...args: unknown[]) => unknown;
  const parentTakers: [string, AnyFn, unknown[]][] = [
    ["withCancel", withCancel as AnyFn, []],
    ["withCancelCause", withCancelCause as AnyFn, []],
    ["withTimeout", withTimeout as AnyFn, [1000]],
    ["withTimeoutCause", withTimeoutCause as AnyFn, [1000, new Error("c")]],
    ["withDeadline", withDeadline as AnyFn, [Date.now() + 1000]],
    ["withDeadlineCause", withDeadlineCause as AnyFn, [Date.now() + 1000, new Error("c")]],
    ["withValue", withValue as AnyFn, [key, 1]],
    ["withoutCancel", withoutCancel as AnyFn, []],
    ["withSignal", withSignal as AnyFn, [new AbortController().signal]],
    ["afterFunc", afterFunc as AnyFn, [fn]],
    ["cause", cause as AnyFn, []],
    ["remaining", remaining as AnyFn, []],
  ];
  for (const [name, f, rest] of parentTakers) {
    it(`${name} throws a TypeError naming itself for a non-Context`, () => {
      for (const bad of notContexts) {
        assert.throws(() => f(bad, ...rest), (e: unknown) => {
          assert.ok(e instanceof TypeError, `${name}(${String(bad)}): ${String(e)}`);
          assert.match(e.message, new RegExp(`^${name}: `));
          return true;
        });
      }
    });
  }

  const argTable: [string, () => unknown, RegExp][] = [
    ["withValue with a string key", () => withValue(bg, "k" as unknown as Key<number>, 1), /^withValue: /],
    ["withValue with a symbol key", () => withValue(bg, Symbol("k") as unknown as Key<number>, 1), /^withValue: /],
    ["withValue with a look-alike key", () => withValue(bg, { name: "k" } as unknown as Key<number>, 1), /^withValue: /],
    ["withValue with no key", () => withValue(bg, undefined as unknown as Key<number>, 1), /^withValue: /],
    ["createKey with a number", () => createKey(42 as unknown as string), /^createKey: /],
    ["withTimeout with NaN", () => withTimeout(bg, NaN), /^withTimeout: .*NaN/],
    ["withTimeout with a numeric string", () => withTimeout(bg, "5" as unknown as number), /^withTimeout: /],
    ["withTimeout with no timeout", () => withTimeout(bg, undefined as unknown as number), /^withTimeout: /],
    ["withTimeout with a bigint", () => withTimeout(bg, 5n as unknown as number), /^withTimeout: /],
    ["withTimeoutCause with NaN", () => withTimeoutCause(bg, NaN, new Error("c")), /^withTimeoutCause: /],
    ["withDeadline with an invalid Date", () => withDeadline(bg, new Date("x")), /^withDeadline: /],
    ["withDeadline with NaN", () => withDeadline(bg, NaN), /^withDeadline: /],
    ["withDeadline with a date string", () => withDeadline(bg, "2030-01-01" as unknown as number), /^withDeadline: /],
    ["withDeadlineCause with an invalid Date", () => withDeadlineCause(bg, new Date(NaN), 1), /^withDeadlineCause: /],
    ["withSignal with a plain object", () => withSignal(bg, {} as AbortSignal), /^withSignal: /],
    ["withSignal with null", () => withSignal(bg, null as unknown as AbortSignal), /^withSignal: /],
    ["withSignal with a number", () => withSignal(bg, 42 as unknown as AbortSignal), /^withSignal: /],
    ["afterFunc with a number for f", () => afterFunc(bg, 5 as unknown as () => void), /^afterFunc: /],
    ["afterFunc with no f", () => afterFunc(bg, undefined as unknown as () => void), /^afterFunc: /],
  ];
  for (const [name, call, message] of argTable) {
    it(`throws a TypeError for ${name}`, () => {
      assert.throws(call, (e: unknown) => {
        assert.ok(e instanceof TypeError, String(e));
        assert.match(e.message, message);
        return true;
      });
    });
  }

  it("names the bad timeout in the message", () => {
    assert.throws(() => withTimeout(bg, NaN), {
      name: "TypeError",
      message: "withTimeout: timeout must be a number of milliseconds, got `NaN` (number)",
    });
  });

  it("describes a valid Date given as a timeout as what it is, not as an invalid Date", () => {
    assert.throws(() => withTimeout(bg, new Date(Date.now() + 1000) as unknown as number), (e: unknown) => {
      assert.ok(e instanceof TypeError, String(e));
      assert.match(e.message, /^withTimeout: /);
      assert.doesNotMatch(e.message, /invalid Date/);
      return true;
    });
  });

  it("throws a TypeError naming the function for a parent whose signal is not an AbortSignal", () => {
    const fake = { deadline: () => undefined, done: () => bg.done(), err: () => undefined, value: () => undefined, signal: 42 };
    assert.throws(() => withCancel(fake as unknown as Context), (e: unknown) => {
      assert.ok(e instanceof TypeError, String(e));
      assert.match(e.message, /^withCancel: /);
      return true;
    });
  });

  it("leaves nothing behind when it throws: the parent stays usable", () => {
    const [parent, cancel] = withCancel(bg);
    assert.throws(() => withTimeout(parent, NaN), TypeError);
    assert.throws(() => withDeadline(parent, new Date("x")), TypeError);
    const [child, cancelChild] = withCancel(parent);
    cancel();
    assertEnded(child, Canceled);
    cancelChild();
  });
});

after(() => assertNoLeaks());
