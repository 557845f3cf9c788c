import { monoNow, setRef } from "./clock.js";

// The task registry's time stamps (Task.createdAt, since): approximate, as Go's g.waitsince is (Go
// stamps a blocked goroutine lazily, at GC). A state change reads no clock (a read costs ~45 ns, as much as the
// rest of a parked recv's bookkeeping): it takes the pending Stamp, which every change until the next sampler
// tick shares, and makes sure the sampler is armed. The sampler is one platform timer, unref'd, armed only while
// some change is unstamped (so never while nothing happens): when it fires it writes the time into the pending
// Stamp and starts a new one. A reader that finds a Stamp unwritten writes the time it reads into it (then
// starts a new one), so a stamp never changes once read. Either way a stamp is never before its change and, as
// long as the event loop lets a timer run on time, at most SAMPLE_MS after it.

/** SAMPLE_MS is the sampler's period: how late a lazy stamp may be, at most, when timers run on time. */
export const SAMPLE_MS = 1000;

/** @internal Stamp is a time on the monotonic clock (epoch ms) once written; `at` is 0 until then. */
export class Stamp {
  constructor(public at: number) {}
}

// The stamp every change since the last tick (or the last read of an unwritten stamp) shares. Pure: a bundle
// that never starts a task drops it.
let pending = /* @__PURE__ */ new Stamp(0);
let armed = false;
let armedAt = 0;

/** @internal lazyStamp returns the stamp of a state change happening now, without reading the clock. */
export function lazyStamp(): Stamp {
  if (!armed) arm();
  return pending;
}

/**
 * @internal exactNow reads the monotonic clock for a stamp that must be exact (a context's end, a stop). It
 * writes the pending stamp too: a change made before now is never stamped later than a change made after it.
 */
export function exactNow(): number {
  const now = monoNow();
  write(now);
  return now;
}

/** @internal readStamp returns the time of `s`, writing the time of this read into it if nothing has yet. */
export function readStamp(s: Stamp): number {
  if (s.at === 0) {
    // Unwritten: `s` is the pending stamp (every older one was written when it stopped being pending).
    const now = exactNow();
    // A sampler armed long ago that never fired lost its timer (fake timers reset, a runtime that dropped it)
    // or a busy event loop starved it: arm a new one (an extra tick is harmless: it only writes a later time).
    if (armed && now - armedAt > 2 * SAMPLE_MS) arm();
  }
  return s.at;
}

function write(now: number): void {
  pending.at = now;
  pending = new Stamp(0);
}

function arm(): void {
  armed = true;
  armedAt = monoNow();
  // Read at each call, as the platform clock's timers are: fake timers (node:test mock.timers, Vitest) drive it.
  setRef(setTimeout(tick, SAMPLE_MS), false);
}

function tick(): void {
  armed = false;
  write(monoNow());
}
