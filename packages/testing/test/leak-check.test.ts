import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { background, Channel, go, sleep, withCancel, type CancelFunc, type Context } from "@lifeline/core";
import {
  assertNoLeaks,
  captureStacks,
  checkLeaks,
  findLeaks,
  leakCheck,
  LeakError,
  snapshot,
  TestScope,
  type Leak,
} from "@lifeline/testing";
import { forgottenCancel, forgottenTimeout, foreverSelect, neverFed, selectingTask, unstoppedTicker, type Fixture } from "./fixtures.js";

// ---- helpers ---------------------------------------------------------------------------------------------------

/** root returns a context for fixtures, made outside their scope, and the cancel that ends them all. */
function root(): [Context, CancelFunc] {
  return withCancel(background());
}

/** scoped runs `make` in a fresh TestScope named `name`. */
function scoped<T>(name: string, make: () => T): [TestScope, T] {
  const scope = new TestScope(name);
  return [scope, scope.run(make)];
}

/** firstFrame is the first line of a creation stack. */
function firstFrame(stack: string): string {
  return stack.split("\n")[0] ?? "";
}

function assertSite(stack: string, site: string): void {
  // `site` is file:line; the frame adds a column.
  assert.ok(firstFrame(stack).includes(site + ":"), `expected the first frame at ${site}, got:\n${stack}`);
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const quick = { retryMs: 10 } as const;

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// ---- the four fixtures -----------------------------------------------------------------------------------------

describe("findLeaks reports each fixture with its test, creation site and what it waits on", () => {
  it(
    "a task blocked on a channel that is never fed",
    leakCheck(async () => {
      const [ctx, cancel] = root();
      const [scope, fx] = scoped("fixture: never fed", () => neverFed(ctx));
      await sleep(ctx, 5); // let the task park
      const leaks = await findLeaks(scope, quick);
      assert.equal(leaks.length, 1, String(leaks.map((l) => l.what)));
      const [leak] = leaks as [Leak];
      assert.equal(leak.kind, "task");
      assert.equal(leak.what, "never-fed");
      assert.equal(leak.test, "fixture: never fed");
      assert.equal(leak.task?.name, "never-fed");
      assert.equal(leak.task?.state, "blocked");
      assert.equal(leak.task?.blockedOn, "chan recv");
      assert.equal(leak.task?.id, fx.task.id);
      assert.equal(leak.ignoringCancellation, false);
      assertSite(leak.stack, fx.site);
      assertSite(leak.task?.parkedAt ?? "", fx.parkedSite!);
      assert.ok(leak.ageMs >= 5 && leak.task!.stateMs >= 0, `age ${leak.ageMs}`);
      fx.cleanup();
      await fx.task;
      assert.deepEqual(await findLeaks(scope, quick), []);
      cancel();
    }),
  );

  it(
    "a forgotten withTimeout",
    leakCheck(async () => {
      const [ctx, cancel] = root();
      const [scope, fx] = scoped("fixture: forgotten timeout", () => forgottenTimeout(ctx));
      const leaks = await findLeaks(scope, quick);
      assert.equal(leaks.length, 1);
      const [leak] = leaks as [Leak];
      assert.equal(leak.kind, "context");
      assert.match(leak.what, /^context\.Background\.WithCancel\.WithDeadline\(/);
      assert.equal(leak.test, "fixture: forgotten timeout");
      assert.ok(leak.remainingMs! > 50_000 && leak.remainingMs! <= 60_000, `remaining ${leak.remainingMs}`);
      assert.equal(leak.collected, false);
      assertSite(leak.stack, fx.site);
      cancel(); // the parent's cancel ends the child too
      assert.deepEqual(await findLeaks(scope, quick), []);
    }),
  );

  it(
    "a ticker never stopped",
    leakCheck(async () => {
      const [ctx, cancel] = root();
      const [scope, fx] = scoped("fixture: ticker", () => unstoppedTicker(ctx));
      const leaks = await findLeaks(scope, quick);
      assert.equal(leaks.length, 1);
      const [leak] = leaks as [Leak];
      assert.equal(leak.kind, "timer");
      assert.equal(leak.what, "ticker 100ms");
      assert.equal(leak.test, "fixture: ticker");
      assertSite(leak.stack, fx.site);
      cancel();
      assert.deepEqual(await findLeaks(scope, quick), []);
    }),
  );

  it(
    "a select parked forever, outside any task",
    leakCheck(async () => {
      const [scope, fx] = scoped("fixture: select", () => foreverSelect());
      const leaks = await findLeaks(scope, quick);
      assert.equal(leaks.length, 1);
      const [leak] = leaks as [Leak];
      assert.equal(leak.kind, "wait");
      assert.equal(leak.what, "select (3 cases)");
      assert.equal(leak.test, "fixture: select");
      assertSite(leak.stack, fx.site);
      await fx.cleanup();
      assert.deepEqual(await findLeaks(scope, quick), []);
    }),
  );

  it(
    "a task parked in a select: one leak, the task, with where it parks",
    leakCheck(async () => {
      const [ctx, cancel] = root();
      const [scope, fx] = scoped("fixture: selecting task", () => selectingTask(ctx));
      await sleep(ctx, 5);
      const leaks = await findLeaks(scope, quick);
      assert.equal(leaks.length, 1, leaks.map((l) => l.what).join(", "));
      const [leak] = leaks as [Leak];
      assert.equal(leak.kind, "task");
      assert.equal(leak.task?.blockedOn, "select (3 cases)");
      assertSite(leak.stack, fx.site);
      assertSite(leak.task?.parkedAt ?? "", fx.parkedSite!);
      await fx.cleanup();
      cancel();
    }),
  );

  it(
    "prints each leak in the LeakError message: kind, what, state, age, test and sites",
    leakCheck(async () => {
      const [ctx, cancel] = root();
      const fixtures: Fixture[] = [];
      const check = leakCheck(
        async () => {
          fixtures.push(neverFed(ctx), forgottenTimeout(ctx), unstoppedTicker(ctx), foreverSelect());
          await sleep(ctx, 5);
        },
        quick,
      );
      const error = await check({ name: "leaky test" }).then(
        () => assert.fail("expected a LeakError"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof LeakError);
      assert.equal(error.name, "LeakError");
      assert.equal(error.code, "ERR_LIFELINE_LEAK");
      assert.equal(error.leaks.length, 4);
      const m = error.message;
      assert.match(m, /^4 leaks in test "leaky test":\n/);
      assert.match(m, /task \d+ "never-fed" blocked on chan recv for \d+ms \(started \d+ms ago\)/);
      assert.match(m, /context never cancelled: context\.Background\.WithCancel\.WithDeadline\(.*\) \(made \d+ms ago, deadline in (59|60)(\.\d+)?s\)/);
      assert.match(m, /ticker 100ms still armed \(made \d+ms ago\)/);
      assert.match(m, /parked on select \(3 cases\) for \d+ms, outside any task/);
      for (const fx of fixtures) assert.match(m, new RegExp(`created at \\w+ \\(${escape(fx.site)}:`));
      assert.match(m, new RegExp(`parked at \\w+ \\(${escape(fixtures[0]!.parkedSite!)}:`));
      // The frames under a site line up under its first `at`.
      assert.match(m, /\n {4}created at neverFed \(.*\n {12}at /);
      assert.ok(error.stack!.startsWith("LeakError: 4 leaks"));
      cancel();
      await Promise.all(fixtures.map((fx) => fx.cleanup()));
    }),
  );
});

// ---- clean tests, retry, concurrency ---------------------------------------------------------------------------

describe("the leak report, by identity (issue 9)", () => {
  it("folds every pending wait of a leaked task into the task, none 'outside any task'", async () => {
    const [ctx, cancel] = root();
    const ch = new Channel<number>();
    const [scope, task] = scoped("two waits", () =>
      go(ctx, (c) => Promise.all([ch.recv(c), sleep(c, Infinity)]), { name: "two-waits" }),
    );
    while (task.state !== "blocked") await new Promise((r) => setImmediate(r));
    const leaks = await findLeaks(scope, { retryMs: 0 });
    cancel();
    await task.then(undefined, () => {});
    assert.deepEqual(
      leaks.map((l) => l.kind),
      ["task"],
      leaks.map((l) => `${l.kind} ${l.what}`).join("; "),
    );
    const t = leaks[0]!.task!;
    assert.equal(t.blockedOn, "chan recv, sleep Infinityms");
    assert.deepEqual(
      t.parked.map((p) => p.what),
      ["chan recv", "sleep Infinityms"],
    );
    const text = new LeakError(leaks).message;
    assert.doesNotMatch(text, /outside any task/);
    assert.equal(text.match(/\n {4}parked at /g)?.length, 2, text);
  });

  it("names the task a wait blocks when the wait is reported alone", async () => {
    const [ctx, cancel] = root();
    const ch = new Channel<number>();
    // The task is made before the mark, its wait (in a microtask, once it starts) after: only the wait is checked.
    const [scope, [task, mark]] = scoped("wait alone", () => [go(ctx, (c) => ch.recv(c), { name: "waiter" }), snapshot()] as const);
    while (task.state !== "blocked") await new Promise((r) => setImmediate(r));
    const leaks = await findLeaks(scope, { retryMs: 0, ignoreExisting: mark });
    cancel();
    await task.then(undefined, () => {});
    assert.equal(leaks.length, 1);
    assert.equal(leaks[0]!.kind, "wait");
    assert.deepEqual(leaks[0]!.blocks, { id: task.id, name: "waiter" });
    assert.match(new LeakError(leaks).message, new RegExp(`parked on chan recv for \\d+ms, in task ${task.id} "waiter"`));
  });

  it("with retryMs: Infinity keeps looking, with bounded pauses, until the leak ends", { timeout: 10_000 }, async () => {
    // Each look tests the leak's description against ignoreNames once: count the looks, end the leak at the 15th.
    // Doubling pauses without a bound would take 2^14 ms (16 s) to get there; bounded at 100 ms, about a second.
    let cancel!: CancelFunc;
    let looks = 0;
    class Counting extends RegExp {
      override test(): boolean {
        if (++looks === 15) cancel();
        return false;
      }
    }
    const [scope] = scoped("retry forever", () => {
      [, cancel] = withCancel(background());
    });
    const leaks = await findLeaks(scope, { retryMs: Infinity, ignoreNames: [new Counting("never")] });
    assert.deepEqual(leaks, []);
    assert.equal(looks, 15);
  });
});

describe("leakCheck", () => {
  it(
    "passes a test that cancels what it made and waits for its tasks",
    leakCheck(async () => {
      const [ctx, cancel] = root();
      const ch = new Channel<number>(1);
      const t = go(ctx, async (c) => {
        await ch.send(c, 1);
        await sleep(c, 1);
      });
      await t;
      cancel();
    }),
  );

  it(
    "reports nothing for a clean scope",
    leakCheck(async () => {
      const [scope] = scoped("clean", () => {
        const [, cancel] = root();
        cancel();
      });
      assert.deepEqual(await findLeaks(scope, { retryMs: 0 }), []);
    }),
  );

  it(
    "retries: a task that finishes 20 ms after the test body is not a leak",
    leakCheck(async () => {
      const bg = background();
      const late = leakCheck(() => {
        go(bg, (ctx) => sleep(ctx, 20), { name: "late" });
      });
      const start = Date.now();
      await late({ name: "finishes late" });
      assert.ok(Date.now() - start >= 15, "the check waited for the task");
    }),
  );

  it(
    "without retry, the same task is reported",
    leakCheck(async () => {
      const bg = background();
      const [scope, task] = scoped("no retry", () => go(bg, (ctx) => sleep(ctx, 20), { name: "late" }));
      const leaks = await findLeaks(scope, { retryMs: 0 });
      assert.deepEqual(
        leaks.map((l) => l.what),
        ["late"],
      );
      await task;
    }),
  );

  it(
    "gives two concurrent tests only their own leaks",
    leakCheck(async () => {
      const [ctx, cancel] = root();
      const bothMade = deferred();
      let made = 0;
      const oneMade = async () => {
        if (++made === 2) bothMade.resolve();
        await bothMade.promise; // both tests hold their leaks while both checks run
      };
      const a = leakCheck(async () => {
        await sleep(ctx, 1);
        unstoppedTicker(ctx);
        await oneMade();
      }, quick);
      const b = leakCheck(async () => {
        neverFed(ctx, "b-task");
        await oneMade();
        forgottenCancel(ctx);
      }, quick);
      const [ra, rb] = await Promise.allSettled([a({ name: "A" }), b({ name: "B" })]);
      assert.equal(ra.status, "rejected");
      assert.equal(rb.status, "rejected");
      const la = (ra as PromiseRejectedResult).reason as LeakError;
      const lb = (rb as PromiseRejectedResult).reason as LeakError;
      assert.deepEqual(
        la.leaks.map((l) => [l.test, l.kind, l.what]),
        [["A", "timer", "ticker 100ms"]],
      );
      assert.deepEqual(
        lb.leaks.map((l) => [l.test, l.kind]),
        [
          ["B", "task"],
          ["B", "context"],
        ],
      );
      assert.equal(lb.leaks[0]!.what, "b-task");
      cancel();
    }),
  );

  it(
    "rethrows the test's own error and drops what it left unchecked",
    leakCheck(async () => {
      const [ctx, cancel] = root();
      const failing = leakCheck(() => {
        forgottenCancel(ctx);
        throw new Error("boom");
      });
      await assert.rejects(failing({ name: "fails" }), /boom/);
      cancel();
    }),
  );

  it(
    "names the scope after the test: node:test's fullName or name, Vitest's task.name",
    leakCheck(async () => {
      const [ctx, cancel] = root();
      const check = leakCheck(() => void forgottenCancel(ctx), { retryMs: 0 });
      const nameOf = (arg: unknown) =>
        check(arg).then(
          () => assert.fail("expected a LeakError"),
          (e: LeakError) => e.leaks[0]!.test,
        );
      assert.equal(await nameOf({ name: "plain" }), "plain");
      assert.equal(await nameOf({ name: "n", fullName: "suite > n" }), "suite > n");
      assert.equal(await nameOf({ task: { name: "vitest test" } }), "vitest test");
      const named = leakCheck(function namedTest() {
        forgottenCancel(ctx);
      }, { retryMs: 0 });
      await assert.rejects(named(undefined), (e: LeakError) => e.leaks[0]!.test === "namedTest");
      cancel();
    }),
  );

  it(
    "reports without a creation site when stack capture is off",
    leakCheck(async () => {
      const [ctx, cancel] = root();
      const previous = captureStacks(false);
      let scope: TestScope;
      try {
        [scope] = scoped("no stacks", () => forgottenCancel(ctx));
      } finally {
        assert.equal(captureStacks(previous), false);
      }
      const leaks = await findLeaks(scope, quick);
      assert.equal(leaks[0]?.stack, "");
      assert.doesNotMatch(new LeakError(leaks).message, /created/);
      assert.throws(() => captureStacks("yes" as unknown as boolean), TypeError);
      cancel();
    }),
  );

  it(
    "under node:test, names the scope after the test and checks after the test's own t.after hooks",
    leakCheck(async (t) => {
      let seen: (string | undefined)[] = [];
      let expected = "";
      await t.test(
        "inner",
        leakCheck(async (inner) => {
          expected = inner.fullName ?? inner.name;
          const [, cancel] = root();
          inner.after(cancel); // runs before the check: no leak
          seen = (await findLeaks(undefined, { retryMs: 0 })).map((l) => l.test);
        }),
      );
      assert.ok(expected.endsWith("inner"), expected);
      assert.ok(seen.includes(expected), `${expected} not in ${String(seen)}`);
    }),
  );

  it("rejects a bad fn or bad options with a TypeError", () => {
    assert.throws(() => leakCheck(42 as unknown as () => void), TypeError);
    assert.throws(() => leakCheck(() => {}, { retryMs: -1 }), /retryMs/);
    assert.throws(() => leakCheck(() => {}, { ignoreNames: [42 as unknown as string] }), /ignoreNames/);
    assert.throws(() => leakCheck(() => {}, { ignoreExisting: { seq: 1 } as never }), /snapshot/);
  });
});

describe("leakCheck on tests that node:test runs concurrently", { concurrency: true }, () => {
  // A makes a context, then B makes one; A cancels its own and its check passes while B's is still alive; B
  // cancels only after that. Neither check sees the other's context.
  const aMade = deferred();
  const aChecked = deferred();
  const [ctx, cancel] = root();
  after(cancel);
  it("A", async (t) => {
    await leakCheck(async () => {
      const [, cancelA] = withCancel(ctx);
      aMade.resolve();
      await sleep(ctx, 5);
      cancelA();
    })(t);
    t.after(() => aChecked.resolve()); // added after leakCheck's own t.after hook: runs once A was checked
  });
  it(
    "B",
    leakCheck(async () => {
      await aMade.promise;
      const [, cancelB] = withCancel(ctx);
      await aChecked.promise;
      cancelB();
    }),
  );
});

// ---- options -----------------------------------------------------------------------------------------------------

describe("ignore options", () => {
  it(
    "ignoreNames drops by task name (string) or by what (RegExp)",
    leakCheck(async () => {
      const [ctx, cancel] = root();
      const [scope] = scoped("ignores", () => {
        neverFed(ctx, "known-worker");
        unstoppedTicker(ctx);
        forgottenCancel(ctx);
      });
      await sleep(ctx, 2);
      const leaks = await findLeaks(scope, { ...quick, ignoreNames: ["known-worker", /^ticker /] });
      assert.deepEqual(
        leaks.map((l) => l.kind),
        ["context"],
      );
      assert.equal((await findLeaks(scope, { ...quick, ignoreNames: [/worker$/] })).length, 2);
      // A string must match the whole description.
      assert.equal((await findLeaks(scope, { ...quick, ignoreNames: ["known"] })).length, 3);
      cancel();
    }),
  );

  it(
    "ignoreSites drops by creation site",
    leakCheck(async () => {
      const [ctx, cancel] = root();
      const [scope] = scoped("sites", () => {
        unstoppedTicker(ctx);
        withCancel(ctx); // made here, in this file
      });
      const leaks = await findLeaks(scope, { ...quick, ignoreSites: ["fixtures.js"] });
      assert.deepEqual(
        leaks.map((l) => l.kind),
        ["context"],
      );
      assert.deepEqual(await findLeaks(scope, { ...quick, ignoreSites: [/fixtures\.js|leak-check\.test\.js/] }), []);
      cancel();
    }),
  );

  it(
    "ignoreExisting leaves alone what was made before the snapshot",
    leakCheck(async () => {
      const [ctx, cancel] = root();
      const scope = new TestScope("snapshot");
      scope.run(() => forgottenCancel(ctx));
      const mark = snapshot();
      const fx = scope.run(() => forgottenTimeout(ctx));
      const leaks = await findLeaks(scope, { ...quick, ignoreExisting: mark });
      assert.equal(leaks.length, 1);
      assertSite(leaks[0]!.stack, fx.site);
      assert.equal((await findLeaks(scope, quick)).length, 2);
      cancel();
    }),
  );
});

// ---- the unwrapped checks ----------------------------------------------------------------------------------------

describe("checkLeaks and assertNoLeaks (outside any scope)", () => {
  it("checkLeaks reports what was made since the last check, named after the given test, once", async () => {
    await checkLeaks(); // start from a clean slate
    const [ctx, cancel] = root();
    const fx = forgottenCancel(ctx);
    const error = await checkLeaks({ ...quick, test: "sequential test" }).then(
      () => assert.fail("expected a LeakError"),
      (e: unknown) => e as LeakError,
    );
    assert.ok(error instanceof LeakError);
    // The root context and the forgotten child: both made here, both still alive.
    assert.deepEqual(
      error.leaks.map((l) => [l.test, l.kind]),
      [
        ["sequential test", "context"],
        ["sequential test", "context"],
      ],
    );
    assertSite(error.leaks[1]!.stack, fx.site);
    await checkLeaks(quick); // taken: not reported twice
    cancel();
  });

  it("checkLeaks leaves scoped entries to their scope's check", async () => {
    const [scope, [, cancel]] = scoped("other test", root);
    await checkLeaks(quick);
    assert.equal((await findLeaks(scope, quick)).length, 1);
    cancel();
  });

  it("assertNoLeaks reports what is alive, scoped or not, and passes once it ended", async () => {
    const [ctx, cancel] = root();
    const [, fx] = scoped("scoped", () => neverFed(ctx, "straggler"));
    await assert.rejects(assertNoLeaks(quick), (e: unknown) => {
      assert.ok(e instanceof LeakError);
      assert.deepEqual(e.leaks.map((l) => l.test).sort(), ["scoped", undefined]);
      assert.match(e.message, /^2 leaks:\n/);
      assert.match(e.message, /\[test "scoped"\] task \d+ "straggler"/);
      assert.match(e.message, /\[outside any checked test\] context never cancelled/);
      return true;
    });
    fx.cleanup();
    cancel();
    await fx.task;
    await assertNoLeaks(quick);
  });

  it("checkLeaks waits for work that is finishing", async () => {
    const [ctx, cancel] = root();
    // The task's sleep and the cancel may end in either order on a loaded machine (the sleep's timer can be re-armed
    // for the last millisecond): the task ends either way, and that is what the check must wait for.
    const t = go(ctx, (c) => sleep(c, 10).catch(() => {}), { name: "finishing" });
    setTimeout(cancel, 15);
    await checkLeaks();
    await t;
  });
});

after(() => assertNoLeaks());
