// What crosses process boundaries: cancel reasons, cancel records, the pushes, and the header a job carries.
// Everything read back is parsed strictly: it comes from Redis, which anybody on the network may write.
import { Canceled } from "@lifeline/core";

/** @internal The largest serialised cancel reason cancelJob accepts (bytes of JSON). */
export const MAX_REASON_BYTES = 16 * 1024;
const MAX_NAME = 200;

/** @internal describe renders a bad argument for an error message (as the core's describe does). */
export function describe(value: unknown): string {
  if (typeof value === "function") return "a function";
  if (typeof value === "object" && value !== null) {
    return `an instance of ${(value as { constructor?: { name?: string } }).constructor?.name || "Object"}`;
  }
  const shown = typeof value === "string" ? JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value) : String(value);
  return `\`${shown}\` (${value === null ? "null" : typeof value})`;
}

/** @internal plainDataProblem returns why `v` is not plain JSON data (strings, finite numbers, booleans, null, arrays, plain objects), or undefined. */
export function plainDataProblem(v: unknown, seen: Set<object> = new Set()): string | undefined {
  if (v === null || typeof v === "string" || typeof v === "boolean") return undefined;
  if (typeof v === "number") return Number.isFinite(v) ? undefined : `${v} (not finite)`;
  if (typeof v !== "object") return describe(v);
  if (seen.has(v)) return "a cycle";
  const proto = Object.getPrototypeOf(v) as unknown;
  if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) return describe(v);
  seen.add(v);
  for (const item of Array.isArray(v) ? v : Object.values(v)) {
    const p = plainDataProblem(item, seen);
    if (p !== undefined) return p;
  }
  seen.delete(v);
  return undefined;
}

/** @internal Reason on the wire: the core's Canceled, a string, an Error's name and message, or plain data. */
export type WireReason = { k: "c" } | { k: "s"; v: string } | { k: "e"; n: string; m: string } | { k: "j"; v: unknown };

/** @internal encodeReason returns the wire form of `reason`, or a description of why it cannot travel. */
export function encodeReason(reason: unknown): WireReason | string {
  if (reason === undefined || reason === Canceled) return { k: "c" };
  if (typeof reason === "string") return { k: "s", v: reason };
  if (reason instanceof Error) return { k: "e", n: String(reason.name).slice(0, MAX_NAME), m: String(reason.message) };
  const problem = plainDataProblem(reason);
  if (problem !== undefined) return `it holds ${problem}`;
  return { k: "j", v: reason };
}

/** @internal decodeReason rebuilds a reason: Canceled, the string as sent, an Error with the name and message, or the data. */
export function decodeReason(wire: unknown): unknown {
  if (typeof wire !== "object" || wire === null) return unreadable();
  const w = wire as Record<string, unknown>;
  switch (w.k) {
    case "c":
      return Canceled;
    case "s":
      return typeof w.v === "string" ? w.v : unreadable();
    case "e": {
      if (typeof w.n !== "string" || typeof w.m !== "string") return unreadable();
      const e = new Error(w.m);
      Object.defineProperty(e, "name", { value: w.n.slice(0, MAX_NAME), writable: true, enumerable: false, configurable: true });
      e.stack = `${w.n}: ${w.m}`; // the sender's frames are not ours to show, and ours say nothing
      return e;
    }
    case "j":
      return plainDataProblem(w.v) === undefined ? w.v : unreadable();
    default:
      return unreadable();
  }
}

function unreadable(): Error {
  const e = new Error("the job was canceled, but the cancel record is malformed");
  Object.defineProperty(e, "name", { value: "MalformedCancelRecord", enumerable: false, configurable: true });
  return e;
}

/** @internal CancelRecord is what cancelJob stores in the job's hash (field CANCEL_FIELD) and pushes. */
export interface CancelRecord {
  /** r is the reason. */
  readonly r: WireReason;
  /** at is when cancelJob ran, in Redis's clock (epoch ms). */
  readonly at: number;
}

/** @internal parseRecord parses a stored cancel record; a record that is there but malformed still cancels. */
export function parseRecord(text: string): { reason: unknown; at: number | undefined } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { reason: decodeReason(undefined), at: undefined };
  }
  const r = typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {};
  return { reason: decodeReason(r.r), at: typeof r.at === "number" && Number.isFinite(r.at) ? r.at : undefined };
}

/** @internal parsePush parses a push message `{ id, r, at }`; undefined if it names no job. */
export function parsePush(text: string): { id: string; reason: unknown; at: number | undefined } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const m = v as Record<string, unknown>;
  if (typeof m.id !== "string" || m.id === "") return undefined;
  return { id: m.id, reason: decodeReason(m.r), at: typeof m.at === "number" && Number.isFinite(m.at) ? m.at : undefined };
}

/** @internal Header is what addJob records in the job's options (key HEADER_OPTION). */
export interface Header {
  /** d is the job's deadline in Redis's clock (epoch ms), if the producer's ctx had one. */
  readonly d?: number;
  /** x holds the carried values by their wire names. */
  readonly x?: Record<string, unknown>;
}

/** @internal The field of the job hash holding the cancel record; the job option holding the header. */
export const CANCEL_FIELD = "lifelineCancel";
export const HEADER_OPTION = "lifeline";

const NO_VALUES: Readonly<Record<string, unknown>> = Object.freeze({});

/** @internal parseHeader reads a job's header strictly; a string says what is wrong with it. */
export function parseHeader(raw: unknown): { deadline: number | undefined; values: Readonly<Record<string, unknown>> } | string {
  if (raw === undefined) return { deadline: undefined, values: NO_VALUES };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return `the header is ${describe(raw)}`;
  const h = raw as Record<string, unknown>;
  let deadline: number | undefined;
  if (h.d !== undefined) {
    if (typeof h.d !== "number" || !Number.isFinite(h.d)) return `the deadline is ${describe(h.d)}`;
    deadline = h.d;
  }
  const x = h.x;
  if (x !== undefined && (typeof x !== "object" || x === null || Array.isArray(x))) return `the values are ${describe(x)}`;
  return { deadline, values: (x ?? NO_VALUES) as Record<string, unknown> };
}
