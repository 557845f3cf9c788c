// Soak for @lifeline/jobs (issue 12): SOAK_JOBS jobs (default 10,000) over 3 worker processes, ~33% cancelled at
// random moments from a 4th process, one worker SIGKILLed mid-run and replaced. Then it checks, from Redis
// itself: every job ended exactly once (one terminal event in the queue's event stream, matching its state), in
// the right state (failed as canceled only if a cancel was recorded; completed otherwise), no keys beyond
// BullMQ's own, nothing without a TTL that should have one, and no task left on any worker. Exit code 1 on any
// failed check; prints a JSON report. Needs Redis on 127.0.0.1:6379 and the built packages (tsc -b).
//
//   node bench/jobs-soak.mjs                 # 10,000 jobs
//   SOAK_JOBS=200 node bench/jobs-soak.mjs   # what the test suite runs
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { background, withTimeout } from "@lifeline/core";
import { addJob, cancelJob } from "@lifeline/jobs";
import { Queue } from "bullmq";

const connection = { host: "127.0.0.1", port: 6379 };
const self = fileURLToPath(import.meta.url);

if (process.argv[2] === "canceller") {
  // The 4th process: cancels the jobs it is told about, each after its own random delay.
  // skipMetasUpdate: a Queue writes its options into the queue's meta hash; the default would cut the event
  // stream the checks read back to 10,000 entries.
  const queue = new Queue(process.argv[3], { connection, skipMetasUpdate: true });
  let pending = 0;
  let closing = false;
  const finish = async () => {
    if (closing && pending === 0) {
      await queue.close();
      process.send({ t: "canceller-done" });
      process.disconnect();
    }
  };
  await (await queue.client).ping();
  process.send({ t: "canceller-ready" });
  process.on("message", (m) => {
    if (m.t === "end") {
      closing = true;
      void finish();
      return;
    }
    pending++;
    setTimeout(async () => {
      const at = Date.now();
      try {
        const recorded = await cancelJob(background(), queue, m.id, "soak cancel");
        process.send({ t: "cancelled", id: m.id, recorded, at });
      } catch (e) {
        process.send({ t: "cancel-error", id: m.id, message: String(e) });
      }
      pending--;
      void finish();
    }, m.delayMs);
  });
} else {
  const report = await soak(Number(process.env.SOAK_JOBS ?? 10_000));
  console.log(JSON.stringify(report, null, 2));
  process.exit(report.failures.length === 0 ? 0 : 1);
}

async function soak(N) {
  const t0 = Date.now();
  const name = `lifeline-soak-${process.pid}-${Date.now().toString(36)}`;
  const maxLen = N * 12 + 1000; // every event of the run stays in the stream for the checks
  const queue = new Queue(name, { connection, streams: { events: { maxLen } } });
  await (await queue.client).hset(queue.keys.meta, { "opts.maxLenEvents": maxLen });
  const fixture = fileURLToPath(new URL("../packages/jobs/dist-test/fixtures/worker.js", import.meta.url));
  const workerConfig = { queue: name, quiet: true, concurrency: 8, lockDuration: 2000, stalledInterval: 1000, graceMs: 2000 };
  const workers = [];
  const errors = [];
  const spawnWorker = () => {
    const child = fork(fixture, [], { env: { ...process.env, LIFELINE_JOBS_WORKER: JSON.stringify(workerConfig) }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const w = { child, messages: [], exited: new Promise((r) => child.on("exit", r)) };
    child.on("message", (m) => {
      if (m.t === "ready" || m.t === "tasks" || m.t === "closed") w.messages.push(m);
      if (m.t === "error" && !/could not renew lock|Missing lock/.test(m.message)) errors.push(m.message);
    });
    workers.push(w);
    return w;
  };
  const waitFor = (w, t, ms = 30_000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`soak: no ${t} from worker ${w.child.pid}`)), ms);
      const check = () => {
        const m = w.messages.find((x) => x.t === t);
        if (m) {
          clearTimeout(timer);
          w.child.off("message", check);
          w.messages.splice(w.messages.indexOf(m), 1);
          resolve(m);
        }
      };
      w.child.on("message", check);
      check();
    });
  for (let i = 0; i < 3; i++) spawnWorker();
  await Promise.all(workers.map((w) => waitFor(w, "ready")));

  const canceller = fork(self, ["canceller", name], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const cancels = new Map(); // id → { recorded, at }
  const cancelErrors = [];
  let cancellerReady;
  const ready = new Promise((resolve) => (cancellerReady = resolve));
  const cancellerDone = new Promise((resolve) =>
    canceller.on("message", (m) => {
      if (m.t === "cancelled") cancels.set(m.id, { recorded: m.recorded, at: m.at });
      if (m.t === "cancel-error") cancelErrors.push(m);
      if (m.t === "canceller-ready") cancellerReady();
      if (m.t === "canceller-done") resolve();
    }),
  );
  await ready;

  // Jobs with a generous deadline (the header path). 30% wait on their ctx and can end only by a cancel (a
  // completed one is a bug, whatever the timing); they are cancelled 0–150 ms after being added: before they
  // start, or while they run. The other 70% do 0–100 ms of cooperative work; 5% of those also get a cancel at a
  // random moment, which may land before, during or after their run.
  const [ctx, cancelCtx] = withTimeout(background(), 30 * 60_000);
  const ids = [];
  const mustCancel = new Set();
  let toCancel = 0;
  for (let i = 0; i < N; i++) {
    const waits = Math.random() < 0.3;
    const job = await addJob(ctx, queue, "soak", waits ? { mode: "wait" } : { mode: "sleep", ms: Math.floor(Math.random() * 101) });
    ids.push(job.id);
    if (waits) mustCancel.add(job.id);
    if (waits || Math.random() < 0.05) {
      toCancel++;
      canceller.send({ id: job.id, delayMs: Math.floor(Math.random() * 150) });
    }
  }
  cancelCtx();
  canceller.send({ t: "end" });

  // Kill one worker once 40% of the jobs have finished, and start a replacement.
  const finished = async () => {
    const c = await queue.getJobCounts("completed", "failed");
    return c.completed + c.failed;
  };
  const deadline = Date.now() + Math.max(120_000, N * 30);
  let killed = false;
  for (let pause = 5; ; pause = Math.min(pause * 2, 200)) {
    const done = await finished();
    if (!killed && done >= N * 0.4) {
      workers[0].child.kill("SIGKILL");
      await workers[0].exited;
      killed = true;
      await waitFor(spawnWorker(), "ready");
    }
    if (done >= N && killed) break;
    if (Date.now() > deadline) throw new Error(`soak: only ${done} of ${N} jobs finished in time`);
    await new Promise((r) => setTimeout(r, pause));
  }
  await cancellerDone;

  // Checks, from Redis.
  const failures = [];
  const client = await queue.client;
  const terminal = new Map();
  let cursor = "-";
  for (;;) {
    const batch = await client.xrange(queue.toKey("events"), cursor, "+", "COUNT", 5000);
    for (const [, fields] of batch) {
      const f = {};
      for (let i = 0; i < fields.length; i += 2) f[fields[i]] = fields[i + 1];
      if (f.event === "completed" || f.event === "failed") {
        const list = terminal.get(f.jobId) ?? [];
        list.push(f.event);
        terminal.set(f.jobId, list);
      }
    }
    if (batch.length < 5000) break;
    const last = batch[batch.length - 1][0];
    const [ms, seq] = last.split("-");
    cursor = `${ms}-${Number(seq) + 1}`;
  }
  let completed = 0;
  let canceledFailed = 0;
  let cancelAfterFinish = 0;
  let cancelRacedCompletion = 0;
  for (const id of ids) {
    const [failedReason, returnvalue] = await client.hmget(queue.toKey(id), "failedReason", "returnvalue");
    const state = await queue.getJobState(id);
    const events = terminal.get(id) ?? [];
    if (events.length !== 1) failures.push(`job ${id}: ${events.length} terminal events (${events})`);
    else if (events[0] !== state) failures.push(`job ${id}: event ${events[0]} but state ${state}`);
    const c = cancels.get(id);
    if (mustCancel.has(id) && !(state === "failed" && c?.recorded)) failures.push(`job ${id} waits for its cancel, but ended ${state} (cancel recorded: ${c?.recorded})`);
    if (state === "failed") {
      if (!/canceled: soak cancel/.test(failedReason ?? "")) failures.push(`job ${id}: failed for another reason: ${failedReason}`);
      else if (!c?.recorded) failures.push(`job ${id}: failed as canceled, but no cancel was recorded`);
      else canceledFailed++;
    } else if (state === "completed") {
      completed++;
      if (returnvalue === null) failures.push(`job ${id}: completed without a result`);
      // A cancel that reached the worker after the handler returned does not undo the result (documented);
      // the jobs that could not finish by themselves are checked above.
      if (c?.recorded) cancelRacedCompletion++;
      else if (c && !c.recorded) cancelAfterFinish++;
    } else failures.push(`job ${id}: ended in state ${state}`);
  }
  if (cancels.size !== toCancel) failures.push(`the canceller answered ${cancels.size} of ${toCancel} cancels`);
  for (const e of cancelErrors) failures.push(`cancelJob ${e.id} failed: ${e.message}`);
  for (const e of errors) failures.push(`worker error: ${e}`);

  // Keys: BullMQ's own structure, the job hashes, nothing else; only stalled-check/locks may carry a TTL.
  const structural = new Set(["id", "meta", "events", "completed", "failed", "wait", "active", "stalled", "marker", "delayed", "prioritized", "paused", "pc", "stalled-check", "limiter", "waiting-children", "repeat", "de", "metrics"]);
  const keys = [];
  let scan = "0";
  do {
    const [next, batch] = await client.scan(scan, { MATCH: `${queue.qualifiedName}:*`, COUNT: 1000 });
    scan = next;
    keys.push(...batch);
  } while (scan !== "0");
  const jobIds = new Set(ids);
  let jobHashes = 0;
  const stray = [];
  for (const key of keys) {
    const rest = key.slice(queue.qualifiedName.length + 1);
    if (structural.has(rest)) continue;
    if (jobIds.has(rest)) {
      jobHashes++;
      continue;
    }
    const ttl = await client.pttl(key);
    if (ttl < 0) stray.push(key);
  }
  if (stray.length > 0) failures.push(`keys without a TTL beyond BullMQ's own: ${stray.slice(0, 10).join(", ")}${stray.length > 10 ? "…" : ""}`);
  if (jobHashes !== N) failures.push(`${jobHashes} job hashes for ${N} jobs`);

  // Tasks: none left on the live workers, before and after their shutdown.
  const live = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
  for (const w of live) {
    w.child.send({ cmd: "tasks" });
    const dump = await waitFor(w, "tasks");
    if (dump.names.length !== 0) failures.push(`worker ${w.child.pid} still runs tasks: ${dump.names.join(", ")}`);
  }
  for (const w of live) w.child.send({ cmd: "shutdown" });
  for (const w of live) {
    const closed = await waitFor(w, "closed");
    if (closed.tasks.length !== 0) failures.push(`worker ${w.child.pid} closed with tasks: ${closed.tasks.join(", ")}`);
    await w.exited;
  }
  await queue.obliterate({ force: true });
  await queue.close();
  return {
    jobs: N,
    workers: "3 (one SIGKILLed at 40% and replaced)",
    cancelsSent: toCancel,
    jobsThatEndOnlyByCancel: mustCancel.size,
    cancelsRecorded: [...cancels.values()].filter((c) => c.recorded).length,
    failedAsCanceled: canceledFailed,
    completed,
    cancelAfterFinish,
    cancelRacedCompletion,
    keysChecked: keys.length,
    seconds: Math.round((Date.now() - t0) / 100) / 10,
    failures,
  };
}
