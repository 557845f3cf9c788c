import { afterFunc, blockOn, isContext, type Context } from "@lifeline/core";
import type pg from "pg";
import { describe, isPool, type PoolView } from "./internal/driver.js";
import { afterCalls, tell, unhealthy } from "./internal/fence.js";
import { resolve, type QueryOptions, type Resolved } from "./options.js";

/**
 * connect returns a client borrowed from `pool`, waiting for a free slot no longer than `ctx` lives.
 *
 * - `ctx` already ended: rejects with `ctx.err()` at once; the pool is not touched.
 * - `ctx` ends while waiting: rejects with `ctx.err()` at once and the wait is taken out of the pool's
 *   queue, so the next free slot goes to the next waiter; if the pool had already picked this waiter, the
 *   client it got is released straight back. No client leaks either way.
 * - The client's `release()` waits until no lifeline call on it is in flight (a cancelled query settles
 *   only after its fence, so a release that did not await it still cannot hand on an unsafe connection),
 *   and evicts the client (releases it with an error, so the pool drops it) when it is not
 *   safe to reuse: lifeline destroyed its connection after a cancel, pg found it dead, or it is still
 *   inside a transaction (status not `I`, as pgxpool does). While you hold it, a connection error on it
 *   is not raised as an uncaught 'error' event (pg-pool leaves a checked-out client without a listener);
 *   your next call on it fails instead.
 *
 * The caller owns the client: call `client.release()` exactly once, as with `pool.connect()`. Run its
 * queries with {@link query}(ctx, client, …) so that each one stops with its ctx and fences the client.
 *
 * @throws TypeError (as a rejection) if `ctx` is not a Context or `pool` not a pg Pool.
 */
export async function connect(ctx: Context, pool: pg.Pool, options?: QueryOptions): Promise<pg.PoolClient> {
  if (!isContext(ctx)) throw new TypeError(`connect: ctx must be a Context, got ${describe(ctx)}`);
  if (!isPool(pool)) throw new TypeError(`connect: pool must be a pg Pool, got ${describe(pool)}`);
  const client = await acquire(ctx, pool, resolve("connect", options));
  const release = client.release;
  const onError = (): void => {};
  client.on("error", onError);
  client.release = (err?: Error | boolean): void => {
    const giveBack = (): void => {
      client.removeListener("error", onError);
      release.call(client, err === undefined || err === false ? unhealthy(client) : err);
    };
    // Released while a query of ours still runs or a cancelled one's fence is still up (its promise not
    // awaited): the pool gets the client only once that call settled, so the connection is known safe.
    afterCalls(client, giveBack);
  };
  return client;
}

/**
 * @internal acquire returns a client from `pool` as pg-pool hands it out (its own release, no listener),
 * waiting no longer than `ctx` lives; the caller releases it with `unhealthy(client, error)`.
 */
export function acquire(ctx: Context, pool: pg.Pool, o: Resolved): Promise<pg.PoolClient> {
  const ended = ctx.err();
  if (ended !== undefined) return Promise.reject(ended);
  const view = pool as unknown as PoolView;
  return blockOn(ctx, "pg connect", new Promise<pg.PoolClient>((resolvePromise, reject) => {
    let done = false;
    const onClient = (err: Error | undefined, client: pg.PoolClient | undefined, release: (e?: Error | boolean) => void): void => {
      if (done) {
        // The ctx ended first and this waiter was already picked: hand the slot straight back.
        if (client !== undefined) release(unhealthy(client));
        return;
      }
      done = true;
      stop();
      if (err !== undefined || client === undefined) reject(err ?? new Error("connect: pool returned no client"));
      else resolvePromise(client);
    };
    view.connect(onClient);
    const stop = afterFunc(ctx, () => {
      if (done) return;
      done = true;
      // pg-pool keeps waiters as {callback} in _pendingQueue; ours is the callback itself unless the pool has
      // connectionTimeoutMillis (it wraps it then): in that case the release-on-arrival above applies.
      const queue = view._pendingQueue;
      const i = Array.isArray(queue) ? queue.findIndex((item) => item.callback === onClient) : -1;
      if (i >= 0) queue!.splice(i, 1);
      // ms is 0: the wait is abandoned in the same turn the ctx's end is heard. (No clock is read on the way
      // in: performance.now() measured ~2 µs per call on this loaded machine, a tenth of a whole query.)
      tell(o, { stoppedBy: "not-sent", pid: null, ms: 0, cancel: undefined, what: "pg connect" });
      reject(ctx.err());
    });
  }));
}
