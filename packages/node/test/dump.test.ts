import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import { background, captureTaskStacks, Channel, go, recv, select, sleep, withCancelCause, withTimeout } from "@lifeline/core";
import { dumpHandler, formatTaskDump, installDumpSignal, taskDump } from "@lifeline/node";

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
      assert.equal(ignorer.state, "running", "waiting on background() is not attributed to the task");
      assert.equal(ignorer.err, "context canceled");
      assert.equal(ignorer.cause, "Error: client disconnected");
      assert.ok(ignorer.ignoringCancellationMs! >= 0);
      assert.doesNotThrow(() => JSON.stringify(dump));

      const text = formatTaskDump(dump);
      assert.match(text, /^lifeline task dump: 3 live tasks at /);
      assert.match(text, /\n {2}task \d+ "report": blocked on select \(2 cases\) for \d+ms\n/);
      assert.match(text, /\[ended: context canceled; cause: Error: client disconnected\]\n {2}task \d+ "ignorer": running for \d+ms — ignoring cancellation for \d+ms/);
    } finally {
      await s.stop();
    }
    assert.deepEqual(
      taskDump().filter((e) => ["report", "poller", "ignorer"].includes(e.name)),
      [],
    );
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
