import { describe } from "./internal/driver.js";

/** StopRung says how lifeline stopped a call whose ctx ended: the ladder's rung that took effect. */
export type StopRung =
  /** Nothing had been sent: the query was taken out of pg's queue (or never queued). */
  | "not-sent"
  /** A wire CancelRequest reached the server and the backend answered with ReadyForQuery: the connection is reused. */
  | "cancel"
  /** The connection was destroyed: no ReadyForQuery within the grace, or the CancelRequest failed. */
  | "destroy";

/** StopReport describes one stop, for logs and the dashboard's event log ({@link QueryOptions.onStop}). */
export interface StopReport {
  /** stoppedBy is the rung that took effect. */
  readonly stoppedBy: StopRung;
  /** pid is the backend process id, null when the query never reached a connection. */
  readonly pid: number | null;
  /** ms is the time from the ctx's end to the connection being safe again (or destroyed). */
  readonly ms: number;
  /** cancel is how the CancelRequest socket ended (`eof` = delivered), undefined when none was sent. */
  readonly cancel: string | undefined;
  /** what says which call was stopped: `pg query`, `pg cursor read`, `pg connect`. */
  readonly what: string;
}

/** QueryOptions tune how a call stops; every field is optional. */
export interface QueryOptions {
  /**
   * graceMs bounds the wait for the server's ReadyForQuery after a CancelRequest; past it the connection
   * is destroyed and never pooled again. Default 1000, at most 60000.
   */
  readonly graceMs?: number;
  /** cancelTimeoutMs bounds the CancelRequest's own socket (connect, TLS, read to EOF). Default 5000, at most 60000. */
  readonly cancelTimeoutMs?: number;
  /**
   * serverTimeout: when the ctx has a deadline, send the remaining time as the statement's
   * `statement_timeout`, so the server stops the query near the deadline even if this process dies.
   * Default true. Turn it off for statements that cannot run inside a transaction block (VACUUM,
   * CREATE INDEX CONCURRENTLY, CREATE DATABASE): the limit travels in the same implicit transaction.
   */
  readonly serverTimeout?: boolean;
  /**
   * label is put in a comment at the head of the SQL (`/* lifeline: <label> *\/`), so `pg_stat_activity.query`
   * names the task a query is for, e.g. `task 42 report`. Characters other than letters, digits, space and
   * `_.:#-` are dropped; at most 100 are kept.
   */
  readonly label?: string;
  /** onStop hears of every call stopped by its ctx, once the connection is safe again (or destroyed). */
  readonly onStop?: (report: StopReport) => void;
}

/** @internal Resolved holds validated options. */
export interface Resolved {
  readonly graceMs: number;
  readonly cancelTimeoutMs: number;
  readonly serverTimeout: boolean;
  readonly comment: string;
  readonly onStop: ((report: StopReport) => void) | undefined;
}

const DEFAULTS: Resolved = { graceMs: 1000, cancelTimeoutMs: 5000, serverTimeout: true, comment: "", onStop: undefined };

/** @internal resolve validates `options` for `fn`, throwing a TypeError naming it. */
export function resolve(fn: string, options: QueryOptions | undefined): Resolved {
  if (options === undefined) return DEFAULTS;
  if (typeof options !== "object" || options === null) throw new TypeError(`${fn}: options must be an object, got ${describe(options)}`);
  const { graceMs = DEFAULTS.graceMs, cancelTimeoutMs = DEFAULTS.cancelTimeoutMs, serverTimeout = true, label, onStop } = options;
  checkMs(fn, "graceMs", graceMs, 0);
  checkMs(fn, "cancelTimeoutMs", cancelTimeoutMs, 1);
  if (typeof serverTimeout !== "boolean") throw new TypeError(`${fn}: options.serverTimeout must be a boolean, got ${describe(serverTimeout)}`);
  if (label !== undefined && typeof label !== "string") throw new TypeError(`${fn}: options.label must be a string, got ${describe(label)}`);
  if (onStop !== undefined && typeof onStop !== "function") throw new TypeError(`${fn}: options.onStop must be a function, got ${describe(onStop)}`);
  const clean = label === undefined ? "" : label.replace(/[^\w .:#-]/g, "").slice(0, 100);
  return { graceMs, cancelTimeoutMs, serverTimeout, comment: clean === "" ? "" : `/* lifeline: ${clean} */ `, onStop };
}

function checkMs(fn: string, name: string, v: unknown, min: number): void {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > 60_000) {
    throw new TypeError(`${fn}: options.${name} must be a number of milliseconds in [${min}, 60000], got ${describe(v)}`);
  }
}
