// j. Jobs on BullMQ (issue 12): cross-process cancel latency, the missed-push worst case, throughput vs bare
// BullMQ processors. Needs Redis on 127.0.0.1:6379 (scripts/start-services.sh) and the built packages (tsc -b,
// which also builds the worker fixture packages/jobs/dist-test/fixtures/worker.js used here and by the tests).
//
//   node --expose-gc bench/jobs.mjs          # standalone
//   bench/run.mjs calls benchJobs({ section, row, verdict }) and appends the notes it returns.
import { fork } from "node:child_process";
import { setImmediate } from "node:timers";
import { fileURLToPath } from "node:url";
import { background } from "@lifeline/core";
import { addJob, cancelJob, work } from "@lifeline/jobs";
import { Job, Queue, Worker } from "bullmq";

const connection = { host: "127.0.0.1", port: 6379 };
const CANCELS = Number(process.env.BENCH_JOBS_CANCELS ?? 500);
const MISSED = Number(process.env.BENCH_JOBS_MISSED ?? 12);
const THROUGHPUT_JOBS = Number(process.env.BENCH_JOBS_N ?? 5000);
const ROUNDS = Number(process.env.BENCH_JOBS_ROUNDS ?? 8);
const CONCURRENCY = 8;
const fixture = fileURLToPath(new URL("../packages/jobs/dist-test/fixtures/worker.js", import.meta.url));
const support = new URL("../packages/jobs/dist-test/support.js", import.meta.url).href;

const hr = () => performance.timeOrigin + performance.now();
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const median = (xs) => pct(xs, 50);
const ms = (x) => (x >= 10 ? `${x.toFixed(0)} ms` : `${x.toFixed(2)} ms`);
let n = 0;
const newQueue = (tag) => new Queue(`lifeline-bench-${tag}-${process.pid}-${n++}`, { connection });

/** A forked worker process (the test fixture) and a way to wait for its messages. */
function spawnWorker(config) {
  const child = fork(fixture, [], { env: { ...process.env, LIFELINE_JOBS_WORKER: JSON.stringify({ quiet: true, ...config }) }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const waiting = new Map();
  const seen = new Map();
  child.on("message", (m) => {
    const key = `${m.t}:${m.id ?? ""}`;
    const w = waiting.get(key);
    if (w) {
      waiting.delete(key);
      w(m);
    } else seen.set(key, m);
  });
  const next = (t, id, timeoutMs = 10_000) => {
    const key = `${t}:${id ?? ""}`;
    const m = seen.get(key);
    if (m) {
      seen.delete(key);
      return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bench: no ${key} from the worker within ${timeoutMs} ms`)), timeoutMs);
      waiting.set(key, (msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
    });
  };
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.send({ cmd: "shutdown" });
    await exited;
  };
  return { child, next, stop };
}

async function crossProcess() {
  const queue = newQueue("cancel");
  const w = spawnWorker({ queue: queue.name });
  try {
    await w.next("ready");
    const lat = [];
    const returned = [];
    for (let i = 0; i < CANCELS + 20; i++) {
      const job = await addJob(background(), queue, "bench", { mode: "wait" });
      await w.next("started", job.id);
      const t0 = hr();
      await cancelJob(background(), queue, job.id, "bench");
      const ended = await w.next("ctx-ended", job.id);
      const back = await w.next("returned", job.id);
      await w.next("stop", job.id);
      if (i >= 20) {
        // the first 20 warm up both processes
        lat.push(ended.at - t0);
        returned.push(back.at - t0);
      }
    }
    return { lat, returned };
  } finally {
    await w.stop();
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

async function localFloor() {
  // BullMQ's own cancel: worker.cancelJob in the process running the job, aborting the processor's signal.
  const queue = newQueue("local");
  let started;
  let aborted;
  const worker = new Worker(
    queue.name,
    (job, _token, signal) =>
      new Promise((_resolve, reject) => {
        signal.addEventListener("abort", () => {
          aborted?.(hr());
          reject(new Error("cancelled"));
        });
        started?.(job.id);
      }),
    { connection },
  );
  worker.on("error", () => {});
  try {
    await worker.waitUntilReady();
    const lat = [];
    for (let i = 0; i < CANCELS + 20; i++) {
      const up = new Promise((r) => (started = r));
      const job = await queue.add("bench", {});
      await up;
      const down = new Promise((r) => (aborted = r));
      const t0 = hr();
      worker.cancelJob(job.id, "bench");
      const at = await down;
      if (i >= 20) lat.push(at - t0);
    }
    return lat;
  } finally {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

async function missedPush() {
  // The worker's pub/sub link is silenced by a proxy (Redis's replies on it are dropped): every cancel is found
  // by the check at the next lock renewal instead. lockDuration 1000 ms → lockRenewTime 500 ms (a shorter lease
  // would risk a spurious lock loss on a loaded machine, which the check below would reject).
  const { Proxy } = await import(support);
  const proxy = new Proxy();
  const port = await proxy.listen();
  const queue = newQueue("missed");
  const lockDuration = 1000;
  const w = spawnWorker({ queue: queue.name, port, lockDuration, stalledInterval: 2000 });
  try {
    await w.next("ready");
    const client = await queue.client;
    const list = await client.clientList();
    const ports = [...list.matchAll(/addr=127\.0\.0\.1:(\d+) [^\n]*sub=1 /g)].map((m) => Number(m[1]));
    if (!ports.some((p) => proxy.silence(p))) throw new Error("bench: could not find the worker's subscriber to silence");
    const lat = [];
    const vias = new Set();
    for (let i = 0; i < MISSED; i++) {
      const job = await addJob(background(), queue, "bench", { mode: "wait" });
      await w.next("started", job.id);
      const t0 = hr();
      await cancelJob(background(), queue, job.id, "bench");
      const ended = await w.next("ctx-ended", job.id);
      const stop = await w.next("stop", job.id);
      await w.next("returned", job.id);
      vias.add(stop.via);
      lat.push(ended.at - t0);
    }
    if (vias.size !== 1 || !vias.has("renewal")) throw new Error(`bench: the silenced worker learnt of cancels via ${[...vias]}`);
    return { lat, renewMs: lockDuration / 2 };
  } finally {
    await w.stop();
    await proxy.close();
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

/**
 * throughput runs the same jobs through a bare BullMQ Worker and a work() worker, each on its own queue and
 * long-lived (as a worker is in production: a Worker made per round gets its code re-optimised every round,
 * which the round then pays for), in alternating rounds after two warm-up rounds each. A round fills the
 * paused worker's queue, resumes it and times it to the last 'completed'; the finished jobs are cleaned out
 * between rounds, untimed.
 */
async function throughput() {
  const far = Date.now() + 3_600_000;
  const sides = {};
  for (const kind of ["bare", "lifeline"]) {
    const queue = newQueue(`tp-${kind}`);
    const opts = { connection, concurrency: CONCURRENCY, autorun: false };
    // The same handler for both: what it returns; each job carries a lifeline deadline header (bare ignores it).
    const worker = kind === "bare" ? new Worker(queue.name, async (job) => job.data.i, opts) : work(background(), queue.name, async (_ctx, job) => job.data.i, opts);
    worker.on("error", () => {});
    const side = { queue, worker, done: 0, finish: () => {}, running: false };
    worker.on("completed", () => {
      if (++side.done === THROUGHPUT_JOBS) side.finish();
    });
    await worker.waitUntilReady();
    sides[kind] = side;
  }
  const round = async (kind) => {
    const side = sides[kind];
    for (let i = 0; i < THROUGHPUT_JOBS; i += 500) {
      const n = Math.min(500, THROUGHPUT_JOBS - i);
      await side.queue.addBulk(Array.from({ length: n }, (_, k) => ({ name: "tp", data: { i: i + k }, opts: { lifeline: { d: far } } })));
    }
    side.done = 0;
    const all = new Promise((r) => (side.finish = r));
    // No forced GC between rounds: a full collection drops optimised code that embeds objects it frees
    // ("weak objects" deopts), so every round would re-optimise, as with a Worker made per round.
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    if (side.running) side.worker.resume();
    else {
      side.running = true;
      void side.worker.run();
    }
    await all;
    const elapsed = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    await side.worker.pause();
    await side.queue.clean(0, 0, "completed");
    return { perSec: (THROUGHPUT_JOBS / elapsed) * 1000, cpuUsPerJob: (cpu.user + cpu.system) / THROUGHPUT_JOBS };
  };
  try {
    const bare = [];
    const ours = [];
    for (let r = -2; r < ROUNDS; r++) {
      // Alternate who goes first; the median shrugs off a burst of load elsewhere on the machine. Rounds -2 and -1 warm up.
      const pair = r % 2 === 0 ? [["bare", bare], ["lifeline", ours]] : [["lifeline", ours], ["bare", bare]];
      for (const [kind, out] of pair) {
        const m = await round(kind);
        if (r >= 0) out.push(m);
      }
    }
    return { bare, ours };
  } finally {
    for (const side of Object.values(sides)) {
      await side.worker.close();
      await side.queue.obliterate({ force: true });
      await side.queue.close();
    }
  }
}

/**
 * perJobCost times what work() adds to each job, without Redis: BullMQ's own per-job entry point
 * (`callProcessJob`, which its main loop calls for every job) on a bare Worker and on a work() worker, with the
 * same Job objects (a deadline header each, ids as BullMQ numbers them), 8 in flight and a turn of the event
 * loop every 8 jobs as Redis replies would give. It is all of work()'s path: the pick-up checks, the job's ctx
 * and deadline, the task, the lease bookkeeping and the settling (µs per job, ours minus bare, median of 8).
 */
async function perJobCost() {
  const far = Date.now() + 3_600_000;
  const name = `lifeline-bench-perjob-${process.pid}`;
  const opts = { connection, concurrency: CONCURRENCY, autorun: false };
  const bare = new Worker(name, async (job) => job.data.i, opts);
  const ours = work(background(), name, async (_ctx, job) => job.data.i, opts);
  let seq = 0;
  const lane = async (worker, n) => {
    for (let i = 0; i < n; i++) {
      const job = new Job(worker, "tp", { i }, { lifeline: { d: far } }, String(++seq));
      job.processedOn = Date.now();
      await worker.callProcessJob(job, "token");
      if ((i & 7) === 7) await new Promise(setImmediate);
    }
  };
  const time = async (worker) => {
    const N = 40_000;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, () => lane(worker, N / CONCURRENCY)));
    return ((performance.now() - t0) / N) * 1000;
  };
  try {
    for (const w of [bare, ours]) {
      w.on("error", () => {});
      await w.waitUntilReady();
    }
    const diffs = [];
    for (let r = -2; r < 8; r++) {
      const b = await time(bare);
      const o = await time(ours);
      if (r >= 0) diffs.push(o - b); // two rounds warm up
    }
    return median(diffs);
  } finally {
    await bare.close();
    await ours.close();
  }
}

/** benchJobs runs section "jobs" and returns the notes for the table. */
export async function benchJobs({ section, row, verdict }) {
  section("jobs. @lifeline/jobs on BullMQ: cancel in one process → job ctx ended in another; throughput vs bare BullMQ");
  try {
    const probe = new Queue("lifeline-bench-probe", { connection: { ...connection, maxRetriesPerRequest: 1, retryStrategy: () => null }, skipMetasUpdate: true });
    await (await probe.client).ping();
    await probe.close();
  } catch {
    row({ bench: "jobs", ours: "skipped: no Redis on 127.0.0.1:6379" });
    return [];
  }
  const { lat: cross, returned } = await crossProcess();
  const floor = await localFloor();
  row({
    bench: `jobs: cancelJob → job ctx ended, other process, p50 (${cross.length})`,
    ours: ms(median(cross)),
    peer: "BullMQ worker.cancelJob, same process, p50",
    peerValue: ms(median(floor)),
  });
  const p99 = pct(cross, 99);
  row({
    bench: `jobs: cancelJob → job ctx ended, other process, p99 (${cross.length})`,
    ours: ms(p99),
    peer: "BullMQ worker.cancelJob, same process, p99",
    peerValue: ms(pct(floor, 99)),
    target: "p99 ≤ 20 ms",
    result: verdict(p99 <= 20),
  });
  row({
    bench: `jobs: cancelJob → handler returned (it honours its ctx), other process, p50 / p99 (${returned.length})`,
    ours: `${ms(median(returned))} / ${ms(pct(returned, 99))}`,
    peer: "BullMQ worker.cancelJob → processor's signal aborted, same process, p50 / p99",
    peerValue: `${ms(median(floor))} / ${ms(pct(floor, 99))}`,
  });
  const missed = await missedPush();
  row({
    bench: `jobs: missed push (pub/sub silenced): cancel → ctx ended, p50 / max (${missed.lat.length})`,
    ours: `${ms(median(missed.lat))} / ${ms(Math.max(...missed.lat))}`,
    peer: "lockRenewTime",
    peerValue: `${missed.renewMs} ms`,
    target: "max ≤ one renewal interval (+ one tick)",
    result: verdict(Math.max(...missed.lat) <= missed.renewMs * 1.5),
  });
  const { bare, ours } = await throughput();
  const oursPs = median(ours.map((x) => x.perSec));
  const barePs = median(bare.map((x) => x.perSec));
  row({
    bench: `jobs: throughput, ${THROUGHPUT_JOBS} jobs, concurrency ${CONCURRENCY} (jobs/s)`,
    ours: `${oursPs.toFixed(0)}/s`,
    peer: "bare BullMQ processor",
    peerValue: `${barePs.toFixed(0)}/s`,
    ratio: `${((oursPs / barePs) * 100).toFixed(1)}%`,
    target: "≥ 95%",
    result: verdict(oursPs / barePs >= 0.95),
  });
  row({
    bench: "jobs: what work() adds per job, without Redis (BullMQ's callProcessJob, work() minus bare)",
    ours: `${(await perJobCost()).toFixed(2)} µs`,
  });
  row({
    bench: "jobs: CPU per job in the worker process (µs)",
    ours: `${median(ours.map((x) => x.cpuUsPerJob)).toFixed(0)} µs`,
    peer: "bare BullMQ processor",
    peerValue: `${median(bare.map((x) => x.cpuUsPerJob)).toFixed(0)} µs`,
  });
  return [
    "- jobs: Cancel latency: one worker process (packages/jobs/test/fixtures/worker.ts, forked) runs a job that waits",
    "  on its ctx; this process reads `performance.timeOrigin + performance.now()`, calls `cancelJob` (one Lua",
    "  script: the record in the job's hash + PUBLISH) and the worker reads the same clock in an `afterFunc` on the",
    `  job's ctx; ${CANCELS} cancels one at a time after 20 to warm up. The floor is BullMQ's own \`worker.cancelJob\``,
    "  in the process that runs the job (a function call that aborts the processor's signal): it cannot reach",
    "  another process at all. The missed-push rows silence the worker's pub/sub connection through a TCP proxy",
    "  (Redis's bytes to it are dropped), so every cancel is found by the record check at the next lock renewal.",
    "  The handler-returned row is the same cancels read at the end of the worker's handler (a `finally` around it):",
    "  its ctx ended, its `sleep(ctx, …)` rejected and the handler returned — what a user waits for.",
    `- jobs: Throughput: ${THROUGHPUT_JOBS} jobs prefilled (addBulk, each with a lifeline deadline header) into the queue of`,
    `  a paused Worker in this process, concurrency ${CONCURRENCY}, timed from resume() to the last 'completed'. Each side has`,
    "  one long-lived Worker on its own queue (a Worker made per round has BullMQ's, ioredis's and lifeline's code",
    "  re-optimised every round as the last round's objects die; that cost, larger for the side with more code, is",
    `  not a per-job cost of a running worker); one warm-up round each, then ${ROUNDS} alternating rounds, medians.`,
    "  Redis runs on the same 2 CPUs, so jobs/s is Redis-bound as much as worker-bound and swings with the load of",
    "  the machine (runs here gave 68% to 114%); CPU µs per job (this process's user + system CPU, GC included) and",
    "  the per-job cost of work()'s whole path without Redis (BullMQ's callProcessJob on both workers) are steadier.",
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const notes = await benchJobs({
    section: (t) => console.log(`\n== ${t}`),
    row: (r) => console.log(`  ${r.bench}: ${r.ours}${r.peer ? `  vs ${r.peer}: ${r.peerValue}` : ""}${r.ratio ? ` (${r.ratio})` : ""}${r.result ? `  [${r.result}]` : ""}`),
    verdict: (ok) => (ok ? "PASS" : "MISS"),
  });
  console.log(`\n${notes.join("\n")}`);
}
