import type { Context } from "@lifeline/core";
import type pg from "pg";
import type PgCursor from "pg-cursor";
import { connect } from "./connect.js";
import { describe, driver, isPool } from "./internal/driver.js";
import { destroy, guard, unhealthy } from "./internal/fence.js";
import { resolve, type QueryOptions, type Resolved } from "./options.js";
import { check, type Queryable } from "./query.js";

/** CursorOptions are {@link QueryOptions} plus the batch size. */
export interface CursorOptions extends QueryOptions {
  /** batchSize is how many rows each round trip fetches from the portal. Default 100, in [1, 100000]. */
  readonly batchSize?: number;
}

type CursorClass = typeof PgCursor;
let cursorClass: Promise<CursorClass> | undefined;

/**
 * cursor returns an async iterator over the rows of `sql` with `params`, fetched `batchSize` at a time
 * through a server-side portal (node-postgres's own `pg-cursor`, an optional peer dependency), on a
 * client borrowed from `db` for the whole loop (or on the client you pass).
 *
 * - Each fetch runs under `ctx` with the same stop ladder as {@link query}: a fetch in flight when ctx ends
 *   is cancelled on the server (CancelRequest, fence, destroy after `graceMs`). The loop throws `ctx.err()`
 *   at the next fetch once ctx has ended, so after at most the batch in hand.
 * - The portal is closed (Close + Sync, waiting for ReadyForQuery, bounded by `graceMs`, else the
 *   connection is destroyed) when the loop ends, breaks, throws or the ctx ends; a borrowed client then goes
 *   back to the pool, or is evicted if it is not healthy.
 *
 * Why pg-cursor: it is node-postgres's own implementation of the portal protocol (Parse/Bind/Describe,
 * Execute with a row limit, Close), maintained with pg; lifeline adds the ctx and the fence around it
 * instead of re-implementing the protocol beside pg's parser.
 *
 * What it does NOT do: no server-side `statement_timeout` for the fetches (the portal's statements are
 * pg-cursor's messages; a process that dies between fetches leaves an idle backend that the server closes
 * when it reads EOF); it does not close the portal while your loop body runs (the loop body owns the
 * time between fetches). The iterator must be run to its end or broken out of (`for await` does this).
 *
 * @throws TypeError if `ctx` is not a Context, `db` not a pg Pool or client, `sql` not a string, `params`
 * not an array, or an option is out of range.
 */
export function cursor<R extends pg.QueryResultRow = pg.QueryResultRow>(
  ctx: Context,
  db: Queryable,
  sql: string,
  params?: readonly unknown[],
  options?: CursorOptions,
): AsyncGenerator<R, void, undefined> {
  check("cursor", ctx, db, sql, params);
  const o = resolve("cursor", options);
  const batchSize = options?.batchSize ?? 100;
  if (typeof batchSize !== "number" || !Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
    throw new TypeError(`cursor: options.batchSize must be an integer in [1, 100000], got ${describe(batchSize)}`);
  }
  return rows<R>(ctx, db, sql, params, batchSize, o, options);
}

async function* rows<R extends pg.QueryResultRow>(
  ctx: Context,
  db: Queryable,
  sql: string,
  params: readonly unknown[] | undefined,
  batchSize: number,
  o: Resolved,
  options: QueryOptions | undefined,
): AsyncGenerator<R, void, undefined> {
  const ended = ctx.err();
  if (ended !== undefined) throw ended;
  const Cursor = await (cursorClass ??= import("pg-cursor").then(
    (m) => (m as { default: CursorClass }).default,
    (error: unknown) => {
      cursorClass = undefined; // installed later: try again next time
      throw new Error("cursor: needs the pg-cursor package (npm install pg-cursor), which could not be loaded", { cause: error });
    },
  ));
  const pooled = isPool(db);
  const client = pooled ? await connect(ctx, db, options) : db;
  const cur = new Cursor<R>(o.comment + sql, params as unknown[] | undefined);
  const state = (): string => (cur as unknown as { state: string }).state;
  let queued = false;
  let failure: unknown = undefined;
  try {
    for (;;) {
      const batch = await guard<R[]>(ctx, client, o, "pg cursor read", (settle) => {
        const d = driver(client);
        if (!queued) {
          queued = true;
          d.query(cur);
        }
        cur.read(batchSize, (err, got) => {
          // The ctx ended while this fetch was on the wire, and the fetch stopped at its row limit first
          // (PortalSuspended): no ReadyForQuery follows a suspended portal, so the fence would wait for one
          // until the grace destroyed the connection. The loop ends at the next fetch anyway: close the
          // portal now, and its Sync brings the ReadyForQuery that proves the connection idle.
          if (!err && ctx.err() !== undefined && state() === "idle") cur.close(ignore);
          settle(err ? { ok: false, error: err } : { ok: true, value: got });
        });
        return {
          unsend: () => {
            if (state() !== "initialized") return false;
            const i = d._queryQueue.indexOf(cur);
            if (i >= 0) d._queryQueue.splice(i, 1);
            return true;
          },
        };
      });
      if (batch.length === 0) return;
      for (const row of batch) yield row;
    }
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    if (state() === "idle" || state() === "submitted") await closePortal(cur, client, o.graceMs);
    if (pooled) (client as pg.PoolClient).release(unhealthy(client, failure));
  }
}

function ignore(): void {}

/** closePortal sends Close + Sync and waits for ReadyForQuery, bounded by `graceMs`, else destroys the connection. */
async function closePortal(cur: PgCursor, client: pg.ClientBase, graceMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const closed = await Promise.race([
    cur.close().then(
      () => true,
      () => false,
    ),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), graceMs))),
  ]);
  clearTimeout(timer);
  if (!closed) destroy(client, "grace", `the portal was not closed within the ${graceMs} ms grace`);
}
