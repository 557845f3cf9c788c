import { isContext, remaining, type Context } from "@lifeline/core";
import pg from "pg";
import { acquire } from "./connect.js";
import { describe, driver, isClient, isPool } from "./internal/driver.js";
import { guard, localLimit, unhealthy } from "./internal/fence.js";
import { resolve, type QueryOptions, type Resolved } from "./options.js";

/** Queryable is what the calls take: a pg.Pool, or a client (a pg.Client, or a pg.PoolClient you hold). */
export type Queryable = pg.Pool | pg.ClientBase;

// The server-side limit is the time left plus this margin, so that our own CancelRequest at the deadline is
// the normal path and statement_timeout the backstop for when this process is gone.
const SERVER_MARGIN_MS = 20;
// statement_timeout is an int of milliseconds: a deadline further away (~24.8 days) is no limit the server can
// hold, and a larger value fails the statement (22023); it is sent as no deadline.
const MAX_SERVER_TIMEOUT_MS = 2 ** 31 - 1;

/** QueryShape is the part of pg's (untyped) Query class that Statement uses. */
interface QueryShape {
  readonly text: string;
  callback: ((err: Error | null, res: unknown) => void) | undefined;
}
interface QueryInternals {
  submit(this: unknown, con: Connection): Error | null;
  handleRowDescription(this: unknown, msg: unknown): void;
  handleDataRow(this: unknown, msg: unknown): void;
  handleCommandComplete(this: unknown, msg: unknown, con: Connection): void;
  requiresPreparation(this: unknown): boolean;
}
interface Connection {
  query(text: string): void;
  parse(m: { text: string }): void;
  bind(m: Record<string, never>): void;
  execute(m: Record<string, never>): void;
  stream: { cork?(): void; uncork?(): void };
}
const QueryBase = pg.Query as unknown as new (text: string, values: unknown[] | undefined) => QueryShape;
const base = pg.Query.prototype as unknown as QueryInternals;

/**
 * Statement is pg's Query plus what lifeline needs: whether it was sent, and an optional prelude that
 * sets the statement's server-side limit in the same round trip. Why a prelude and not `SET` per query or
 * a cached per-connection setting: the time left changes with every query, so a cached setting would need
 * a `SET` round trip almost every time; a statement-local setting sent ahead of the statement —
 * `Parse/Bind/Execute` of `set_config(…, true)` before pg's own messages for a parameterised query,
 * `set local statement_timeout = …;` ahead of the text for a simple one — costs no round trip and lasts only until the end of that implicit transaction
 * (the Sync, or the end of the query string), so nothing has to be reset afterwards; inside an explicit
 * transaction it acts as `SET LOCAL`. Its one result is swallowed here, so callers see pg's result as usual.
 */
class Statement extends QueryBase {
  sent = false;
  #prelude: string | undefined; // the statement_timeout to set: whole ms, or "default"
  #skipping: boolean;
  #comment: string;
  #sql: string;
  constructor(comment: string, sql: string, values: unknown[] | undefined, prelude: string | undefined) {
    super(comment + sql, values);
    this.#comment = comment;
    this.#sql = sql;
    this.#prelude = prelude;
    this.#skipping = prelude !== undefined;
  }
  submit(con: Connection): Error | null {
    this.sent = true;
    const limit = this.#prelude;
    if (limit === undefined) return base.submit.call(this, con);
    if (!base.requiresPreparation.call(this)) {
      // A multi-statement simple query runs as one implicit transaction block: SET LOCAL holds until its end,
      // and costs less than a SELECT (no plan, no row).
      con.query(`${this.#comment}set local statement_timeout = ${limit};${this.#sql}`); // the label stays first
      return null;
    }
    // An extended-protocol batch is not a transaction block (SET LOCAL would only warn), but it is one
    // transaction until Sync: set_config(…, true) holds until then.
    const value = limit === "default" ? "(select reset_val from pg_settings where name = 'statement_timeout')" : `'${limit}'`;
    con.stream.cork?.();
    try {
      con.parse({ text: `select set_config('statement_timeout', ${value}, true)` });
      con.bind({});
      con.execute({});
      return base.submit.call(this, con);
    } finally {
      con.stream.uncork?.();
    }
  }
  handleRowDescription(msg: unknown): void {
    if (!this.#skipping) base.handleRowDescription.call(this, msg);
  }
  handleDataRow(msg: unknown): void {
    if (!this.#skipping) base.handleDataRow.call(this, msg);
  }
  handleCommandComplete(msg: unknown, con: Connection): void {
    if (this.#skipping) this.#skipping = false;
    else base.handleCommandComplete.call(this, msg, con);
  }
}

/**
 * query returns the result of `sql` with `params` run on `db` (a pg.Pool: a connection is borrowed and
 * released; or a client you hold), with `ctx` in charge of it on the server too.
 *
 * - `ctx` already ended: rejects with `ctx.err()` at once; nothing is sent, the client stays as it was.
 * - `ctx` ends before the query reached the wire (queued behind another on the same client): it leaves the
 *   queue; nothing is sent. A call made while another lifeline call on the same client is in flight is held
 *   by lifeline, not queued in pg, until that call settled (past its fence): pg would send it at the
 *   ReadyForQuery that ends a cancelled statement, before the CancelRequest is known delivered.
 * - `ctx` ends while it runs: a wire CancelRequest goes on a new socket to the connection's peer (see
 *   {@link sendCancelRequest}); no pool slot, no privilege. The client is then fenced: nothing else is sent
 *   on it until the cancel socket reached EOF and the server sent ReadyForQuery, so the cancel cannot hit a
 *   later query. If ReadyForQuery does not come within `graceMs`, or the CancelRequest fails, the socket is
 *   destroyed and the client is never pooled again. The promise settles only after that, so the client is
 *   reusable as soon as it does. The server's 57014 is absorbed: the call rejects with `ctx.err()` itself
 *   (`Canceled` or `DeadlineExceeded`). A query that finished before the cancel took effect resolves with
 *   its result: the server's answer stands.
 * - `ctx` has a deadline: the time left (plus 20 ms) is sent as this statement's `statement_timeout` in
 *   the same round trip, so the server stops it near the deadline even if this process dies (see
 *   `serverTimeout`); a server timeout that fires first rejects with `DeadlineExceeded`. A deadline further
 *   away than `statement_timeout` can hold (2^31 − 1 ms, ~24.8 days) is sent as none.
 * - From a pool: the client goes back only if it is healthy and idle outside a transaction; otherwise it
 *   is released with an error, which makes the pool drop it.
 *
 * Other database errors pass through unchanged (pg's DatabaseError with its SQLSTATE `code`). What it does
 * NOT do: no retries; it does not roll back a transaction you opened yourself on a client you hold (a
 * cancelled statement leaves it aborted, status `E`: you own the ROLLBACK; {@link withTx} does it for you).
 *
 * @throws TypeError (as a rejection) if `ctx` is not a Context, `db` not a pg Pool or client, `sql` not a
 * string, `params` not an array, or an option is out of range.
 */
export function query<R extends pg.QueryResultRow = pg.QueryResultRow>(
  ctx: Context,
  db: Queryable,
  sql: string,
  params?: readonly unknown[],
  options?: QueryOptions,
): Promise<pg.QueryResult<R>> {
  let o: Resolved;
  try {
    check("query", ctx, db, sql, params);
    o = resolve("query", options);
  } catch (error) {
    return Promise.reject(error);
  }
  const ended = ctx.err();
  if (ended !== undefined) return Promise.reject(ended);
  if (!isPool(db)) return run<R>(ctx, db, sql, params, o);
  // Promise chains rather than async/await: this is the path of every pooled query, and each hop costs.
  return acquire(ctx, db, o).then((client) =>
    run<R>(ctx, client, sql, params, o).then(
      (result) => {
        client.release(unhealthy(client));
        return result;
      },
      (error: unknown) => {
        client.release(unhealthy(client, error));
        throw error;
      },
    ),
  );
}

/** @internal check validates the arguments common to query and cursor. */
export function check(fn: string, ctx: unknown, db: unknown, sql: unknown, params: unknown): void {
  if (!isContext(ctx)) throw new TypeError(`${fn}: ctx must be a Context, got ${describe(ctx)}`);
  if (!isPool(db) && !isClient(db)) throw new TypeError(`${fn}: db must be a pg Pool or Client, got ${describe(db)}`);
  if (typeof sql !== "string") throw new TypeError(`${fn}: sql must be a string, got ${describe(sql)}`);
  if (params !== undefined && !Array.isArray(params)) throw new TypeError(`${fn}: params must be an array, got ${describe(params)}`);
  // In pg's pipeline mode several statements are on the wire at once: a cancel would hit whichever runs, and
  // the fence (one statement, then ReadyForQuery) does not hold.
  const pipelined = isPool(db) ? (db as unknown as { options: { pipeline?: unknown } }).options.pipeline : (db as unknown as { pipeline?: unknown }).pipeline;
  if (pipelined === true) throw new TypeError(`${fn}: db must not be in pg's pipeline mode, got a pipelined ${isPool(db) ? "Pool" : "Client"}`);
}

/** @internal run runs one statement on a client under the stop ladder. */
export function run<R extends pg.QueryResultRow>(
  ctx: Context,
  client: pg.ClientBase,
  sql: string,
  params: readonly unknown[] | undefined,
  o: Resolved,
): Promise<pg.QueryResult<R>> {
  return guard<pg.QueryResult<R>>(ctx, client, o, "pg query", (settle) => {
    const q = new Statement(o.comment, sql, params as unknown[] | undefined, prelude(ctx, client, o));
    q.callback = (err, res) => settle(err ? { ok: false, error: err } : { ok: true, value: res as pg.QueryResult<R> });
    const d = driver(client);
    d.query(q);
    return {
      unsend: () => {
        if (q.sent) return false;
        const i = d._queryQueue.indexOf(q);
        if (i >= 0) d._queryQueue.splice(i, 1);
        return true;
      },
    };
  });
}

/** prelude returns the statement_timeout to give this statement (ms, or "default"), or undefined for none. */
function prelude(ctx: Context, client: pg.ClientBase, o: Resolved): string | undefined {
  if (!o.serverTimeout) return undefined;
  const status = driver(client).getTransactionStatus();
  if (status === "I") localLimit(client, false);
  const left = remaining(ctx);
  if (left === Infinity || Math.ceil(left) + SERVER_MARGIN_MS > MAX_SERVER_TIMEOUT_MS) {
    // Inside a transaction a limit set by an earlier statement stays until the transaction ends: a
    // statement without a deadline gets the session's own setting back.
    if (status === "T" && localLimit(client, false)) {
      return "default";
    }
    return undefined;
  }
  if (status === "E") return undefined; // an aborted transaction refuses every statement anyway
  // Recorded outside a transaction too: a statement that opens one (BEGIN) keeps its limit for the whole of it.
  localLimit(client, true);
  return String(Math.max(1, Math.ceil(left) + SERVER_MARGIN_MS));
}
