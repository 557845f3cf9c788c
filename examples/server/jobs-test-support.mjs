// Helpers shared by the jobs-mode tests (jobs.test.mjs, browser.test.mjs): a unique queue per run, removed at the
// end; the table lock that holds a report's query on the server; polling with a deadline.
import assert from "node:assert/strict";
import pg from "pg";
import { Queue } from "bullmq";
import { DEFAULT_DATABASE_URL, TABLE } from "./db.mjs";

/** The Redis the tests need (they fail, never skip, without it). */
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** uniqueQueue returns a queue name no other run uses. */
export function uniqueQueue(what) {
  return `lifeline-dash-test-${what}-${process.pid}-${Date.now().toString(36)}`;
}

/** obliterate removes every key of the queue `name` (the tests' clean-up). */
export async function obliterate(name) {
  const url = new URL(REDIS_URL);
  const queue = new Queue(name, { connection: { host: url.hostname, port: Number(url.port || 6379) } });
  try {
    await queue.obliterate({ force: true });
  } finally {
    await queue.close();
  }
}

/** poll calls `read()` until `predicate(value)` holds, failing with the last value after `ms`. */
export async function poll(what, read, predicate, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (predicate(value)) return value;
    if (Date.now() > deadline) assert.fail(`still not ${what} after ${ms} ms: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * withLockedOrders holds an ACCESS EXCLUSIVE lock on the orders table while `fn(lockedBackends)` runs, so a report's
 * query waits on the server until the test lets go. `lockedBackends(pids)` lists the backends of the worker
 * processes `pids` (their application_name is `dashboard <pid>.<n>`) that wait on a lock.
 */
export async function withLockedOrders(fn) {
  const url = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const locker = new pg.Client({ connectionString: url, application_name: "jobs test lock" });
  const watcher = new pg.Client({ connectionString: url, application_name: "jobs test watch" });
  await Promise.all([locker.connect(), watcher.connect()]);
  try {
    await locker.query("begin");
    await locker.query(`lock table ${TABLE} in access exclusive mode`);
    return await fn(async (pids) => {
      const { rows } = await watcher.query("select pid, application_name from pg_stat_activity where state = 'active' and wait_event_type = 'Lock'");
      return rows.filter((r) => pids.some((pid) => r.application_name.startsWith(`dashboard ${pid}.`)));
    });
  } finally {
    await locker.query("rollback").catch(() => {});
    await Promise.all([locker.end(), watcher.end()]);
  }
}

/** alive says whether a process with this pid exists. */
export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code !== "ESRCH";
  }
}
