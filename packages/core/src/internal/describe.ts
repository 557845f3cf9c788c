/**
 * describe renders a bad argument for an error message: `NaN` (number), `"x"` (string), `[object Foo]`.
 * It never throws, whatever it is given.
 */
export function describe(value: unknown): string {
  if (value === null) return "`null`";
  switch (typeof value) {
    case "string":
      return `\`${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)}\` (string)`;
    case "number":
    case "boolean":
    case "bigint":
    case "undefined":
      return `\`${String(value)}\` (${typeof value})`;
    case "symbol":
      return `\`${value.toString()}\` (symbol)`;
    case "function":
      return `a function${value.name ? ` (${value.name})` : ""}`;
    default: {
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? "an invalid Date" : `a Date (${value.toISOString()})`;
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      return typeof name === "string" && name !== "" ? `an instance of ${name}` : "an object";
    }
  }
}
