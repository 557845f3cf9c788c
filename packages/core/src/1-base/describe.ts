/**
 * describe renders a bad argument for an error message: `NaN` (number), `"x"` (string), an instance of Foo.
 * It never throws, whatever it is given.
 */
export function describe(value: unknown): string {
  if (typeof value === "function") return "a function";
  if (typeof value === "object" && value !== null) {
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? "an invalid Date" : `a Date (${value.toISOString()})`;
    return `an instance of ${(value as { constructor?: { name?: string } }).constructor?.name || "Object"}`;
  }
  const shown = typeof value === "string" ? JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value) : String(value);
  return `\`${shown}\` (${value === null ? "null" : typeof value})`;
}
