// The worker side of bench/worker.mjs, for both pools: @lifeline/worker's serve() when started by our
// WorkerPool (workerData.lifeline), piscina's default export otherwise. Same operations, same code.
import { workerData } from "node:worker_threads";
import { serve } from "@lifeline/worker";

function started(flag) {
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

if (workerData?.lifeline === true) {
  serve((ctx, input) => {
    if (input.op === "noop") return input.n;
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
