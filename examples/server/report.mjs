// The "Generate Report" computation (seed 000): real CPU work in short slices, with a cancellation point
// after every slice. The slice itself cannot be interrupted (JavaScript has no preemption, as Go has no
// goroutine kill): the time from "the client left" to "the work stopped" is at most one slice.
import { sleep } from "@lifeline/core";

/**
 * generateReport crunches `steps` slices of about `workMs` of CPU each, sends `{ step, of }` on `progress`
 * after each, and sleeps `pauseMs` between them. It returns the report's summary, or rejects with
 * `ctx.err()` at the first send or sleep after `ctx` ends. It does not close `progress`: its caller does.
 */
export async function generateReport(ctx, { steps, workMs, pauseMs }, progress) {
  const summary = { samples: 0, sum: 0, min: Infinity, max: -Infinity, seed: 0x2545f491 };
  for (let step = 1; step <= steps; step++) {
    crunch(summary, workMs);
    await progress.send(ctx, { step, of: steps }); // blocks until the handler has taken it: paced by the client
    await sleep(ctx, pauseMs); // the cancellation point: rejects the moment ctx ends
  }
  return {
    samples: summary.samples,
    mean: Number((summary.sum / summary.samples).toFixed(6)),
    min: Number(summary.min.toFixed(6)),
    max: Number(summary.max.toFixed(6)),
  };
}

/** crunch draws pseudo-random samples (xorshift32) into `summary` for `ms` milliseconds of CPU. */
function crunch(summary, ms) {
  const until = performance.now() + ms;
  let x = summary.seed;
  do {
    for (let i = 0; i < 2000; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const v = (x >>> 0) / 4294967296;
      summary.sum += v;
      if (v < summary.min) summary.min = v;
      if (v > summary.max) summary.max = v;
    }
    summary.samples += 2000;
  } while (performance.now() < until);
  summary.seed = x;
}
