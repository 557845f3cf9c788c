// The "Generate Report" computation (seed 000), on real parts: each step runs an aggregate query on the orders
// table (PostgreSQL, holding a pooled connection), then crunches its rows on a worker thread; a last step exports
// the result through an external program. Each part stops when ctx ends, each in its own way, and says how
// (`stopped(text)`): the query is cancelled on the server (@lifeline/pg), the crunching loop sees its ctx end
// (@lifeline/worker), the export's process group is signalled (@lifeline/process). In "plain" mode the query is
// run as most Node apps run it today — pg's pool.query with query_timeout, no server-side cancel — so it keeps
// running on the server after the client has left.
import { query } from "@lifeline/pg";
import { TABLE } from "./db.mjs";
import { formatMs } from "./format.mjs";

/** The report's per-step query: each customer's spending per month (0–23), for the customers of one step. */
export const STEP_SQL = `select customer_id as customer,
       ((extract(year from ordered_at)::int - 2024) * 12 + extract(month from ordered_at)::int - 1) as month,
       sum(amount) as total
  from ${TABLE} where customer_id % $1 = $2 group by 1, 2 order by 1, 2`;

/** How long a plain query may run before pg gives up on it on the client side (the server is not told). */
export const PLAIN_QUERY_TIMEOUT_MS = 30_000;

/**
 * generateReport runs `steps` steps (each: one query over a 1/steps share of the customers, then their trends on
 * `workers`), sending `{ type: "phase", step, phase }` as each part starts (`query`, `crunch`, last `export` with the
 * command's pid) and `{ type: "progress", step, of }` after each step on `progress`, then exports the trends
 * (`exporter`). `stopped(text)` hears how each part in flight was stopped when ctx ended. It returns the report's summary, or rejects with
 * `ctx.err()` once every part in flight has stopped. It does not close `progress`: its caller does.
 */
export async function generateReport(ctx, { id, steps, resamples, mode, db, workers, exporter }, progress, stopped) {
  let endedAt; // when ctx ended: the plain query measures how long it kept running after that
  const onEnd = () => (endedAt = performance.now());
  ctx.signal.addEventListener("abort", onEnd, { once: true });
  const phase = (step, name, extra = {}) => progress.send(ctx, { type: "phase", step, phase: name, ...extra });
  try {
    const trends = [];
    for (let step = 1; step <= steps; step++) {
      await phase(step, "query");
      const params = [steps, step - 1];
      let rows;
      if (mode === "plain") {
        // The usual way: no ctx; the client-side timeout is all there is, and it never tells the server.
        const t0 = performance.now();
        try {
          rows = (await db.plainPool.query({ text: STEP_SQL, values: params, query_timeout: PLAIN_QUERY_TIMEOUT_MS })).rows;
        } finally {
          if (endedAt !== undefined) stopped(`the query kept running on the server for ${formatMs(performance.now() - Math.max(t0, endedAt))}`);
        }
        if (ctx.err() !== undefined) throw ctx.err();
      } else {
        const onStop = (r) =>
          stopped(
            r.stoppedBy === "cancel"
              ? `query cancelled on the server ${formatMs(r.ms)} later`
              : r.stoppedBy === "destroy"
                ? `query's connection destroyed ${formatMs(r.ms)} later (the server did not answer the cancel)`
                : "query not sent",
          );
        rows = (await query(ctx, db.pool, STEP_SQL, params, { label: `report ${id} step ${step}`, onStop })).rows;
      }
      const customer = Int32Array.from(rows, (r) => r.customer);
      const month = Int32Array.from(rows, (r) => r.month);
      const total = Float64Array.from(rows, (r) => r.total);
      const crunching = workers.run(ctx, { customer, month, total, resamples }, {
        transfer: [customer.buffer, month.buffer, total.buffer],
        onStop: (r) => stopped(`crunching stopped (${r.stoppedBy}) ${formatMs(r.ms)} later`),
      });
      trends.push(...(await alongside(phase(step, "crunch"), crunching))); // the client hears of it once it is on its way
      await progress.send(ctx, { type: "progress", step, of: steps });
    }
    const exported = await exporter(ctx, trends, (pid) => phase(steps, "export", { pid }), (r) =>
      stopped(`export stopped (${r.stoppedBy}${r.stoppedBy === "SIGKILL" ? " after the grace" : ""}) ${formatMs(r.ms)} later`),
    );
    return summarize(trends, exported);
  } finally {
    ctx.signal.removeEventListener("abort", onEnd);
  }
}

/**
 * alongside returns what `work` resolves to, having waited for both it and `announce` (telling the client): a
 * failure of the work wins, so a ctx that ends while telling still waits for the work to stop.
 */
async function alongside(announce, work) {
  const [told, done] = await Promise.allSettled([announce, work]);
  if (done.status === "rejected") throw done.reason;
  if (told.status === "rejected") throw told.reason;
  return done.value;
}

/** summarize returns the report's headline numbers from every customer's trend. */
function summarize(trends, exported) {
  const slopes = trends.map((t) => t.slope).sort((a, b) => a - b);
  const pick = (q) => (slopes.length === 0 ? 0 : slopes[Math.min(slopes.length - 1, Math.floor(q * slopes.length))]);
  const round = (v) => Number(v.toFixed(2));
  return {
    customers: trends.length,
    growing: trends.filter((t) => t.low > 0).length, // spending more, with 90% confidence
    shrinking: trends.filter((t) => t.high < 0).length,
    medianTrend: round(pick(0.5)), // € per month, per month
    p90Trend: round(pick(0.9)),
    exportBytes: exported.bytes,
  };
}

