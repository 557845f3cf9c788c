// bench/run.mjs section i (issue 10): @lifeline/pg against the local PostgreSQL (127.0.0.1:5432, user postgres,
// db test; scripts/start-services.sh starts it). Standalone: `node --expose-gc bench/pg.mjs`.
//
//   i1. cancel() → backend no longer `active` in pg_stat_activity, p50/p99 over CANCELS cancels of pg_sleep(30),
//       beside pg_cancel_backend(pid) sent from another pool connection (Effect's and knex's way), same run.
//   i2. pg's own query_timeout: the call gives up, the server keeps running — how long, for pg_sleep(2).
//   i3. overhead of query(ctx, pool, "select 1") vs a bare pool.query("select 1"), and on a held client.
import pg from "pg";
import { background, withCancel, withTimeout } from "@lifeline/core";
import { query } from "@lifeline/pg";

const DB = { host: process.env.PGHOST ?? "127.0.0.1", port: Number(process.env.PGPORT ?? 5432), user: process.env.PGUSER ?? "postgres", database: process.env.PGDATABASE ?? "test" };
const CANCELS = 200;
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const ms = (x) => `${x.toFixed(x < 10 ? 2 : 1)} ms`;
const us = (x) => `${(x * 1000).toFixed(0)} µs`;

export const PG_NOTES = [
  "- i. Against the local PostgreSQL over loopback TCP. \"→ idle\" is timed from the cancel (our ctx's cancel(), or the",
  "  moment pg_cancel_backend is sent) until a monitoring connection, polling pg_stat_activity back to back, sees the",
  "  backend leave `active`; each poll is a round trip (~0.2 ms), so both columns include up to one poll. The",
  "  pg_cancel_backend baseline borrows a second connection from the same pool, as Effect and knex do. query_timeout",
  "  is pg's client-side timer (100 ms) on pg_sleep(2): the server runs on until the sleep ends (it would be 30 s for",
  "  pg_sleep(30)). Overhead: sequential `select 1` in 101 rounds of 60 per candidate, ours and bare run back to back",
  "  in alternating order; the figure is the median of the per-round ratios; query(ctx) uses background().",
];

async function pollNotActive(monitor, pid) {
  for (;;) {
    const { rows } = await monitor.query("select state from pg_stat_activity where pid = $1", [pid]);
    if (rows.length === 0 || rows[0].state !== "active") return;
  }
}

/** activeOf waits until a backend of application `name` runs pg_sleep, and returns its pid. */
async function activeOf(monitor, name) {
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    const { rows } = await monitor.query(
      "select pid from pg_stat_activity where application_name = $1 and state = 'active' and strpos(query, 'pg_sleep') > 0",
      [name],
    );
    if (rows.length === 1) return rows[0].pid;
  }
  throw new Error(`bench: no backend of ${name} became active`);
}

/** benchPg runs section i and reports through the harness's row/verdict/section (or console when standalone). */
export async function benchPg({ row, verdict, section }) {
  const monitor = new pg.Client({ ...DB, application_name: "lifeline-bench-monitor" });
  try {
    await monitor.connect();
  } catch (error) {
    section("i. @lifeline/pg — SKIPPED");
    row({ bench: "i. @lifeline/pg", ours: `PostgreSQL not reachable at ${DB.host}:${DB.port} (${error.message}); run scripts/start-services.sh`, peer: "", peerValue: "", ratio: "", target: "", result: "MISS", go: "" });
    return;
  }
  const pool = new pg.Pool({ ...DB, max: 2, application_name: "lifeline-bench" });
  pool.on("error", () => {});
  try {
    section(`i. @lifeline/pg: cancel → backend idle (${CANCELS} cancels each), query_timeout, overhead`);
    const pidOf = async (c) => (await c.query("select pg_backend_pid() as pid")).rows[0].pid;

    // i1. ours: query(ctx, pool, pg_sleep(30)); cancel(); time to not-active. Pool of 2, one query at a time.
    const ours = [];
    const oursReject = [];
    for (let i = 0; i < CANCELS; i++) {
      const [ctx, cancel] = withCancel(background());
      let pid = 0;
      const running = query(ctx, pool, "select pg_sleep(30)", [], { onStop: (r) => (pid = r.pid) });
      const active = await activeOf(monitor, "lifeline-bench");
      const t0 = performance.now();
      cancel();
      const rejected = running.then(
        () => performance.now(),
        () => performance.now(),
      );
      await pollNotActive(monitor, active);
      ours.push(performance.now() - t0);
      oursReject.push((await rejected) - t0);
      if (pid !== active) throw new Error("bench: cancelled a different backend than the one watched");
    }

    // i1'. baseline: pg_cancel_backend from another connection of the same pool.
    const base = [];
    for (let i = 0; i < CANCELS; i++) {
      const a = await pool.connect();
      const running = a.query("select pg_sleep(30)").catch((e) => e);
      const pid = await activeOf(monitor, "lifeline-bench");
      const t0 = performance.now();
      const b = await pool.connect(); // the second slot: Effect/knex need one free at exactly this moment
      await b.query("select pg_cancel_backend($1)", [pid]);
      b.release();
      await pollNotActive(monitor, pid);
      base.push(performance.now() - t0);
      const err = await running;
      if (err?.code !== "57014") throw new Error("bench: pg_cancel_backend did not cancel");
      a.release();
    }
    row({
      bench: `i. cancel → backend not active (pg_stat_activity), p50 / p99 of ${CANCELS}`,
      ours: `${ms(pct(ours, 0.5))} / ${ms(pct(ours, 0.99))}`,
      peer: "pg_cancel_backend(pid) on another pool connection (Effect, knex)",
      peerValue: `${ms(pct(base, 0.5))} / ${ms(pct(base, 0.99))}`,
      ratio: `p99 ${(pct(base, 0.99) / pct(ours, 0.99)).toFixed(2)}×`,
      target: "p99 ≤ 50 ms",
      result: verdict(pct(ours, 0.99) <= 50),
      go: "",
    });
    row({ bench: "i. cancel → query(ctx) rejected (CancelRequest EOF + ReadyForQuery: connection reusable), p50 / p99", ours: `${ms(pct(oursReject, 0.5))} / ${ms(pct(oursReject, 0.99))}`, peer: "", peerValue: "", ratio: "", target: "", result: "", go: "" });

    // i2. pg's query_timeout: the promise rejects, the backend keeps running.
    const timeoutPool = new pg.Pool({ ...DB, max: 3, application_name: "lifeline-bench-qt", query_timeout: 100 });
    timeoutPool.on("error", () => {});
    const kept = [];
    await Promise.all(
      [0, 1, 2].map(async () => {
        const c = await timeoutPool.connect();
        const pid = await pidOf(c);
        c.release();
        const t = timeoutPool.query("select pg_sleep(2)").then(
          () => performance.now(),
          () => performance.now(),
        );
        return { pid, gaveUp: await t };
      }),
    ).then(async (runs) => {
      // One monitor connection, so the backends are watched one after the other (they all end together).
      for (const { pid, gaveUp } of runs) {
        await pollNotActive(monitor, pid);
        kept.push(performance.now() - gaveUp);
      }
    });
    await timeoutPool.end();
    row({
      bench: "i. pg query_timeout 100 ms on pg_sleep(2): server keeps running after the call gave up (median of 3)",
      ours: "0 (the query stops: rows above)",
      peer: "pg query_timeout (client-side only)",
      peerValue: ms(pct(kept, 0.5)),
      ratio: "",
      target: "",
      result: "",
      go: "",
    });

    // i3. overhead on select 1: many short rounds, the order alternating, each round's ratio to the bare call
    // taken against the bare batch run right beside it; the median ratio is reported (robust to the drift of a
    // shared machine). The per-query times are the medians of the batches.
    const BATCH = 60;
    const ROUNDS = 101;
    const cpu = { ours: 0, bare: 0 };
    const batch = async (fn, who) => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < BATCH; i++) await fn();
      const t = (performance.now() - t0) / BATCH;
      if (who !== undefined) {
        const c = process.cpuUsage(c0);
        cpu[who] += c.user + c.system;
      }
      return t;
    };
    const bg = background();
    const [deadlineCtx, stopDeadline] = withTimeout(bg, 600_000);
    const held = await pool.connect();
    const pairs = { pool: [], deadline: [], client: [] };
    const compare = async (key, bare, ours) => {
      const who = key === "pool" ? ["bare", "ours"] : [];
      const first = pairs[key].length % 2 === 0;
      const b1 = first ? await batch(bare, who[0]) : undefined;
      const o = await batch(ours, who[1]);
      const b2 = first ? b1 : await batch(bare, who[0]);
      pairs[key].push([o, b2]);
    };
    for (let i = 0; i < 3; i++) await batch(() => query(bg, pool, "select 1")); // warm up
    for (let round = 0; round < ROUNDS; round++) {
      await compare("pool", () => pool.query("select 1"), () => query(bg, pool, "select 1"));
      await compare("deadline", () => pool.query("select 1"), () => query(deadlineCtx, pool, "select 1"));
      await compare("client", () => held.query("select 1"), () => query(bg, held, "select 1"));
    }
    held.release();
    stopDeadline();
    const summary = (key) => {
      const xs = pairs[key];
      const ratio = pct(xs.map(([o, b]) => o / b), 0.5);
      return { ours: pct(xs.map(([o]) => o), 0.5), bare: pct(xs.map(([, b]) => b), 0.5), pctOver: (ratio - 1) * 100 };
    };
    const signed = (x) => `${x >= 0 ? "+" : ""}${x.toFixed(1)}%`;
    const p = summary("pool");
    row({ bench: "i. query(ctx, pool, 'select 1') vs pool.query, sequential, per query (median of paired rounds)", ours: us(p.ours), peer: "bare pool.query('select 1')", peerValue: us(p.bare), ratio: signed(p.pctOver), target: "≤ +5%", result: verdict(p.pctOver <= 5), go: "" });
    const perOp = (x) => x / (ROUNDS * BATCH);
    row({ bench: "i. same, CPU of this process per query (user + system)", ours: `${perOp(cpu.ours).toFixed(1)} µs`, peer: "bare pool.query('select 1')", peerValue: `${perOp(cpu.bare).toFixed(1)} µs`, ratio: signed((cpu.ours / cpu.bare - 1) * 100), target: "", result: "", go: "" });
    const c = summary("client");
    row({ bench: "i. query(ctx, client, 'select 1') vs client.query on a held client", ours: us(c.ours), peer: "bare client.query('select 1')", peerValue: us(c.bare), ratio: signed(c.pctOver), target: "", result: "", go: "" });
    const d = summary("deadline");
    row({ bench: "i. query(ctx with a deadline, pool, 'select 1'): + statement_timeout prelude, same round trip", ours: us(d.ours), peer: "bare pool.query('select 1')", peerValue: us(d.bare), ratio: signed(d.pctOver), target: "", result: "", go: "" });
  } finally {
    await pool.end();
    await monitor.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = [];
  await benchPg({
    row: (r) => {
      rows.push(r);
      console.log(`${r.bench}: ${r.ours}${r.peer ? `  vs ${r.peer}: ${r.peerValue} (${r.ratio})` : ""}${r.result ? ` [${r.result}]` : ""}`);
    },
    verdict: (ok) => (ok ? "PASS" : "MISS"),
    section: (t) => console.log(`== ${t}`),
  });
  console.log(PG_NOTES.join("\n"));
}
