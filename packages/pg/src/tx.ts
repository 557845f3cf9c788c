import { isContext, type Context } from "@lifeline/core";
import type pg from "pg";
import { connect } from "./connect.js";
import { describe, driver, isPool } from "./internal/driver.js";
import { dead, unhealthy } from "./internal/fence.js";
import { resolve, type QueryOptions } from "./options.js";
import { run } from "./query.js";

/**
 * withTx returns what `fn` returns, after running it inside a transaction on a client borrowed from `pool`:
 * `BEGIN`, then `fn(ctx, tx)`, then `COMMIT`; `ROLLBACK` when `fn` throws or `ctx` ends.
 *
 * Run the transaction's statements with {@link query}(ctx, tx, …): each stops with `ctx` (CancelRequest,
 * fence, see query) and carries the time left as a transaction-local `statement_timeout` (`SET LOCAL`
 * semantics). When one is cancelled the transaction is aborted on the server; withTx rolls it back before
 * the client goes back to the pool, so the next user gets it idle and outside a transaction. If the
 * rollback cannot be done (the connection was destroyed, or ROLLBACK fails or takes longer than
 * `graceMs`), the client is evicted from the pool instead.
 *
 * Errors: `fn`'s error, or `ctx.err()` when the ctx ended, or COMMIT's error (a failed COMMIT has rolled
 * back). What it does NOT do: no retry on serialization failures; no savepoints; it does not stop `fn`
 * itself (fn must use the ctx it is given). The caller must not release `tx`: withTx does.
 *
 * @throws TypeError (as a rejection) if `ctx` is not a Context, `pool` not a pg Pool or `fn` not a function.
 */
export async function withTx<T>(
  ctx: Context,
  pool: pg.Pool,
  fn: (ctx: Context, tx: pg.PoolClient) => Promise<T>,
  options?: QueryOptions,
): Promise<T> {
  if (!isContext(ctx)) throw new TypeError(`withTx: ctx must be a Context, got ${describe(ctx)}`);
  if (!isPool(pool)) throw new TypeError(`withTx: pool must be a pg Pool, got ${describe(pool)}`);
  if (typeof fn !== "function") throw new TypeError(`withTx: fn must be a function, got ${describe(fn)}`);
  const o = resolve("withTx", options);
  const tx = await connect(ctx, pool, options);
  let evict: Error | undefined = undefined;
  try {
    await run(ctx, tx, "begin", undefined, o);
    let result: T;
    try {
      result = await fn(ctx, tx);
      await run(ctx, tx, "commit", undefined, o);
    } catch (error) {
      evict = await rollback(tx, o.graceMs);
      throw error;
    }
    return result;
  } finally {
    tx.release(evict ?? unhealthy(tx));
  }
}

/**
 * rollback ends an open or aborted transaction on `tx` without regard to any ctx (cleanup must run after
 * the ctx ended), bounded by `graceMs`; it returns an error when the client must be evicted.
 */
async function rollback(tx: pg.PoolClient, graceMs: number): Promise<Error | undefined> {
  const gone = dead(tx);
  if (gone !== undefined) return gone;
  if (driver(tx).getTransactionStatus() === "I") return undefined; // BEGIN never ran, or COMMIT ended it
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      tx.query("rollback"),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`ROLLBACK took longer than ${graceMs} ms`)), graceMs))),
    ]);
    return unhealthy(tx);
  } catch (error) {
    // The client is released with the error, which makes pg-pool end it: the ROLLBACK still pending on it
    // dies with the socket.
    return error instanceof Error ? error : new Error(String(error));
  } finally {
    clearTimeout(timer);
  }
}
