// The measurement helpers of `npm run bench` (bench/run.mjs) and its sections a–g (bench/cancel.mjs,
// cancel-tree.mjs, memory.mjs, channels.mjs, size.mjs, tasks.mjs, tracking.mjs). Plain calibrated loops, no framework.
import { fileURLToPath } from "node:url";

export const gc = globalThis.gc;
if (typeof gc !== "function") {
  console.error("bench: run with --expose-gc (npm run bench does)");
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------------------
// Measurement helpers

/** _sink keeps results observable so no loop is optimised away. */
let _sink;

export const nowNs = () => process.hrtime.bigint();
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * calibrate warms `fn` up (n ops per call, sync or async) for at least `warmMs`, so the JIT has finished with it
 * even on a busy machine, and returns n such that one call takes about `sampleMs`, at most `maxN`.
 */
export async function calibrate(fn, sampleMs, maxN, warmMs) {
  let n = 16;
  const warmUntil = performance.now() + warmMs;
  for (;;) {
    const t0 = nowNs();
    await fn(n);
    const ms = Number(nowNs() - t0) / 1e6;
    const fit = Math.max(1, Math.min(maxN, Math.round((n * sampleMs) / Math.max(ms, 0.01))));
    if ((ms >= sampleMs / 3 || n >= maxN) && performance.now() >= warmUntil) return fit;
    n = ms >= sampleMs / 3 || n >= maxN ? fit : Math.min(maxN, n * (ms < 1 ? 10 : 3));
  }
}

/**
 * timeOps returns the median ns per op of each `fn(n)`. Samples of the candidates are interleaved (ours, peer,
 * ours, peer, …) so that a change in machine load during the run hits all of them alike and the ratios stay fair.
 * `maxN` bounds a peer that leaks per op. No forced GC between samples: it would shrink the young generation and
 * charge the next sample for regrowing it; each candidate pays for its own garbage as it goes.
 */
export async function timeOps(entries, { sampleMs = 80, samples = 7, warmMs = 300 } = {}) {
  const ns = [];
  for (const e of entries) ns.push(await calibrate(e.fn, sampleMs, e.maxN ?? 5_000_000, warmMs));
  const per = entries.map(() => []);
  for (let s = 0; s < samples; s++) {
    for (let k = 0; k < entries.length; k++) {
      const t0 = nowNs();
      await entries[k].fn(ns[k]);
      per[k].push(Number(nowNs() - t0) / ns[k]);
    }
  }
  return per.map(median);
}

/** heapAfterGc: heapUsed once everything collectable is gone (twice: weak refs and finalizers take two). */
export function heapAfterGc() {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** retained runs `fn` (after a warm-up run of `warm`) and returns heapUsed growth across it, after GC. */
export async function retained(fn, count, warm = 10_000) {
  const t0 = performance.now();
  await fn(warm); // JIT code and one-time allocations are not what we measure
  const before = heapAfterGc();
  const keep = await fn(count);
  const after = heapAfterGc();
  _sink = keep;
  console.error(`  (${fn.name}: ${count} iterations, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return after - before;
}

export const fmtNs = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e4 ? `${(ns / 1e3).toFixed(1)} µs` : ns >= 100 ? `${ns.toFixed(0)} ns` : `${ns.toFixed(1)} ns`);
export const fmtBytes = (b) => {
  const a = Math.abs(b);
  const s = b < 0 ? "−" : "";
  if (a >= 1024 * 1024) return `${s}${(a / 1024 / 1024).toFixed(1)} MiB`;
  if (a >= 1024) return `${s}${(a / 1024).toFixed(1)} KiB`;
  return `${s}${a} B`;
};
export const fmtRatio = (r) => (r >= 100 ? `${r.toFixed(0)}×` : r >= 10 ? `${r.toFixed(1)}×` : `${r.toFixed(2)}×`);

export const verdict = (ok) => (ok ? "PASS" : "MISS");
export function check(cond, what) {
  if (!cond) throw new Error(`bench: sanity check failed: ${what} (the loop would measure nothing)`);
}

export const GO = { withCancel: "~190 ns", buffered: "~46 ns", pingPong: "~310 ns" };

/** standalone runs `bench` (a section's function) when its file is run directly, printing rows as run.mjs does. */
export async function standalone(url, bench) {
  if (process.argv[1] !== fileURLToPath(url)) return;
  const row = (r) => {
    const peer = r.peer ? `  vs ${r.peer}: ${r.peerValue}${r.ratio ? `  (${r.ratio})` : ""}` : "";
    console.error(`  ${r.bench}: ${r.ours}${peer}${r.result ? `  [${r.result}]` : ""}`);
  };
  await bench({ section: (title) => console.error(`\n== ${title}`), row, verdict, check });
}
