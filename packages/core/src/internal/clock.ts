// performance.now() is monotonic with sub-millisecond resolution on every runtime core supports (Node, Deno, Bun,
// browsers); Date.now() is neither (it jumps with the wall clock and has whole-millisecond steps).
const origin = performance.timeOrigin;

/**
 * monoNow returns the current time as epoch milliseconds on the monotonic clock: `performance.timeOrigin +
 * performance.now()`, with a fractional part. The difference of two readings is exact to well under a
 * microsecond and never negative; the absolute value may drift from `Date.now()` when the wall clock is set.
 * @internal
 */
export function monoNow(): number {
  return origin + performance.now();
}
