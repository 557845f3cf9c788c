// Worker-thread benchmarks (issue 11): @lifeline/worker beside piscina, same machine, same run.
//
//   node --expose-gc bench/worker.mjs       # standalone
//   npm run bench -- --only=worker          # through bench/run.mjs
//
// 1. cancel → stopped: a CPU loop running on a thread, its context cancelled. Ours: the loop checks ctx.err()
//    and returns; run() rejects when it has (the thread is kept). piscina with `signal`: the task can't see
//    the abort, piscina terminates the thread; we time the rejection and then the next trivial task, which
//    needs a replacement thread.
// 2. run() round trip of a trivial task, one at a time on a 1-thread pool, ours vs piscina.
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import { background, withCancel } from "@lifeline/core";
import { WorkerPool } from "@lifeline/worker";

const TASK = new URL("./worker-task.mjs", import.meta.url);

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const fmtMs = (ms) => (ms >= 10 ? `${ms.toFixed(1)} ms` : ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(0)} µs`);

function flag() {
  return new Int32Array(new SharedArrayBuffer(4));
}
async function started(f) {
  const r = Atomics.waitAsync(f, 0, 0);
  if (r.async) await r.value;
}

async function cancelOurs(n) {
  const pool = new WorkerPool(TASK, { size: 1, graceMs: 60_000, workerOptions: { workerData: { lifeline: true } } });
  const reject = [];
  const next = [];
  const rungs = new Set();
  const threads = new Set();
  try {
    for (let i = 0; i < n + 5; i++) {
      const [ctx, cancel] = withCancel(background());
      const s = flag();
      const run = pool.run(ctx, { op: "loop", started: s }, { onStop: (r) => (rungs.add(r.stoppedBy), threads.add(r.threadId)) });
      await started(s);
      const t0 = performance.now();
      cancel();
      await run.catch(() => {});
      const t1 = performance.now();
      await pool.run(background(), { op: "noop", n: i });
      const t2 = performance.now();
      if (i >= 5) {
        reject.push(t1 - t0);
        next.push(t2 - t1);
      }
    }
  } finally {
    await pool.close(background());
  }
  if (rungs.size !== 1 || !rungs.has("cooperative") || threads.size !== 1) {
    throw new Error(`bench: expected every stop to be cooperative on one thread, got ${[...rungs]} on ${threads.size} threads`);
  }
  return { reject, next };
}

async function cancelPiscina(n) {
  const pool = new Piscina({ filename: fileURLToPath(TASK), minThreads: 1, maxThreads: 1 });
  const reject = [];
  const next = [];
  try {
    await pool.run({ op: "noop", n: 0 });
    for (let i = 0; i < n; i++) {
      const ac = new AbortController();
      const s = flag();
      const run = pool.run({ op: "loop", started: s }, { signal: ac.signal });
      await started(s);
      const t0 = performance.now();
      ac.abort();
      await run.catch(() => {});
      const t1 = performance.now();
      await pool.run({ op: "noop", n: i });
      const t2 = performance.now();
      reject.push(t1 - t0);
      next.push(t2 - t1);
    }
  } finally {
    await pool.destroy();
  }
  return { reject, next };
}

async function roundTrips(n) {
  const ours = new WorkerPool(TASK, { size: 1, graceMs: 1000, workerOptions: { workerData: { lifeline: true } } });
  const peer = new Piscina({ filename: fileURLToPath(TASK), minThreads: 1, maxThreads: 1 });
  const ctx = background();
  const oursFn = async (k) => {
    for (let i = 0; i < k; i++) if ((await ours.run(ctx, { op: "noop", n: i })) !== i) throw new Error("bench: wrong result");
  };
  const peerFn = async (k) => {
    for (let i = 0; i < k; i++) if ((await peer.run({ op: "noop", n: i })) !== i) throw new Error("bench: wrong result");
  };
  try {
    await oursFn(2000); // warm both up: threads started, JIT done
    await peerFn(2000);
    const o = [];
    const p = [];
    const sample = async (fn, into) => {
      const t0 = performance.now();
      await fn(n);
      into.push(((performance.now() - t0) * 1000) / n);
    };
    for (let s = 0; s < 9; s++) {
      // Interleaved samples, alternating which goes first: a change in machine load hits both alike.
      const order = s % 2 === 0 ? [[oursFn, o], [peerFn, p]] : [[peerFn, p], [oursFn, o]];
      for (const [fn, into] of order) await sample(fn, into);
    }
    return { ours: pct(o, 50), peer: pct(p, 50) };
  } finally {
    await ours.close(ctx);
    await peer.destroy();
  }
}

/** benchWorker runs the section; `report` is bench/run.mjs's { section, row, verdict } or the standalone printer. */
export async function benchWorker({ section, row, verdict }) {
  section("worker. @lifeline/worker vs piscina: cancel a running CPU loop; run() round trip");
  const ours = await cancelOurs(300);
  const peer = await cancelPiscina(30);
  const p99 = pct(ours.reject, 99);
  row({
    bench: "worker: cancel → cooperative CPU loop returned, p50 / p99 (300 runs)",
    ours: `${fmtMs(pct(ours.reject, 50))} / ${fmtMs(p99)}`,
    peer: "piscina run({signal}): abort → rejected (thread terminated), p50 / p99 (30 runs)",
    peerValue: `${fmtMs(pct(peer.reject, 50))} / ${fmtMs(pct(peer.reject, 99))}`,
    target: "p99 ≤ 1 ms",
    result: verdict(p99 <= 1),
  });
  row({
    bench: "worker: after the cancel, next trivial task done, p50 / p99 (ours: same thread)",
    ours: `${fmtMs(pct(ours.next, 50))} / ${fmtMs(pct(ours.next, 99))}`,
    peer: "piscina: next task on the replacement thread, p50 / p99",
    peerValue: `${fmtMs(pct(peer.next, 50))} / ${fmtMs(pct(peer.next, 99))}`,
    ratio: `${(pct(peer.next, 50) / pct(ours.next, 50)).toFixed(0)}×`,
  });
  {
    const pool = new WorkerPool(TASK, { size: 1, graceMs: 1000, workerOptions: { workerData: { lifeline: true } } });
    try {
      const samples = [];
      for (let s = 0; s < 7; s++) samples.push(await pool.run(background(), { op: "errCost", n: 20_000_000 }));
      const ours = pct(samples.map((x) => x.ours), 50);
      const base = pct(samples.map((x) => x.base), 50);
      row({
        bench: "worker: ctx.err() inside the worker, per call in a tight loop (ns)",
        ours: `${ours.toFixed(1)} ns`,
        peer: "the same loop testing a plain local flag",
        peerValue: `${base.toFixed(1)} ns`,
      });
    } finally {
      await pool.close(background());
    }
  }
  const rt = await roundTrips(3000);
  const ratio = rt.ours / rt.peer;
  row({
    bench: "worker: run() round trip, trivial task, 1 thread, one at a time (µs/op)",
    ours: `${rt.ours.toFixed(1)} µs`,
    peer: "piscina.run()",
    peerValue: `${rt.peer.toFixed(1)} µs`,
    ratio: `${(rt.peer / rt.ours).toFixed(2)}×`,
    target: "ours ≤ 1.2× piscina",
    result: verdict(ratio <= 1.2),
  });
}

export const workerNotes = [
  "- worker: 1-thread pools. Cancel: the task is a CPU loop; the clock starts when the worker has signalled (a",
  "  SharedArrayBuffer + Atomics.waitAsync) that the loop runs, at cancel()/abort(), and stops when run() rejects.",
  "  Ours rejects only once the loop has returned (the thread is kept: checked, every stop was `cooperative` on",
  "  one thread); piscina terminates the thread, so its next task waits for a new one. Round trip: sequential",
  "  awaits of a task returning its input, 9 interleaved samples (alternating who goes first), median.",
  "  ctx.err(): 20M calls in the worker, timed there, 7 samples, median; beside it the same loop testing a",
  "  property of a local object.",
];

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const row = (r) =>
    console.log(`  ${r.bench}: ${r.ours}${r.peer ? `  vs ${r.peer}: ${r.peerValue}` : ""}${r.ratio ? `  (${r.ratio})` : ""}${r.result ? `  [${r.result}]` : ""}`);
  await benchWorker({ section: (t) => console.log(`\n== ${t}`), row, verdict: (ok) => (ok ? "PASS" : "MISS") });
  console.log(workerNotes.join("\n"));
}
