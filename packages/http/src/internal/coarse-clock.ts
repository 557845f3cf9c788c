// A wall clock to the nearest ~10 ms for the shutdown report's `runningMs`, read once per request: Date.now()
// costs ~70 ns (the vDSO call and V8's conversion), a sixth of what HttpContexts does per request
// (measured: bench/http-profile.mjs, and 450 → 380 ns per begin + finish without it).

/** TICK_MS is how stale the clock may be while requests keep reading it (plus any event-loop delay). */
const TICK_MS = 10;

let now = 0;
let ticker: ReturnType<typeof setInterval> | undefined;
let read = false;

/**
 * coarseNow returns Date.now() as of the last tick. The first read after a quiet spell reads the real clock and
 * starts an unref'd ticker, which refreshes the value every TICK_MS and stops itself after a tick with no read:
 * no timer runs while nobody asks, and none keeps the process alive.
 */
export function coarseNow(): number {
  read = true;
  if (ticker === undefined) {
    now = Date.now();
    ticker = setInterval(tick, TICK_MS);
    ticker.unref();
  }
  return now;
}

function tick(): void {
  if (!read) {
    clearInterval(ticker);
    ticker = undefined;
    return;
  }
  read = false;
  now = Date.now();
}
