// The report's number crunching, run on a @lifeline/worker thread (seed 000: "the goroutine is still crunching
// numbers"): for each customer, the trend of its monthly spending (a least-squares line through its months) and a
// 90% bootstrap interval for that trend. It checks ctx.err() (one atomic load) at every resample, so when the
// client leaves the loop ends within one resample: the pool's cooperative rung.
import { serve } from "@lifeline/worker";

/**
 * crunchTrends takes columns sorted by customer (`customer`, `month` 0–23, `total` spent that month) and returns,
 * per customer, `{ customer, months, total, slope, low, high }`: spending trend per month and its 90% interval
 * from `resamples` bootstrap resamples of the residuals. It throws `ctx.err()` as soon as its context ends.
 */
function crunchTrends(ctx, { customer, month, total, resamples }) {
  const out = [];
  let seed = 0x9e3779b9;
  const random = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  };
  for (let from = 0; from < customer.length; ) {
    let to = from;
    while (to < customer.length && customer[to] === customer[from]) to++;
    const xs = Array.from(month.subarray(from, to));
    const ys = Array.from(total.subarray(from, to));
    const fit = line(xs, ys);
    const residuals = ys.map((y, i) => y - (fit.intercept + fit.slope * xs[i]));
    const slopes = new Float64Array(resamples);
    const sample = new Array(ys.length);
    for (let r = 0; r < resamples; r++) {
      if (ctx.err() !== undefined) throw ctx.err(); // the cooperative rung: seen within one resample
      for (let i = 0; i < ys.length; i++) sample[i] = fit.intercept + fit.slope * xs[i] + residuals[Math.floor(random() * residuals.length)];
      slopes[r] = line(xs, sample).slope;
    }
    slopes.sort();
    out.push({
      customer: customer[from],
      months: to - from,
      total: ys.reduce((a, b) => a + b, 0),
      slope: fit.slope,
      low: resamples > 0 ? slopes[Math.floor(resamples * 0.05)] : fit.slope,
      high: resamples > 0 ? slopes[Math.min(resamples - 1, Math.floor(resamples * 0.95))] : fit.slope,
    });
    from = to;
  }
  return out;
}

/** line returns the least-squares line through (xs, ys): `{ slope, intercept }` (slope 0 for fewer than 2 points). */
function line(xs, ys) {
  const n = xs.length;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i];
    sy += ys[i];
  }
  const mx = sx / n;
  const my = sy / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

serve(crunchTrends, { name: "crunch trends" });
