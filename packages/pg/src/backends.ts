import type { Context } from "@lifeline/core";
import { describe, isPool } from "./internal/driver.js";
import { check, query, type Queryable } from "./query.js";
import type { QueryOptions } from "./options.js";

/** Backend is one server process as `pg_stat_activity` shows it. */
export interface Backend {
  readonly pid: number;
  /** state: `active`, `idle`, `idle in transaction`, `idle in transaction (aborted)`, … */
  readonly state: string | null;
  /** query is the backend's current or last statement (with lifeline's label comment, if any). */
  readonly query: string;
  /** runningMs is how long the current statement has run (for `active`), else how long it has been in its state. */
  readonly runningMs: number;
  readonly applicationName: string;
  readonly waitEvent: string | null;
}

/** BackendsOptions choose whose backends to list. */
export interface BackendsOptions extends QueryOptions {
  /** applicationName to match; default: the `application_name` of `db`'s configuration. */
  readonly applicationName?: string;
}

/**
 * backends returns the server processes whose `application_name` is the app's (the one `db` was
 * configured with, or `options.applicationName`), oldest statement first, excluding the connection that
 * asks: what a dashboard shows to prove that a cancelled query stopped on the server (`state` no longer
 * `active`) and that a client-side timeout did not (still `active` after its socket was dropped).
 *
 * It runs one query through {@link query} (so it borrows a pool slot when given a pool: use a separate
 * small pool for monitoring if the app's pool may be exhausted). It does NOT see other databases' or
 * other roles' statements unless the role may (`pg_read_all_stats`).
 *
 * @throws TypeError (as a rejection) on bad arguments, or when no application name is known.
 */
export async function backends(ctx: Context, db: Queryable, options?: BackendsOptions): Promise<Backend[]> {
  check("backends", ctx, db, "", undefined);
  const configured = isPool(db)
    ? (db as unknown as { options: { application_name?: unknown } }).options.application_name
    : (db as unknown as { connectionParameters?: { application_name?: unknown } }).connectionParameters?.application_name;
  const name = options?.applicationName ?? configured;
  if (typeof name !== "string" || name === "") {
    throw new TypeError(`backends: no application_name: configure one on the pool or pass options.applicationName, got ${describe(name)}`);
  }
  const { rows } = await query<{ pid: number; state: string | null; query: string; running_ms: number; application_name: string; wait_event: string | null }>(
    ctx,
    db,
    `select pid, state, query, application_name, wait_event,
            (extract(epoch from clock_timestamp() - coalesce(case when state = 'active' then query_start end, state_change)) * 1000)::float8 as running_ms
       from pg_stat_activity
      where application_name = $1 and pid <> pg_backend_pid() and backend_type = 'client backend'
      order by query_start nulls last`,
    [name],
    options,
  );
  return rows.map((r) => ({
    pid: r.pid,
    state: r.state,
    query: r.query,
    runningMs: r.running_ms ?? 0,
    applicationName: r.application_name,
    waitEvent: r.wait_event,
  }));
}
