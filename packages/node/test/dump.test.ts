import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import { background, captureTaskStacks, Channel, go, recv, select, sleep, withCancel, withCancelCause, withTimeout } from "@lifeline/core";
import { dumpHandler, formatTaskDump, installDumpSignal, taskDump, type TaskDumpEntry } from "@lifeline/node";

/** scene starts a blocked receiver, a sleeper, and a task that ignores its cancelled context. */
function scene() {
  const [ctx, cancel] = withTimeout(background(), 60_000);
  const [gone, leave] = withCancelCause(background());
  const ch = new Channel<number>();
  const release = new Channel<void>();
  const tasks = [
    go(ctx, (c) => select([recv(c.done()), recv(ch)]), { name: "report" }),
    go(ctx, (c) => sleep(c, 5000), { name: "poller" }),
    // Ignores its context: waits on a channel with background().
    go(gone, () => release.recv(background()), { name: "ignorer" }),
  ];
  leave(new Error("client disconnected"));
  return {
    tasks,
    async stop() {
      release.close();
      cancel();
      await Promise.allSettled(tasks);
    },
  };
}

describe("the task dump", () => {
  it("lists every live task with its state, what it is blocked on, its context and why that ended", async () => {
    const s = scene();
    await new Promise((r) => setImmediate(r)); // let the tasks start
    try {
      const dump = taskDump();
      const byName = new Map(dump.map((e) => [e.name, e]));
      assert.equal(byName.get("report")?.state, "blocked");
      assert.equal(byName.get("report")?.blockedOn, "select (2 cases)");
      assert.equal(byName.get("poller")?.blockedOn, "sleep 5000ms");
      assert.match(byName.get("poller")!.context, /^context\.Background\.WithDeadline\(/);
      assert.ok(byName.get("poller")!.deadlineInMs! > 50_000);
      const ignorer = byName.get("ignorer")!;
      // Its wait names no task's context, but the testing tracker follows async context: it is the ignorer's wait.
      assert.equal(ignorer.state, "blocked", "a wait on background() made by the task is attributed to it");
      assert.equal(ignorer.blockedOn, "chan recv");
      assert.equal(ignorer.err, "context canceled");
      assert.equal(ignorer.cause, "Error: client disconnected");
      assert.ok(ignorer.ignoringCancellationMs! >= 0);
      assert.doesNotThrow(() => JSON.stringify(dump));

      const text = formatTaskDump(dump);
      assert.match(text, /^lifeline task dump: 3 live tasks at /);
      assert.match(text, /\n {2}task \d+ "report": blocked on select \(2 cases\) for \d+ms\n/);
      assert.match(text, /\[ended: context canceled; cause: Error: client disconnected\]\n {2}task \d+ "ignorer": blocked on chan recv for \d+ms — ignoring cancellation for \d+ms/);
    } finally {
      await s.stop();
    }
    assert.deepEqual(
      taskDump().filter((e) => ["report", "poller", "ignorer"].includes(e.name)),
      [],
    );
  });

  it("groups tasks by the identity of their context, not by its String (issue 9)", async () => {
    const [timed, cancelTimed] = withTimeout(background(), 60_000);
    const [b, cancelB] = withCancel(background());
    const [c, cancelC] = withCancel(background());
    const ch = new Channel<void>();
    const started = [
      go(timed, (x) => ch.recv(x), { name: "g-timed-1" }),
      go(timed, (x) => ch.recv(x), { name: "g-timed-2" }),
      go(b, (x) => ch.recv(x), { name: "g-b" }),
      go(c, (x) => ch.recv(x), { name: "g-c" }),
    ];
    try {
      const dump = taskDump().filter((e) => e.name.startsWith("g-"));
      assert.equal(dump.length, 4);
      const [t1, t2, eb, ec] = dump as [TaskDumpEntry, TaskDumpEntry, TaskDumpEntry, TaskDumpEntry];
      assert.equal(t1.contextId, t2.contextId);
      assert.equal(eb.context, ec.context, "two contexts that print alike");
      assert.notEqual(eb.contextId, ec.contextId);
      // The time left is part of String(ctx): read a moment apart, one context prints two ways.
      t2.context = t2.context.replace(/\[-?\d+ms\]/, "[1ms]");
      assert.notEqual(t1.context, t2.context);
      const text = formatTaskDump(dump);
      const headers = text.split("\n").slice(1).filter((l) => l !== "" && !l.startsWith(" "));
      assert.equal(headers.length, 3, text);
      assert.match(text, /WithDeadline\(.*\n {2}task \d+ "g-timed-1".*\n {2}task \d+ "g-timed-2"/);
    } finally {
      ch.close();
      await Promise.all(started);
      cancelTimed();
      cancelB();
      cancelC();
    }
  });

  it("shows where a task was started when stacks are captured", async () => {
    const previous = captureTaskStacks(true);
    const ch = new Channel<void>();
    const t = go(background(), () => ch.recv(background()), { name: "traced" });
    captureTaskStacks(previous);
    try {
      const text = formatTaskDump();
      assert.match(text, /task \d+ "traced": .*\n {6}started at .*dump\.test\.js:\d+:\d+/);
    } finally {
      ch.close();
      await t;
    }
  });

  it("is served over HTTP as text, and as JSON on request", async () => {
    const ch = new Channel<void>();
    const t = go(background(), (c) => ch.recv(c), { name: "served" });
    const server = http.createServer(dumpHandler()).listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const { port } = server.address() as { port: number };
      const text = await (await fetch(`http://127.0.0.1:${port}/debug/lifeline/tasks`)).text();
      assert.match(text, /task \d+ "served": blocked on chan recv/);
      const res = await fetch(`http://127.0.0.1:${port}/debug/lifeline/tasks?format=json`);
      assert.equal(res.headers.get("content-type"), "application/json");
      const json = (await res.json()) as Array<{ name: string; blockedOn: string }>;
      assert.equal(json.find((e) => e.name === "served")?.blockedOn, "chan recv");
    } finally {
      server.close();
      ch.close();
      await t;
    }
  });

  // SIGWINCH, not the default SIGUSR2: under `node --test` on Node 24+, SIGUSR2 also writes a diagnostic report
  // file (--report-signal), which a test must not leave behind.
  it("is printed on its signal once installed, and not after removal", async () => {
    const written: string[] = [];
    const before = process.listenerCount("SIGWINCH");
    const remove = installDumpSignal("SIGWINCH", (s) => written.push(s));
    const got = once(process, "SIGWINCH");
    const alive = setInterval(() => {}, 1000); // a signal handler alone does not keep the process alive
    process.kill(process.pid, "SIGWINCH");
    await got;
    clearInterval(alive);
    remove();
    assert.equal(written.length, 1);
    assert.match(written[0]!, /^lifeline task dump: /);
    assert.equal(process.listenerCount("SIGWINCH"), before);
  });
});

after(() => {
  assert.equal(taskDump().length, 0, "no task left behind by this file");
});

after(() => assertNoLeaks());
