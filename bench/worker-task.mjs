// The worker side of bench/worker.mjs, for both pools: @lifeline/worker's serve() when started by our
// WorkerPool (workerData.lifeline), piscina's default export otherwise. Same operations, same code.
import { workerData } from "node:worker_threads";
import { serve } from "@lifeline/worker";

function started(flag) {
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

/** errCost times n calls of ctx.err() in a loop, against the same loop reading a plain local flag (ns/iter). */
function errCost(ctx, n) {
  let plain = 0;
  const local = { stop: false };
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (local.stop) plain++;
  const base = Number(process.hrtime.bigint() - t0) / n;
  let hits = 0;
  t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (ctx.err() !== undefined) hits++;
  const ours = Number(process.hrtime.bigint() - t0) / n;
  if (hits !== 0 || plain !== 0) throw new Error("bench: the context ended during the loop");
  return { base, ours };
}

if (workerData?.lifeline === true) {
  serve((ctx, input) => {
    if (input.op === "noop") return input.n;
    if (input.op === "errCost") return errCost(ctx, input.n);
    // A CPU loop that checks its context every iteration.
    started(input.started);
    let n = 0;
    while (ctx.err() === undefined) n++;
    return n;
  });
}

// piscina has no context inside the worker: a CPU loop can only be stopped by terminating the thread.
export default function task(input) {
  if (input.op === "noop") return input.n;
  started(input.started);
  for (;;) Atomics.load(input.started, 0);
}
