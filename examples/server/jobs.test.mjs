// The dashboard's jobs mode over HTTP: real Redis (127.0.0.1:6379, or REDIS_URL), real PostgreSQL, and the two
// worker processes startApp spawns. Without Redis these tests FAIL: they never skip.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { once } from "node:events";
import { spawn } from "node:child_process";
import { Job, Queue } from "bullmq";
import { background } from "@lifeline/core";
import { assertNoLeaks } from "@lifeline/testing";
import { startApp } from "./app.mjs";
import { parseRedisUrl } from "./jobs-mode.mjs";
import { alive, obliterate, poll, REDIS_URL, uniqueQueue, withLockedOrders } from "./jobs-test-support.mjs";

const stats = async (app) => (await fetch(`${app.url}/api/stats`, { signal: AbortSignal.timeout(10_000) })).json();

/** startReport POSTs /api/report and returns `{ next, abort }`: `next()` resolves with the next NDJSON message. */
async function startReport(app) {
  const controller = new AbortController();
  const res = await fetch(`${app.url}/api/report`, { method: "POST", signal: controller.signal });
  assert.equal(res.status, 200);
  const reader = res.body.pipeThrough(new globalThis.TextDecoderStream()).getReader();
  let buf = "";
  return {
    async next() {
      for (;;) {
        const nl = buf.indexOf("\n");
        if (nl >= 0) {
          const msg = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          return msg;
        }
        const { value, done } = await reader.read();
        if (done) return undefined;
        buf += value;
      }
    },
    abort: () => controller.abort(),
  };
}

/** until reads messages until one satisfies `predicate` (failing if the stream ends first). */
async function until(report, predicate) {
  const seen = [];
  for (;;) {
    const msg = await report.next();
    assert.notEqual(msg, undefined, `the stream ended; messages: ${JSON.stringify(seen)}`);
    seen.push(msg);
    if (predicate(msg)) return msg;
  }
}

describe("the dashboard in jobs mode (Redis, two worker processes)", () => {
  const queueName = uniqueQueue("http");
  let app;
  let queue;
  let pids;
  before(async () => {
    app = await startApp({ jobs: { redisUrl: REDIS_URL, queue: queueName }, report: { steps: 2, resamples: 5 } });
    queue = new Queue(queueName, { connection: parseRedisUrl(REDIS_URL) });
    const state = await app.db.ready(background());
    assert.equal(state.state, "ready", `these tests need PostgreSQL: ${state.message}`);
    const s = await poll("every worker's database ready", () => stats(app), (s) => s.jobs.workers.every((w) => w.database === "ready"));
    pids = s.jobs.workers.map((w) => w.pid);
    assert.equal(pids.length, 2);
    assert.ok(pids.every((pid) => pid !== process.pid && alive(pid)));
  });
  after(async () => {
    await app?.close(0);
    await queue?.close();
    await obliterate(queueName);
    // The worker processes stop with the dashboard: none is left behind.
    for (const pid of pids ?? []) assert.equal(alive(pid), false, `worker pid ${pid} still runs after close()`);
  });

  it("runs a report as a job on one of its worker processes and streams its progress", { timeout: 60_000 }, async () => {
    const report = await startReport(app);
    const started = await report.next();
    assert.deepEqual(started, { type: "started", id: 1, mode: "lifeline", steps: 2 });
    const job = await until(report, (m) => m.type === "job");
    assert.ok(pids.includes(job.pid), `ran on ${job.pid}, one of ${pids}`);
    const progress = [];
    const done = await until(report, (m) => (m.type === "progress" && progress.push(m.step), m.type === "done"));
    assert.deepEqual(progress, [1, 2]);
    assert.equal(done.result.worker, `${job.worker} (pid ${job.pid})`);
    assert.equal(done.result.customers, 10_000);
    assert.equal(await (await Job.fromId(queue, job.job)).getState(), "completed");
    const s = await stats(app);
    assert.ok(s.events.some((e) => e.text.startsWith(`report #1: finished in `) && e.text.endsWith(` on ${job.worker} (pid ${job.pid})`)));
  });

  it("a client that leaves mid-report cancels its job on the worker that runs it", { timeout: 60_000 }, async () => {
    const { job, worker, pid } = await withLockedOrders(async (locked) => {
      const report = await startReport(app);
      const job = await until(report, (m) => m.type === "job");
      await until(report, (m) => m.type === "phase" && m.phase === "query");
      await poll("the worker's query waiting on our lock", () => locked([job.pid]), (rows) => rows.length === 1);
      report.abort();
      // Our lock is still held: only the cancel that reached the worker can have ended its query.
      await poll("the query cancelled", () => locked([job.pid]), (rows) => rows.length === 0);
      return { job: job.job, worker: job.worker, pid: job.pid };
    });
    const s = await poll("the report counted as cancelled", () => stats(app), (s) => s.reports.cancelled === 1);
    assert.equal(s.reports.failed, 0);
    const j = await Job.fromId(queue, job);
    assert.equal(await j.getState(), "failed");
    assert.match(j.failedReason, /canceled/);
    const line = s.events.map((e) => e.text).find((t) => t.startsWith("report #2: client left"));
    // The dashboard learns the worker's step through BullMQ's QueueEvents, not ordered with what this test sees in
    // pg_stat_activity: the line may say step 0 (the step-1 message not yet there) or step 1.
    const m = new RegExp(
      `^report #2: client left at step [01], ran on ${worker} \\(pid ${pid}\\), the cancel reached it \\((push|renewal)\\) \\d+(\\.\\d+)? ms after it was issued, ` +
        `query cancelled on the server \\d+(\\.\\d+)? ms later, the job stopped (?<stop>\\d+(\\.\\d+)?) ms after its ctx ended, its outcome reached the dashboard \\d+(\\.\\d+)? ms later$`,
    ).exec(line);
    assert.ok(m, line);
    console.log(`# closed tab → job stopped on ${worker} ${m.groups.stop} ms after its ctx ended (cancel via ${m[1]})`);
    assert.ok(pids.every(alive), "the workers outlive the job");
  });

  it("Cancel stops the job on its worker, and the stream says where it ran", { timeout: 60_000 }, async () => {
    assert.equal((await fetch(`${app.url}/api/report/cancel?id=x`, { method: "POST" })).status, 400);
    assert.equal((await fetch(`${app.url}/api/report/cancel?id=99`, { method: "POST" })).status, 404);
    const { cancelled, job } = await withLockedOrders(async (locked) => {
      const report = await startReport(app);
      const job = await until(report, (m) => m.type === "job");
      await poll("the worker's query waiting on our lock", () => locked([job.pid]), (rows) => rows.length === 1);
      const res = await fetch(`${app.url}/api/report/cancel?id=3`, { method: "POST" });
      assert.deepEqual(await res.json(), { cancelled: true, id: 3 });
      return { cancelled: await until(report, (m) => m.type === "cancelled"), job };
    });
    assert.match(cancelled.reason, new RegExp(`^cancelled at step \\d: ran on ${job.worker} \\(pid ${job.pid}\\), the cancel reached it \\((push|renewal)\\) .*, the job stopped \\d+(\\.\\d+)? ms after its ctx ended$`));
    const j = await Job.fromId(queue, job.job);
    assert.equal(await j.getState(), "failed");
    assert.equal(j.failedReason, `job ${job.job} canceled: the Cancel button`);
    const s = await stats(app);
    assert.equal(s.reports.cancelled, 2);
    assert.ok(s.events.some((e) => e.text.startsWith("report #3: cancelled at step ") && e.text.includes(`(the Cancel button), ran on ${job.worker}`)));
  });
});

describe("the dashboard in jobs mode, a report longer than its outcome wait", () => {
  it("completes: the wait for the outcome is bounded only once the request has ended", { timeout: 60_000 }, async () => {
    const queueName = uniqueQueue("long");
    const OUTCOME_WAIT = 300;
    const app = await startApp({ jobs: { redisUrl: REDIS_URL, queue: queueName, outcomeWaitMs: OUTCOME_WAIT }, report: { steps: 1, resamples: 5 } });
    try {
      const s = await poll("every worker's database ready", () => stats(app), (s) => s.jobs.workers.every((w) => w.database === "ready"));
      const pids = s.jobs.workers.map((w) => w.pid);
      const report = await withLockedOrders(async (locked) => {
        const report = await startReport(app);
        await poll("a worker's query waiting on our lock", () => locked(pids), (rows) => rows.length === 1);
        // Not a synchronisation: the report is made to run longer than the outcome wait, then let go.
        await new Promise((resolve) => setTimeout(resolve, OUTCOME_WAIT * 2));
        return report;
      });
      const done = await until(report, (m) => m.type === "done");
      assert.equal(done.result.customers, 10_000);
    } finally {
      await app.close(0);
      await obliterate(queueName);
    }
  });
});

describe("the dashboard in jobs mode, a worker process killed", () => {
  it("is replaced by a new one, and reports still run", { timeout: 60_000 }, async () => {
    const queueName = uniqueQueue("restart");
    const events = [];
    const app = await startApp({ jobs: { redisUrl: REDIS_URL, queue: queueName }, report: { steps: 1, resamples: 5 }, onEvent: (t) => events.push(t) });
    let pids;
    try {
      const s = await poll("every worker's database ready", () => stats(app), (s) => s.jobs.workers.every((w) => w.database === "ready"));
      const [first, second] = s.jobs.workers;
      process.kill(first.pid, "SIGKILL");
      const after = await poll("worker 1 replaced", () => stats(app), (s) => s.jobs.workers[0].pid !== first.pid && s.jobs.workers[0].state === "ready");
      assert.deepEqual(after.jobs.workers.map((w) => [w.name, w.restarts]), [["worker 1", 1], ["worker 2", 0]]);
      assert.equal(after.jobs.workers[1].pid, second.pid);
      pids = after.jobs.workers.map((w) => w.pid);
      assert.ok(events.includes(`jobs: worker 1 (pid ${first.pid}) exited unexpectedly (SIGKILL): a job it ran goes back to the queue once its lock expires; starting a new one`), events.join("\n"));
      const report = await startReport(app);
      const done = await until(report, (m) => m.type === "done");
      assert.ok(pids.includes(Number(/\(pid (\d+)\)$/.exec(done.result.worker)[1])), done.result.worker);
    } finally {
      await app.close(0);
      await obliterate(queueName);
    }
    for (const pid of pids ?? []) assert.equal(alive(pid), false, `worker pid ${pid} outlived close()`);
  });
});

describe("the dashboard in jobs mode, shutting down mid-report", () => {
  it("cancels the running job on its worker, logs where it ran, and stops the workers", { timeout: 60_000 }, async () => {
    const queueName = uniqueQueue("shutdown");
    const events = [];
    const app = await startApp({ jobs: { redisUrl: REDIS_URL, queue: queueName }, report: { steps: 2, resamples: 5 }, onEvent: (t) => events.push(t) });
    let closed = false;
    try {
      const s = await poll("every worker's database ready", () => stats(app), (s) => s.jobs.workers.every((w) => w.database === "ready"));
      const pids = s.jobs.workers.map((w) => w.pid);
      const { job, last } = await withLockedOrders(async (locked) => {
        const report = await startReport(app);
        const job = await until(report, (m) => m.type === "job");
        await poll("the worker's query waiting on our lock", () => locked([job.pid]), (rows) => rows.length === 1);
        const closing = app.close(0);
        const last = await until(report, (m) => m.type === "cancelled");
        await closing;
        closed = true;
        return { job, last };
      });
      assert.match(last.reason, /^the server shut down before the report finished/);
      for (const pid of pids) assert.equal(alive(pid), false, `worker pid ${pid} outlived close()`);
      const line = events.find((t) => t.startsWith("report #1: cancelled by the shutdown"));
      // The dashboard learns the worker's step through BullMQ's QueueEvents, not ordered with what this test sees in
      // pg_stat_activity: the line may say step 0 (the step-1 message not yet there) or step 1.
      assert.match(line, new RegExp(`^report #1: cancelled by the shutdown at step [01], ran on ${job.worker} \\(pid ${job.pid}\\), the cancel reached it \\((push|renewal)\\) `), events.join("\n"));
      const queue = new Queue(queueName, { connection: parseRedisUrl(REDIS_URL) });
      try {
        const j = await Job.fromId(queue, job.job);
        assert.equal(await j.getState(), "failed");
        assert.match(j.failedReason, /canceled: ServerShutdownError/);
      } finally {
        await queue.close();
      }
    } finally {
      if (!closed) await app.close(0);
      await obliterate(queueName);
    }
  });
});

/**
 * startMain runs `npm start`'s entry in jobs mode on `queue` and resolves with `{ child, out, pids }` once it has
 * printed its workers' pids; `out()` is everything it has printed so far.
 */
async function startMain(queue) {
  const child = spawn(process.execPath, [new URL("./main.mjs", import.meta.url).pathname], {
    env: { ...process.env, PORT: "0", REDIS_URL, REPORT_QUEUE: queue },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (c) => (err += c));
  const pids = await new Promise((resolve, reject) => {
    child.stdout.setEncoding("utf8").on("data", (c) => {
      out += c;
      const m = /jobs mode: reports run on worker 1 \(pid (\d+)\) and worker 2 \(pid (\d+)\), Redis at 127\.0\.0\.1:\d+\/0\n/.exec(out);
      if (m) resolve([Number(m[1]), Number(m[2])]);
    });
    child.once("exit", (code) => reject(new Error(`exited with ${code} before its workers were ready: ${err}`)));
  });
  return { child, pids, out: () => out, err: () => err };
}

describe("npm start in jobs mode (REDIS_URL set)", () => {
  it("spawns two worker processes and stops them on SIGINT, then exits 0", { timeout: 30_000 }, async () => {
    const queue = uniqueQueue("main");
    const { child, pids, out, err } = await startMain(queue);
    try {
      assert.ok(pids.every(alive));
      const exited = once(child, "close"); // exited, and its output read to the end
      child.kill("SIGINT");
      const [code] = await exited;
      assert.equal(code, 0, err());
      assert.match(out(), /jobs: worker 1 \(pid \d+\) stopped \(SIGTERM\) [\d.]+ ms after the dashboard told it to/);
      assert.match(out(), /shut down: every request finished/);
      for (const pid of pids) assert.equal(alive(pid), false, `worker pid ${pid} outlived npm start`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await obliterate(queue);
    }
  });

  it("its workers leave by themselves when the dashboard is SIGKILLed (no orphans)", { timeout: 30_000 }, async () => {
    const queue = uniqueQueue("orphans");
    const { child, pids } = await startMain(queue);
    try {
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
      // Nothing signals them: each sees its IPC channel to the dashboard close, and shuts down.
      await poll("both workers gone", () => pids.filter(alive), (left) => left.length === 0);
    } finally {
      for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
      await obliterate(queue);
    }
  });
});

describe("the dashboard without REDIS_URL, or with Redis missing", () => {
  it("runs reports in-process: no workers, and Cancel answers 409", { timeout: 30_000 }, async () => {
    const app = await startApp({});
    try {
      assert.equal((await stats(app)).jobs, null);
      const res = await fetch(`${app.url}/api/report/cancel?id=1`, { method: "POST" });
      assert.equal(res.status, 409);
    } finally {
      await app.close(0);
    }
  });

  it("fails to start, saying Redis is not reachable, when REDIS_URL points at nothing", { timeout: 30_000 }, async () => {
    const closed = createServer();
    closed.listen(0, "127.0.0.1");
    await once(closed, "listening");
    const { port } = closed.address();
    await new Promise((resolve) => closed.close(resolve));
    await assert.rejects(startApp({ jobs: { redisUrl: `redis://127.0.0.1:${port}` } }), (error) => {
      assert.match(error.message, new RegExp(`^Redis is not reachable at 127\\.0\\.0\\.1:${port}/0 \\(ECONNREFUSED\\)\\. Start it with`));
      return true;
    });
    // npm start says the same, and exits 1.
    const child = spawn(process.execPath, [new URL("./main.mjs", import.meta.url).pathname], {
      env: { ...process.env, PORT: "0", REDIS_URL: `redis://127.0.0.1:${port}` },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (c) => (err += c));
    const [code] = await once(child, "close"); // exited, and its output read to the end
    assert.equal(code, 1);
    assert.match(err, new RegExp(`^Redis is not reachable at 127\\.0\\.0\\.1:${port}/0 \\(ECONNREFUSED\\)\\. Start it with .*, or unset REDIS_URL to run reports in-process\\.\\n$`));
    await assert.rejects(startApp({ jobs: { redisUrl: REDIS_URL, workers: 0 } }), /^TypeError: startJobs: workers must be an integer in 1\.\.16, got 0$/);
    await assert.rejects(startApp({ jobs: { redisUrl: REDIS_URL, queue: "a:b" } }), /^TypeError: startJobs: queue must be a non-empty name without ":", got "a:b"$/);
    assert.throws(() => parseRedisUrl("http://x"), /^TypeError: REDIS_URL must be a redis:\/\/host:port URL, got "http:\/\/x"$/);
  });
});

after(() => assertNoLeaks());
