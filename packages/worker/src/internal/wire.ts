import type { MessagePort } from "node:worker_threads";

// The messages between a WorkerPool and serve(), and how errors and causes cross the thread boundary.
// Everything here is structured-cloneable; input from the other side is read strictly.

/** Flag slots in the per-thread SharedArrayBuffer: the seq of the task whose context ended, and how it ended. */
export const FLAG_SEQ = 0;
export const FLAG_KIND = 1;
export const FLAG_SLOTS = 2;

/** MAX_TIMER_MS is the longest delay a timer takes: Node fires a longer one after 1 ms (TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * seqAfter returns the number of the task after task `seq`: 1 after 2^31 − 1. A seq is stored in the flag's
 * Int32Array slot and compared there with the task's own, so it must stay in int32's positive range (2^31 would
 * be stored as -2^31 and never match), and never be 0, what a cleared slot holds.
 */
export function seqAfter(seq: number): number {
  return seq >= 0x7fff_ffff ? 1 : seq + 1;
}

/** How the caller's context ended: KIND_CANCELED for Canceled, KIND_DEADLINE for DeadlineExceeded. */
export const KIND_CANCELED = 1;
export const KIND_DEADLINE = 2;

/** RunMessage starts task `seq` on a thread. `deadline` is the caller's (epoch ms) or null. */
export interface RunMessage {
  readonly t: "run";
  readonly seq: number;
  readonly input: unknown;
  readonly deadline: number | null;
}

/** EndMessage tells the thread that task `seq`'s context ended (the flag is already set). */
export interface EndMessage {
  readonly t: "end";
  readonly seq: number;
  readonly kind: number;
  readonly cause: unknown;
}

/**
 * InitMessage is the first message a thread receives: the flag its tasks' contexts read, and the port the
 * end messages come on. The pool posts an end message before it sets the flag, so a thread that sees the
 * flag can read the message synchronously (receiveMessageOnPort) and end the context with its cause at once.
 */
export interface InitMessage {
  readonly t: "init";
  readonly flag: Int32Array;
  readonly control: MessagePort;
}

/**
 * DoneMessage reports task `seq`'s outcome: its value, or what it threw (through toWire). `expired` is set when
 * the worker's own copy of the deadline had ended the task's context before the task settled: the caller's thread
 * may not have seen its deadline timer fire yet (it is busy), but the task was stopped by that deadline all the same.
 */
export type DoneMessage =
  | { readonly t: "done"; readonly seq: number; readonly ok: true; readonly value: unknown; readonly expired?: true }
  | { readonly t: "done"; readonly seq: number; readonly ok: false; readonly error: unknown; readonly expired?: true };

/** CANCELED_CAUSE and DEADLINE_CAUSE stand for the core's sentinels, which are one object per thread. */
export const CANCELED_CAUSE = { $sentinel: "canceled" } as const;
export const DEADLINE_CAUSE = { $sentinel: "deadline" } as const;

/** SerializedError is an Error flattened for structured clone (V8's clone drops the cause and own fields). */
export interface SerializedError {
  readonly $error: true;
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  readonly cause: unknown;
  readonly fields: Record<string, unknown>;
}

const MAX_DEPTH = 4;

/**
 * toWire returns `value` in a form that survives structured clone: Errors flattened (with their cause and
 * their cloneable own fields), anything else that cannot be cloned replaced by its String().
 */
export function toWire(value: unknown, depth = 0): unknown {
  if (value instanceof Error) {
    const fields: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      if (key === "cause" || key === "name" || key === "message" || key === "stack") continue;
      const v = (value as unknown as Record<string, unknown>)[key];
      if (cloneable(v)) fields[key] = v;
    }
    const out: SerializedError = {
      $error: true,
      name: value.name,
      message: value.message,
      stack: value.stack,
      cause: depth < MAX_DEPTH && value.cause !== undefined ? toWire(value.cause, depth + 1) : undefined,
      fields,
    };
    return out;
  }
  return cloneable(value) ? value : String(value);
}

function cloneable(value: unknown): boolean {
  if (value === null || typeof value !== "object") return typeof value !== "function" && typeof value !== "symbol";
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

const builtins: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** fromWire rebuilds what toWire flattened: an Error of the same name (a built-in class where one exists). */
export function fromWire(value: unknown, depth = 0): unknown {
  if (typeof value !== "object" || value === null || (value as { $error?: unknown }).$error !== true) return value;
  const w = value as Partial<SerializedError>;
  const name = typeof w.name === "string" ? w.name : "Error";
  const message = typeof w.message === "string" ? w.message : "";
  const Ctor = Object.hasOwn(builtins, name) ? builtins[name]! : Error;
  const cause = depth < MAX_DEPTH && w.cause !== undefined ? fromWire(w.cause, depth + 1) : undefined;
  const error = cause === undefined ? new Ctor(message) : new Ctor(message, { cause });
  if (error.name !== name) Object.defineProperty(error, "name", { value: name, writable: true, enumerable: false, configurable: true });
  if (typeof w.stack === "string") error.stack = w.stack;
  if (typeof w.fields === "object" && w.fields !== null) {
    for (const [k, v] of Object.entries(w.fields)) {
      if (!(k in error)) (error as unknown as Record<string, unknown>)[k] = v;
    }
  }
  return error;
}
