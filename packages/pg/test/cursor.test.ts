import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { assertNoLeaks } from "@lifeline/testing";
import { background, Canceled, withCancel } from "@lifeline/core";
import { backends, connect, cursor, query, type StopReport } from "@lifeline/pg";
import pg from "pg";
import { activePid, admin, backend, DB, newPool, notActive } from "./support.js";

describe("cursor", () => {
  it("reads every row in batches through a portal", async () => {
    const { pool } = newPool("cursor-all", { max: 1 });
    try {
      let sum = 0;
      let n = 0;
      for await (const row of cursor<{ i: number }>(background(), pool, "select i from generate_series(1, $1::int) i", [1234], { batchSize: 100 })) {
        sum += row.i;
        n++;
      }
      assert.equal(n, 1234);
      assert.equal(sum, (1234 * 1235) / 2);
      assert.equal(pool.idleCount, 1);
    } finally {
      await pool.end();
    }
  });

  it("closes the portal when the loop breaks: the client goes back idle, outside a transaction", async () => {
    const { pool } = newPool("cursor-break", { max: 1 });
    try {
      const pid = (await query(background(), pool, "select pg_backend_pid() as pid")).rows[0]!.pid as number;
      let n = 0;
      for await (const row of cursor(background(), pool, "select i from generate_series(1, 100000) i", [], { batchSize: 50 })) {
        void row;
        if (++n === 120) break;
      }
      assert.equal(n, 120);
      assert.equal(pool.idleCount, 1);
      assert.equal((await backend(pid))!.state, "idle", "no portal or transaction left open");
      const c = await pool.connect();
      assert.equal(c.getTransactionStatus(), "I");
      c.release();
    } finally {
      await pool.end();
    }
  });

  it("throws ctx.err() after at most the batch in hand once the ctx ends, and closes the portal", async () => {
    const { pool } = newPool("cursor-ctx", { max: 1 });
    try {
      const pid = (await query(background(), pool, "select pg_backend_pid() as pid")).rows[0]!.pid as number;
      const [ctx, cancel] = withCancel(background());
      let n = 0;
      await assert.rejects(
        (async () => {
          for await (const row of cursor(ctx, pool, "select i from generate_series(1, 100000) i", [], { batchSize: 10 })) {
            void row;
            if (++n === 15) cancel();
          }
        })(),
        (e) => e === Canceled,
      );
      assert.equal(n, 20, "the rest of the batch in hand, then it stops");
      assert.equal((await backend(pid))!.state, "idle");
      assert.equal(pool.idleCount, 1);
    } finally {
      await pool.end();
    }
  });

  it("cancels a fetch running on the server when the ctx ends", async () => {
    const { pool, name } = newPool("cursor-cancel", { max: 1 });
    try {
      const [ctx, cancel] = withCancel(background());
      const loop = (async () => {
        for await (const row of cursor(ctx, pool, "select pg_sleep(30) as s", [])) void row;
      })();
      const pid = await activePid(name, "pg_sleep(30)");
      cancel();
      await assert.rejects(loop, (e) => e === Canceled);
      assert.equal(await notActive(pid), "idle");
      assert.equal((await query(background(), pool, "select pg_backend_pid() as pid")).rows[0]!.pid, pid, "reused");
    } finally {
      await pool.end();
    }
  });

  it("keeps the connection when the ctx ends while a fetch is on the wire and the fetch finishes first", async () => {
    // A fetch that stops at its row limit ends with PortalSuspended, which no ReadyForQuery follows: the
    // fence must not wait for one that never comes (and destroy the connection when the grace runs out).
    const { pool } = newPool("cursor-suspended", { max: 1 });
    const client = await connect(background(), pool);
    try {
      const pid = (await query(background(), client, "select pg_backend_pid() as pid")).rows[0]!.pid as number;
      const [ctx, cancel] = withCancel(background());
      const conn = (client as unknown as { connection: { once(e: string, f: () => void): void } }).connection;
      // The first batch is complete on our side (its callback still to come): the ctx ends now.
      conn.once("portalSuspended", () => cancel());
      const stops: StopReport[] = [];
      let n = 0;
      await assert.rejects(
        (async () => {
          for await (const row of cursor(ctx, client, "select i from generate_series(1, 1000) i", [], { batchSize: 10, graceMs: 5_000, onStop: (r) => stops.push(r) })) {
            void row;
            n++;
          }
        })(),
        (e) => e === Canceled,
      );
      assert.equal(n, 10, "the batch in hand, then it stops");
      assert.deepEqual(
        stops.map((s) => s.stoppedBy),
        ["cancel"],
      );
      assert.equal(client.getTransactionStatus(), "I");
      assert.equal((await query(background(), client, "select pg_backend_pid() as pid")).rows[0]!.pid, pid, "the same connection, kept");
      assert.equal((await backend(pid))!.state, "idle", "no portal left open");
    } finally {
      client.release();
      await pool.end();
    }
  });

  it("throws TypeErrors at the call", () => {
    assert.throws(() => cursor(background(), {} as never, "select 1"), /cursor: db must be a pg Pool or Client/);
    const { pool } = newPool("cursor-types");
    assert.throws(() => cursor(background(), pool, "select 1", [], { batchSize: 0 }), /cursor: options.batchSize must be an integer in \[1, 100000\], got `0`/);
    void pool.end();
  });
});

describe("backends", () => {
  it("lists the app's backends with their state, for a dashboard", async () => {
    const { pool, name } = newPool("backends", { max: 2 });
    const monitor = newPool("monitor", { max: 1 });
    try {
      const [ctx, cancel] = withCancel(background());
      const running = query(ctx, pool, "select pg_sleep(30)");
      const pid = await activePid(name, "pg_sleep(30)");
      const list = await backends(background(), monitor.pool, { applicationName: name });
      const mine = list.find((b) => b.pid === pid);
      assert.equal(mine?.state, "active");
      assert.match(mine!.query, /pg_sleep\(30\)/);
      assert.ok(mine!.runningMs >= 0);
      cancel();
      await assert.rejects(running, (e) => e === Canceled);
      const anonymous = new pg.Pool({ ...DB, max: 1 });
      await assert.rejects(backends(background(), anonymous), /^TypeError: backends: no application_name/);
      await anonymous.end();
    } finally {
      await pool.end();
      await monitor.pool.end();
    }
  });
});

after(async () => {
  await admin.end();
  assertNoLeaks();
});
