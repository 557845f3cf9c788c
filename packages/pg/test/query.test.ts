import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { assertNoLeaks } from "@lifeline/testing";
import { background, Canceled, DeadlineExceeded, go, withCancel, withTimeout } from "@lifeline/core";
import { connect, query, withTx, type StopReport } from "@lifeline/pg";
import pg from "pg";
import v8 from "node:v8";
import vm from "node:vm";
import { activePid, admin, appBackends, backend, DB, newPool, notActive, proxy, waitFor } from "./support.js";

describe("query", () => {
  it("rejects at once with ctx.err() when the ctx already ended, sending nothing", async () => {
    const { pool, name } = newPool("ended");
    try {
      const [ctx, cancel] = withCancel(background());
      cancel();
      await assert.rejects(query(ctx, pool, "select 1"), (e) => e === Canceled);
      assert.equal(pool.totalCount, 0, "the pool was not even asked for a connection");
      // On a client: the backend's last statement is still the one before.
      const client = await pool.connect();
      try {
        await client.query("select 'marker-before'");
        await assert.rejects(query(ctx, client, "select 'must-not-be-sent'"), (e) => e === Canceled);
        const b = await backend((client as unknown as { processID: number }).processID);
        assert.match(b!.query, /marker-before/);
        assert.equal((await query(background(), client, "select 2 as x")).rows[0]!.x, 2, "the client stays healthy");
      } finally {
        client.release();
      }
      assert.equal(await appBackends(name), 1);
    } finally {
      await pool.end();
    }
  });

  it("takes a query still queued behind another out of pg's queue: nothing is sent", async () => {
    const { pool, name } = newPool("queued", { max: 1 });
    try {
      const client = await pool.connect();
      try {
        const pid = (client as unknown as { processID: number }).processID;
        const [busyCtx, stopBusy] = withCancel(background());
        const busy = query(busyCtx, client, "select pg_sleep(30) as first");
        await activePid(name, "pg_sleep(30)");
        const [ctx, cancel] = withCancel(background());
        const stops: StopReport[] = [];
        const queued = query(ctx, client, "select 'must-not-be-sent'", [], { onStop: (r) => stops.push(r) });
        cancel();
        await assert.rejects(queued, (e) => e === Canceled);
        assert.equal(stops[0]?.stoppedBy, "not-sent");
        stopBusy();
        await assert.rejects(busy, (e) => e === Canceled);
        assert.match((await backend(pid))!.query, /pg_sleep\(30\) as first/, "the cancelled query never reached the server");
        assert.equal((await query(background(), client, "select 3 as x")).rows[0]!.x, 3);
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  });

  it("cancels pg_sleep(30) on the server: the backend leaves `active`, the same connection is reused", async () => {
    const { pool, name } = newPool("sleep", { max: 1 });
    try {
      const pid = (await query(background(), pool, "select pg_backend_pid() as pid")).rows[0]!.pid as number;
      const [ctx, cancel] = withCancel(background());
      const stops: StopReport[] = [];
      const running = query(ctx, pool, "select pg_sleep(30)", [], { onStop: (r) => stops.push(r) });
      assert.equal(await activePid(name, "pg_sleep(30)"), pid);
      setTimeout(cancel, 100);
      await assert.rejects(running, (e) => e === Canceled);
      assert.notEqual(await notActive(pid), "gone", "the backend is idle, not killed");
      assert.equal(stops.length, 1);
      assert.equal(stops[0]!.stoppedBy, "cancel");
      assert.equal(stops[0]!.cancel, "eof");
      assert.equal(stops[0]!.pid, pid);
      const again = await query(background(), pool, "select pg_backend_pid() as pid");
      assert.equal(again.rows[0]!.pid, pid, "no reconnect: the pool handed out the same connection");
      assert.equal(pool.totalCount, 1);
      assert.equal(pool.idleCount, 1);
    } finally {
      await pool.end();
    }
  });

  it("rejects with DeadlineExceeded when the deadline passes mid-query, and passes other errors through", async () => {
    const { pool, name } = newPool("deadline", { max: 1 });
    try {
      const ctx = withTimeout(background(), 200)[0];
      await assert.rejects(query(ctx, pool, "select pg_sleep(30)"), (e) => e === DeadlineExceeded);
      await assert.rejects(query(background(), pool, "select 1/0"), (e: pg.DatabaseError) => e instanceof pg.DatabaseError && e.code === "22012");
      await assert.rejects(query(background(), pool, "select $1::int", ["x"]), (e: pg.DatabaseError) => e.code === "22P02");
      assert.equal((await query(background(), pool, "select $1::int + 1 as n", [41])).rows[0]!.n, 42);
      assert.equal(await appBackends(name), 1);
    } finally {
      await pool.end();
    }
  });

  it("carries the deadline to the server as the statement's statement_timeout, in the same round trip", async () => {
    const { pool } = newPool("server-timeout", { max: 1 });
    try {
      const [ctx, cancel] = withTimeout(background(), 5000);
      after(cancel);
      // Simple query (no params) and extended (params): the statement sees its own limit, near the budget.
      const simple = await query(ctx, pool, "select current_setting('statement_timeout') as t");
      const extended = await query(ctx, pool, "select current_setting('statement_timeout') as t, $1::int as x", [7]);
      for (const r of [simple, extended]) {
        const ms = parseInt(r.rows[0]!.t as string, 10) * (/\dms$/.test(r.rows[0]!.t) ? 1 : 1000);
        assert.ok(ms > 0 && ms <= 5020, `statement_timeout ${r.rows[0]!.t}`);
        assert.equal(r.rows.length, 1, "the prelude's own result is not seen");
        assert.equal(r.command, "SELECT");
      }
      assert.equal(extended.rows[0]!.x, 7);
      // It lasted only for that statement: the session's setting is untouched.
      assert.equal((await query(background(), pool, "select current_setting('statement_timeout') as t")).rows[0]!.t, "0");
      // Multi-statement simple queries keep their shape.
      const multi = (await query(ctx, pool, "select 1 as a; select 2 as b")) as unknown as pg.QueryResult[];
      assert.equal(multi.length, 2);
      assert.equal(multi[1]!.rows[0]!.b, 2);
      // serverTimeout: false sends the statement alone.
      const off = await query(ctx, pool, "select current_setting('statement_timeout') as t", [], { serverTimeout: false });
      assert.equal(off.rows[0]!.t, "0");
    } finally {
      await pool.end();
    }
  });

  it("sends no server-side limit for a deadline further away than statement_timeout can hold (2^31-1 ms, ~24.8 days)", async () => {
    const { pool } = newPool("far-deadline", { max: 1 });
    try {
      const [ctx, cancel] = withTimeout(background(), 30 * 86_400_000);
      after(cancel);
      const simple = await query(ctx, pool, "select current_setting('statement_timeout') as t");
      const extended = await query(ctx, pool, "select current_setting('statement_timeout') as t, $1::int as x", [7]);
      assert.deepEqual([simple.rows[0]!.t, extended.rows[0]!.t], ["0", "0"], "the session's own setting");
      // Inside a transaction whose BEGIN carried a near limit, a far deadline gets the session's setting back.
      await withTx(ctx, pool, async (_, tx) => {
        const [near, stop] = withTimeout(background(), 5000);
        try {
          await query(near, tx, "select 1");
        } finally {
          stop();
        }
        assert.equal((await query(ctx, tx, "select current_setting('statement_timeout') as t")).rows[0]!.t, "0");
      });
    } finally {
      await pool.end();
    }
  });

  it("names the task in a comment that pg_stat_activity shows", async () => {
    const { pool, name } = newPool("label", { max: 1 });
    try {
      // Without a deadline, and with one (the statement_timeout prelude goes after the label).
      const cases = [
        { made: withCancel(background()), shown: /^\/\* lifeline: task 42 report {2}drop \*\/ select pg_sleep\(30\)$/ },
        { made: withTimeout(background(), 60_000), shown: /^\/\* lifeline: task 42 report {2}drop \*\/ set local statement_timeout = \d+;select pg_sleep\(30\)$/ },
      ];
      for (const { made: [ctx, cancel], shown } of cases) {
        const running = query(ctx, pool, "select pg_sleep(30)", [], { label: "task 42 report */ drop" });
        const pid = await activePid(name, "pg_sleep(30)");
        assert.match((await backend(pid))!.query, shown);
        cancel();
        await assert.rejects(running, (e) => e === Canceled);
      }
    } finally {
      await pool.end();
    }
  });

  it("shows a task waiting on a query as blocked on `pg query` (the task dump)", async () => {
    const { pool, name } = newPool("blocked", { max: 1 });
    try {
      const [ctx, cancel] = withCancel(background());
      const task = go(ctx, (ctx) => query(ctx, pool, "select pg_sleep(30)"), { name: "report" });
      await activePid(name, "pg_sleep(30)");
      assert.equal(task.state, "blocked");
      assert.equal(task.blockedOn, "pg query");
      cancel();
      await assert.rejects(Promise.resolve(task), (e) => e === Canceled);
    } finally {
      await pool.end();
    }
  });

  it("keeps nothing of a query whose parameters pg cannot serialize, under a ctx that lives on", async () => {
    // pg fails such a query inside the call (its Bind throws), before lifeline armed its watch on the ctx: the
    // watch must not be armed then, or it holds the statement and its parameters until the ctx ends.
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    const { pool } = newPool("bind-error", { max: 1 });
    const [ctx, cancel] = withCancel(background());
    try {
      let param: { n: bigint } | undefined = { n: 1n };
      const ref = new WeakRef(param);
      await assert.rejects(query(ctx, pool, "select $1::jsonb", [param]), /BigInt/);
      param = undefined;
      await query(background(), pool, "select 1"); // pg is done with the failed statement: its Sync was answered
      for (let i = 0; i < 3 && ref.deref() !== undefined; i++) {
        await new Promise((r) => setImmediate(r)); // a WeakRef read in this job keeps its target for the job
        gc();
      }
      assert.equal(ref.deref(), undefined, "the parameters are still reachable from the live ctx");
    } finally {
      cancel();
      await pool.end();
    }
  });

  it("throws TypeErrors naming the function and the value", async () => {
    const { pool } = newPool("types");
    try {
      const bg = background();
      await assert.rejects(query(undefined as never, pool, "select 1"), /^TypeError: query: ctx must be a Context, got `undefined`/);
      await assert.rejects(query(bg, {} as never, "select 1"), /query: db must be a pg Pool or Client, got an instance of Object/);
      await assert.rejects(query(bg, pool, 42 as never), /query: sql must be a string, got `42` \(number\)/);
      await assert.rejects(query(bg, pool, "select 1", "x" as never), /query: params must be an array, got `"x"` \(string\)/);
      await assert.rejects(query(bg, pool, "select 1", [], { graceMs: -1 }), /query: options.graceMs must be a number/);
      await assert.rejects(connect(bg, {} as never), /connect: pool must be a pg Pool/);
      await assert.rejects(withTx(bg, pool, "x" as never), /withTx: fn must be a function, got `"x"`/);
      const piped = new pg.Pool({ ...DB, pipeline: true } as pg.PoolConfig);
      await assert.rejects(query(bg, piped, "select 1"), /query: db must not be in pg's pipeline mode/);
      await piped.end();
      assert.equal(pool.totalCount, 0);
    } finally {
      await pool.end();
    }
  });
});

describe("connect", () => {
  for (const connectionTimeoutMillis of [0, 60_000]) {
    it(`stops waiting for an exhausted pool when the ctx ends; the slot goes to the next waiter (connectionTimeoutMillis ${connectionTimeoutMillis})`, async () => {
      const { pool } = newPool("exhausted", { max: 1, connectionTimeoutMillis });
      try {
        const held = await connect(background(), pool);
        const [ctx, cancel] = withCancel(background());
        const waiting = connect(ctx, pool);
        await waitFor("the waiter to queue", async () => (pool.waitingCount === 1 ? true : undefined));
        const next = pool.connect(); // a plain waiter behind ours
        cancel();
        await assert.rejects(waiting, (e) => e === Canceled);
        held.release();
        const got = await next;
        assert.equal(got, held, "the one connection went to the next waiter");
        got.release();
        assert.equal(pool.totalCount, 1);
        assert.equal(pool.idleCount, 1);
        assert.equal(pool.waitingCount, 0);
      } finally {
        await pool.end();
      }
    });
  }

  it("holds a client released during a cancel's fence until the connection is safe", async () => {
    const { pool, name } = newPool("release-fenced", { max: 1 });
    try {
      const c = await connect(background(), pool);
      const pid = (c as unknown as { processID: number }).processID;
      const [ctx, cancel] = withCancel(background());
      const running = query(ctx, c, "select pg_sleep(30)");
      let settled = false;
      running.catch(() => (settled = true));
      await activePid(name, "pg_sleep(30)");
      cancel();
      c.release(); // without awaiting the cancelled query: its cancel has not even started
      const next = await pool.connect();
      try {
        assert.equal(settled, true, "the pool handed the client on only after the cancelled query settled (past its fence)");
        assert.equal((next as unknown as { processID: number }).processID, pid, "the same connection, reused");
        await assert.rejects(running, (e) => e === Canceled);
        assert.equal((await next.query("select 1 as one")).rows[0]!.one, 1, "no stray cancel hits the next user");
      } finally {
        next.release();
      }
    } finally {
      await pool.end();
    }
  });

  it("evicts a client released inside a transaction instead of poisoning the pool", async () => {
    const { pool } = newPool("dirty", { max: 1 });
    try {
      const c = await connect(background(), pool);
      const pid = (c as unknown as { processID: number }).processID;
      await query(background(), c, "begin");
      c.release();
      const next = await connect(background(), pool);
      assert.notEqual((next as unknown as { processID: number }).processID, pid);
      assert.equal(next.getTransactionStatus(), "I");
      next.release();
    } finally {
      await pool.end();
    }
  });
});

describe("withTx", () => {
  it("a BEGIN sent under a deadline does not leave its statement_timeout on a later statement that has none", async () => {
    const { pool } = newPool("tx-begin-limit", { max: 1 });
    try {
      const [ctx, cancel] = withTimeout(background(), 5000);
      after(cancel);
      const t = await withTx(ctx, pool, async (_ctx, tx) => (await query(background(), tx, "select current_setting('statement_timeout') as t")).rows[0]!.t);
      assert.equal(t, "0", "the session's own setting, not the BEGIN's limit");
    } finally {
      await pool.end();
    }
  });

  it("commits, and rolls back when fn throws", async () => {
    const { pool } = newPool("tx", { max: 1 });
    try {
      await pool.query("create table if not exists lifeline_tx_test (id int)");
      await pool.query("truncate lifeline_tx_test");
      const n = await withTx(background(), pool, async (ctx, tx) => {
        await query(ctx, tx, "insert into lifeline_tx_test values (1)");
        return 1;
      });
      assert.equal(n, 1);
      await assert.rejects(
        withTx(background(), pool, async (ctx, tx) => {
          await query(ctx, tx, "insert into lifeline_tx_test values (2)");
          throw new Error("boom");
        }),
        /boom/,
      );
      assert.deepEqual((await pool.query("select id from lifeline_tx_test order by id")).rows, [{ id: 1 }]);
    } finally {
      await pool.end();
    }
  });

  it("rolls back a transaction whose statement was cancelled, and the client is reused idle", async () => {
    const { pool, name } = newPool("tx-cancel", { max: 1 });
    try {
      await pool.query("create table if not exists lifeline_tx_cancel (id int)");
      await pool.query("truncate lifeline_tx_cancel");
      const pid = (await pool.query("select pg_backend_pid() as pid")).rows[0]!.pid as number;
      const [ctx, cancel] = withCancel(background());
      const tx = withTx(ctx, pool, async (ctx, tx) => {
        await query(ctx, tx, "insert into lifeline_tx_cancel values (1)");
        await query(ctx, tx, "select pg_sleep(30)");
      });
      await activePid(name, "pg_sleep(30)");
      cancel();
      await assert.rejects(tx, (e) => e === Canceled);
      assert.equal((await pool.query("select count(*)::int as n from lifeline_tx_cancel")).rows[0]!.n, 0, "rolled back");
      const c = await pool.connect();
      assert.equal((c as unknown as { processID: number }).processID, pid, "the same connection, reused");
      assert.equal(c.getTransactionStatus(), "I");
      c.release();
      assert.equal((await backend(pid))!.state, "idle");
    } finally {
      await pool.end();
    }
  });

  it("sets the statement's limit transaction-locally and gives later statements without a deadline the session's", async () => {
    const { pool } = newPool("tx-local", { max: 1 });
    try {
      await withTx(background(), pool, async (_ctx, tx) => {
        const [short, cancel] = withTimeout(background(), 3000);
        const inTx = await query(short, tx, "select current_setting('statement_timeout') as t");
        cancel();
        assert.notEqual(inTx.rows[0]!.t, "0");
        const later = await query(background(), tx, "select current_setting('statement_timeout') as t");
        assert.equal(later.rows[0]!.t, "0");
      });
    } finally {
      await pool.end();
    }
  });
});

describe("faults", () => {
  it("destroys the connection when a SIGSTOPped backend never answers, within deadline plus grace; the pool stays healthy", async () => {
    const { pool, errors } = newPool("stop", { max: 1 });
    let pid = 0;
    try {
      pid = (await pool.query("select pg_backend_pid() as pid")).rows[0]!.pid as number;
      // Stopped before the query is sent, so the order is fixed whatever the machine's load: the statement waits in
      // the socket, the deadline passes, the CancelRequest is delivered (the postmaster is not stopped), and no
      // ReadyForQuery can come.
      process.kill(pid, "SIGSTOP");
      const stops: StopReport[] = [];
      const [ctx, cancel] = withTimeout(background(), 300);
      const t0 = Date.now();
      await assert.rejects(query(ctx, pool, "select pg_sleep(30)", [], { graceMs: 500, onStop: (r) => stops.push(r) }), (e) => e === DeadlineExceeded);
      cancel();
      const took = Date.now() - t0;
      assert.ok(took >= 300 + 500 && took < 10_000, `rejected after ${took} ms: deadline + grace, not when the query ended`);
      assert.equal(stops[0]?.stoppedBy, "destroy");
      assert.equal(stops[0]?.cancel, "eof", "the CancelRequest itself was delivered");
      const next = await pool.query("select pg_backend_pid() as pid");
      assert.notEqual(next.rows[0]!.pid, pid, "a new, healthy connection");
      assert.equal(pool.totalCount, 1);
      assert.deepEqual(errors, []);
    } finally {
      if (pid) {
        process.kill(pid, "SIGCONT");
        await admin.query("select pg_terminate_backend($1)", [pid]);
      }
      await pool.end();
    }
  });

  it("rejects clearly when the backend is terminated mid-query, and the pool drops it", async () => {
    const { pool, name, errors } = newPool("terminate", { max: 1 });
    try {
      // The outcome is taken before the terminate is sent: the FATAL on this connection and the admin's reply on
      // another race, and under load the FATAL often wins, rejecting `running` while the test still awaits the
      // admin query; with no handler attached yet, Node reports that as an unhandled rejection and fails the test.
      const outcome = query(background(), pool, "select pg_sleep(30)").then(
        () => assert.fail("the query resolved"),
        (e: unknown) => e as pg.DatabaseError,
      );
      const pid = await activePid(name, "pg_sleep(30)");
      await admin.query("select pg_terminate_backend($1)", [pid]);
      const error = await outcome;
      assert.equal(error.code, "57P01", `expected the server's 57P01, got ${String(error)} (code ${error.code})`);
      const next = await query(background(), pool, "select pg_backend_pid() as pid");
      assert.notEqual(next.rows[0]!.pid, pid);
      assert.equal(pool.totalCount, 1, "the dead client was dropped, one new one made");
      assert.deepEqual(errors.map(String), [], "no 'error' event from an idle client: the dead one was never pooled");
    } finally {
      await pool.end();
    }
  });

  it("rejects clearly when the connection drops mid-query (network cut), and the pool hands out a working client", async () => {
    const relay = await proxy();
    const { pool, name, errors } = newPool("cut", { max: 1, port: relay.port, host: "127.0.0.1" });
    try {
      const running = query(background(), pool, "select pg_sleep(30)");
      const pid = await activePid(name, "pg_sleep(30)");
      relay.cut();
      await assert.rejects(running, /Connection terminated unexpectedly/);
      assert.equal((await query(background(), pool, "select 1 as one")).rows[0]!.one, 1);
      assert.equal(pool.totalCount, 1);
      assert.deepEqual(errors, []);
      await admin.query("select pg_terminate_backend($1)", [pid]); // the cut backend would sleep on
    } finally {
      await pool.end();
      await relay.close();
    }
  });

  it("rejects with pg's connection error when the server cannot be reached, and leaves nothing in the pool", async () => {
    const relay = await proxy();
    const port = relay.port;
    await relay.close(); // nothing listens there any more
    const { pool, errors } = newPool("unreachable", { max: 1, port, host: "127.0.0.1" });
    try {
      await assert.rejects(query(background(), pool, "select 1"), (e: NodeJS.ErrnoException) => e.code === "ECONNREFUSED");
      assert.equal(pool.totalCount, 0);
      assert.equal(pool.waitingCount, 0);
      assert.deepEqual(errors, []);
    } finally {
      await pool.end();
    }
  });

  it("cancels through the live peer address (here a relay), not the configured host", async () => {
    const relay = await proxy();
    // host "localhost" resolves elsewhere in the list; the cancel goes where the socket actually is.
    const { pool, name } = newPool("peer", { max: 1, port: relay.port, host: "127.0.0.1" });
    try {
      const [ctx, cancel] = withCancel(background());
      const running = query(ctx, pool, "select pg_sleep(30)");
      const pid = await activePid(name, "pg_sleep(30)");
      (pool as unknown as { options: { port: number } }).options.port = 1; // a wrong configuration must not matter
      cancel();
      await assert.rejects(running, (e) => e === Canceled);
      assert.equal(await notActive(pid), "idle");
    } finally {
      await pool.end();
      await relay.close();
    }
  });
});

after(async () => {
  await admin.end();
  assertNoLeaks();
});
