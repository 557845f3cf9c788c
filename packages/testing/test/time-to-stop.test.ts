import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { background, go, withCancel, type Task } from "@lifeline/core";
import { assertNoLeaks, findLeaks, onTaskStopped, slowStoppers, taskStopStats, TestScope } from "@lifeline/testing";

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** stubborn starts a task that keeps running after its context ends, until `release` is called. */
function stubborn(name: string): { task: Task<void>; cancel: () => void; release: () => void } {
  const [ctx, cancel] = withCancel(background());
  const gate = deferred();
  const task = go(ctx, () => gate.promise, { name });
  return { task, cancel, release: gate.resolve };
}

describe("time-to-stop", () => {
  it("records, for a task that settles after its context ended, how long it took to stop", async () => {
    const seen: [string, number][] = [];
    const off = onTaskStopped((task, ms) => seen.push([task.name, ms]));
    const before = taskStopStats();
    const s = stubborn("slow to stop");
    s.cancel();
    await new Promise((r) => setTimeout(r, 30));
    s.release();
    await s.task;
    off();
    const mine = seen.filter(([name]) => name === "slow to stop");
    assert.equal(mine.length, 1);
    const ms = mine[0]![1];
    assert.ok(ms >= 25, `time-to-stop ${ms}ms`);
    const stats = taskStopStats();
    assert.equal(stats.count, before.count + 1);
    assert.ok(stats.maxMs >= ms);
    assert.ok(Math.abs(stats.sumMs - before.sumMs - ms) < 1e-9);
    // Cumulative buckets: the first bound that holds ms counts it, and so does every later one.
    const bucket = (le: number) => stats.buckets.find((b) => b.le === le)!.count - before.buckets.find((b) => b.le === le)!.count;
    assert.equal(bucket(10), 0);
    assert.equal(bucket(Infinity), 1);
    assert.equal(stats.buckets.at(-1)!.count, stats.count);
  });

  it("does not count a task that finished while its context was live", async () => {
    const seen: string[] = [];
    const off = onTaskStopped((task) => seen.push(task.name));
    const before = taskStopStats().count;
    const [ctx, cancel] = withCancel(background());
    await go(ctx, () => {}, { name: "on time" });
    cancel();
    off();
    assert.deepEqual(seen, []);
    assert.equal(taskStopStats().count, before);
  });

  it("slowStoppers lists live tasks whose context ended more than the threshold ago", async () => {
    const s = stubborn("ignores its ctx");
    assert.equal(slowStoppers(0).filter((x) => x.task === s.task).length, 0, "its ctx is live");
    s.cancel();
    await new Promise((r) => setTimeout(r, 15));
    const slow = slowStoppers(10).filter((x) => x.task === s.task);
    assert.equal(slow.length, 1);
    assert.ok(slow[0]!.ignoringMs >= 10);
    assert.match(slow[0]!.stack, /stubborn/);
    assert.equal(slowStoppers(60_000).filter((x) => x.task === s.task).length, 0);
    s.release();
    await s.task;
    assert.equal(slowStoppers(0).filter((x) => x.task === s.task).length, 0, "it is done");
    assert.throws(() => slowStoppers(-1), TypeError);
  });

  it("flags a leaked task as ignoringCancellation in the leak report past stopThresholdMs", async () => {
    const scope = new TestScope("stubborn test");
    const s = scope.run(() => stubborn("stubborn"));
    s.cancel();
    await new Promise((r) => setTimeout(r, 15));
    const [leak] = await findLeaks(scope, { retryMs: 0, stopThresholdMs: 10 });
    assert.equal(leak?.what, "stubborn");
    assert.equal(leak.ignoringCancellation, true);
    const [notYet] = await findLeaks(scope, { retryMs: 0 }); // default threshold: 1 s
    assert.equal(notYet?.ignoringCancellation, false);
    s.release();
    await s.task;
  });

  it("rejects a handler that is not a function", () => {
    assert.throws(() => onTaskStopped("x" as unknown as () => void), TypeError);
  });
});

describe("onTaskStopped handlers that throw (issue 9)", () => {
  it("neither silence the other handlers nor swallow the task's failure report; their error is reported", async () => {
    const { spawn } = await import("node:child_process");
    const core = import.meta.resolve("@lifeline/core");
    const testing = import.meta.resolve("@lifeline/testing");
    const code = `const L = await import(${JSON.stringify(core)});
const T = await import(${JSON.stringify(testing)});
process.on("unhandledRejection", (e) => console.log("unhandled", e.message));
L.setTaskFailureHandler((e) => console.log("reported", e.cause.message));
T.onTaskStopped(() => { throw new Error("handler broke"); });
T.onTaskStopped((t) => console.log("second handler", t.name));
const [ctx, cancel] = L.withCancel(L.background());
cancel();
L.go(ctx, async () => { throw new Error("boom"); }, { name: "failing" });`;
    const out = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, ["--input-type=module", "-e", code], { timeout: 10_000 });
      let stdout = "";
      let stderr = "";
      p.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      p.on("close", (status) => resolve({ status, stdout, stderr }));
    });
    assert.equal(out.status, 0, out.stderr);
    assert.deepEqual(out.stdout.trim().split("\n").sort(), ["reported boom", "second handler failing", "unhandled handler broke"]);
  });
});

describe("time-to-stop clocks", () => {
  it("are monotonic with sub-millisecond resolution: stopMs is since - ctxEndedAt on performance's clock", async () => {
    const seen: number[] = [];
    const off = onTaskStopped((task, ms) => {
      if (task.name === "quick stop") seen.push(ms, task.since - task.ctxEndedAt!);
    });
    const before = performance.timeOrigin + performance.now();
    const s = stubborn("quick stop");
    s.cancel();
    s.release();
    await s.task;
    off();
    const after = performance.timeOrigin + performance.now();
    assert.equal(seen.length, 2);
    assert.equal(seen[0], seen[1]);
    assert.ok(s.task.ctxEndedAt! >= before && s.task.since <= after, "read on performance.timeOrigin + performance.now()");
    assert.ok(seen[0]! >= 0 && seen[0]! < after - before + 1e-9);
  });
});

after(() => assertNoLeaks());
