// Formatting shared by the server (its event log) and the page (GET /format.mjs): numbers a person reads.

/**
 * formatMs returns a duration in milliseconds as text with no false precision: two significant digits below
 * 10 ms ("0.034 ms", "1.2 ms"), whole milliseconds from 10 ms ("46 ms", "1234 ms"), "–" for null/undefined.
 */
export function formatMs(ms) {
  if (ms === null || ms === undefined) return "–";
  if (!Number.isFinite(ms) || ms < 0) return `${ms} ms`;
  if (ms >= 10) return `${Math.round(ms)} ms`;
  if (ms === 0) return "0 ms";
  return `${Number(ms.toPrecision(2))} ms`;
}

/** plural returns "1 task", "2 tasks", "0 tasks": `n` and the noun, with `many` (default noun + "s") unless n is 1. */
export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}
