// The dashboard's database: the orders table the report aggregates, created once in the PostgreSQL at DATABASE_URL,
// and three small pools on it: the report's (queries through @lifeline/pg), the "plain Node" one (pg's own
// query_timeout, as most apps run today) and a monitor that counts the app's active backends in pg_stat_activity.
// When PostgreSQL is not reachable the app still runs; `state` says what is missing and how to start it.
import pg from "pg";
import { background, Channel, go, ticker, withCancel, withTimeout } from "@lifeline/core";
import { backends, query, withTx } from "@lifeline/pg";

/** The database `npm start` uses when DATABASE_URL is not set: the one scripts/start-services.sh starts. */
export const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test";
/** The table the report reads; the data are generated, so the table is unlogged (a crash empties it; we refill). */
export const TABLE = "lifeline_orders";
/** How `npm start` generates the orders: 2 million rows over 10,000 customers and two years. */
export const ORDERS = 2_000_000;
export const CUSTOMERS = 10_000;
const BATCHES = 10; // one INSERT … SELECT generate_series per batch, in one transaction, so the log shows progress
const HINT = "Start it with `bash scripts/start-services.sh postgres`, or set DATABASE_URL.";

let instances = 0;

/**
 * openDatabase returns the app's handle on PostgreSQL at once and sets it up in the background: `state` is
 * `{ state: "connecting" | "creating" | "ready" | "missing", … }`, `ready(ctx)` waits until it is no longer
 * connecting/creating. Each app gets its own application_name (so pg_stat_activity tells its backends from
 * any other's). `log(text)` hears the set-up's progress. The caller owns it: `close()`.
 */
export function openDatabase({ url = DEFAULT_DATABASE_URL, log = () => {} } = {}) {
  const app = `dashboard ${process.pid}.${++instances}`;
  const where = describeUrl(url);
  const common = { connectionString: url, connectionTimeoutMillis: 3_000 };
  const pool = new pg.Pool({ ...common, max: 4, application_name: app });
  const plainPool = new pg.Pool({ ...common, max: 4, application_name: `${app} plain` });
  const monitorPool = new pg.Pool({ ...common, max: 1, application_name: `${app} monitor` });
  // An idle client whose connection fails (a server restart): the pool drops it; nobody is waiting, so say it.
  for (const p of [pool, plainPool, monitorPool]) p.on("error", (error) => log(`database: an idle connection failed: ${error.message}`));
  const [life, end] = withCancel(background());
  let changed = new Channel(0); // closed (and replaced) at every state change: ready() waits on it
  const db = {
    /** applicationName is the report pool's application_name (the plain pool's adds " plain"). */
    applicationName: app,
    where,
    pool,
    plainPool,
    state: { state: "connecting", where },
    /**
     * active: how many of the app's backends pg_stat_activity shows `active`, lifeline's and plain's, read every
     * 500 ms; `at` is when the reading began (null when unknown: the server is not there).
     */
    active: { lifeline: null, plain: null, at: null },
    /** ready returns the state once it is no longer connecting/creating (or rejects with ctx.err()). */
    async ready(ctx) {
      while (db.state.state === "connecting" || db.state.state === "creating") await changed.recv(ctx);
      return db.state;
    },
    /** retry sets up again after a failure (PostgreSQL may have been started since). */
    retry() {
      if (db.state.state === "missing") setup();
    },
    async close() {
      end();
      await Promise.allSettled([...running]); // the set-up and the monitor return once their queries have stopped
      await Promise.allSettled([pool.end(), plainPool.end(), monitorPool.end()]);
    },
  };
  function set(state) {
    db.state = state;
    const was = changed;
    changed = new Channel(0);
    was.close();
  }
  const running = new Set(); // the set-up and monitor tasks: close() waits for them
  function track(task) {
    running.add(task);
    task.then(() => running.delete(task), () => running.delete(task));
  }
  function setup() {
    set({ state: "connecting", where });
    track(go(life, async function setupDatabase(ctx) {
      try {
        await createOrders(ctx, pool, (text, creating) => {
          log(text);
          if (creating) set({ state: "creating", where, message: text });
        });
        set({ state: "ready", where, rows: ORDERS, customers: CUSTOMERS });
      } catch (error) {
        if (ctx.err() !== undefined) return;
        const message = `PostgreSQL is not reachable at ${where} (${error.code ?? error.message})`;
        log(`database: ${message}. ${HINT}`);
        set({ state: "missing", where, message, hint: HINT });
      }
    }));
  }
  setup();
  track(go(life, async function watchBackends(ctx) {
    const ticks = ticker(ctx, 500);
    do {
      if (db.state.state !== "ready") continue;
      const [qctx, stop] = withTimeout(ctx, 2_000);
      const at = new Date().toISOString(); // before asking: the reading is at least this fresh
      try {
        const [mine, plain] = await Promise.all([
          backends(qctx, monitorPool, { applicationName: app }),
          backends(qctx, monitorPool, { applicationName: `${app} plain` }),
        ]);
        const active = (list) => list.filter((b) => b.state === "active").length;
        db.active = { lifeline: active(mine), plain: active(plain), at };
      } catch {
        db.active = { lifeline: null, plain: null, at: null }; // the server went away (or we are closing): unknown
      } finally {
        stop();
      }
    } while ((await ticks.recv(ctx))[1]);
  }));
  return db;
}

/**
 * createOrders makes sure TABLE holds the generated orders: under an advisory lock (two apps starting at once
 * generate it once), in one transaction (a half-made table is never seen), marked complete by the table's comment.
 * Every statement runs through @lifeline/pg, so closing the app mid-way cancels it on the server and rolls back.
 * `say(text, creating)` hears what it does.
 */
async function createOrders(ctx, pool, say) {
  const done = `${ORDERS} orders of ${CUSTOMERS} customers`; // the table's comment once it is complete
  const described = `${ORDERS.toLocaleString("en")} orders of ${CUSTOMERS.toLocaleString("en")} customers`;
  await withTx(ctx, pool, async (ctx, tx) => {
    const sql = (text, params) => query(ctx, tx, text, params);
    await sql("select pg_advisory_xact_lock(hashtext($1))", [TABLE]);
    const { rows } = await sql("select obj_description(to_regclass($1), 'pg_class') as note", [TABLE]);
    // An unlogged table is emptied by a crash: check that it still holds rows.
    if (rows[0].note === done && (await sql(`select exists(select 1 from ${TABLE}) as filled`)).rows[0].filled) {
      say(`database: ${TABLE} is ready (${described})`);
      return;
    }
    say(`database: creating ${TABLE}: ${described}…`, true);
    const t0 = performance.now();
    await sql(`drop table if exists ${TABLE}`);
    await sql(`create unlogged table ${TABLE} (id bigint not null, customer_id int not null, amount float8 not null, ordered_at timestamptz not null)`);
    const per = ORDERS / BATCHES;
    for (let b = 0; b < BATCHES; b++) {
      // Deterministic pseudo-random data (hashint4): each customer's order amounts drift by its own trend over the
      // two years, which the report's regression recovers.
      await sql(
        `insert into ${TABLE}
         select g, c, round(((5 + ((hashint4(g::int + 7) & 2147483647) % 50000) / 100.0)
                             * (1 + ((hashint4(c) & 2147483647) % 1001 - 500) / 1000.0 * s / 63072000.0))::numeric, 2)::float8,
                timestamptz '2024-01-01' + s * interval '1 second'
           from generate_series($1::bigint, $2::bigint) g,
                lateral (select 1 + (hashint4(g::int) & 2147483647) % $3::int as c, (hashint4(g::int + 13) & 2147483647) % 63072000 as s) t`,
        [b * per + 1, (b + 1) * per, CUSTOMERS],
      );
      const rowsSoFar = ((b + 1) * per).toLocaleString("en");
      say(`database: ${TABLE}: ${Math.round(((b + 1) / BATCHES) * 100)}% (${rowsSoFar} rows, ${((performance.now() - t0) / 1000).toFixed(1)} s)`, true);
    }
    await sql(`comment on table ${TABLE} is '${done}'`);
    await sql(`analyze ${TABLE}`);
    say(`database: ${TABLE} created in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  });
}

/** describeUrl returns host:port/database of a connection string, without its password. */
export function describeUrl(url) {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return "an unparsable DATABASE_URL";
  }
}
