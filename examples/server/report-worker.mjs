// A report worker process of the dashboard's jobs mode (jobs-mode.mjs spawns it with LIFELINE_REPORT_WORKER set to
// a JSON config). Each job runs the same generateReport as the in-process mode, under the job's own ctx
// (@lifeline/jobs's work()): its queries on PostgreSQL (@lifeline/pg), its crunching on a worker thread
// (@lifeline/worker), its export's processes (@lifeline/process). Progress goes back through job.updateProgress;
// a job stopped early ends with a last progress saying where it ran and when its ctx ended and its work stopped.
// SIGTERM (the dashboard stopping), or the dashboard's IPC channel closing (it died), shuts it down: the running
// job gets 1 s, then its ctx is cancelled; the worker thread and the database pools are closed; it exits.
import { background, cause, Channel, isDeadlineExceeded, withCancelCause, withoutCancel, withTimeout } from "@lifeline/core";
import { work } from "@lifeline/jobs";
import { WorkerPool } from "@lifeline/worker";
import { openDatabase } from "./db.mjs";
import { EXPORT_COMMAND, exportReport } from "./export.mjs";
import { generateReport } from "./report.mjs";

const JOB_GRACE_MS = 1_000;
const config = JSON.parse(process.env.LIFELINE_REPORT_WORKER ?? "null");
if (config === null || typeof config.queue !== "string" || typeof config.name !== "string") {
  console.error("report-worker.mjs: LIFELINE_REPORT_WORKER must hold the JSON config jobs-mode.mjs gives it");
  process.exit(2);
}
const { name } = config;
const exportOptions = { ...EXPORT_COMMAND, ...config.export };
const log = (text) => process.send?.({ t: "log", text });

/** parseSpec returns the job's report settings, checked and clamped (the job's data come from outside). */
function parseSpec(data) {
  const int = (v, lo, hi, what) => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new TypeError(`report job: ${what} must be an integer in ${lo}..${hi}, got ${JSON.stringify(v)}`);
    return v;
  };
  if (typeof data !== "object" || data === null) throw new TypeError(`report job: data must be an object, got ${JSON.stringify(data)}`);
  if (data.mode !== "lifeline" && data.mode !== "plain") throw new TypeError(`report job: mode must be lifeline or plain, got ${JSON.stringify(data.mode)}`);
  return { id: int(data.id, 1, 2 ** 31, "id"), mode: data.mode, steps: int(data.steps, 1, 1000, "steps"), resamples: int(data.resamples, 0, 100_000, "resamples") };
}

const [root, shutdown] = withCancelCause(background());
process.on("SIGTERM", () => shutdown(new Error(`${name}: SIGTERM`)));
process.on("SIGINT", () => shutdown(new Error(`${name}: SIGINT`)));
process.on("disconnect", () => shutdown(new Error(`${name}: the dashboard went away`)));

const db = openDatabase({ url: config.databaseUrl, log: (text) => !text.includes(" is ready (") && log(text) });
const threads = new WorkerPool(new URL("./crunch.mjs", import.meta.url), { size: 1, graceMs: 200 });
const stops = new Map(); // job id → how work() stopped it (onStop), read when its handler settles

async function handler(ctx, job) {
  const spec = parseSpec(job.data);
  let endedAt; // performance.now() when the job's ctx ended: the stop is timed on this process's own clock
  const onEnd = () => (endedAt = performance.now());
  ctx.signal.addEventListener("abort", onEnd, { once: true });
  db.retry();
  const state = await db.ready(ctx);
  if (state.state !== "ready") throw new Error(state.message);
  await job.updateProgress({ type: "job", job: job.id, worker: name, pid: process.pid });
  const progress = new Channel(0);
  const texts = [];
  // Every progress message goes to Redis in order; a failed write is said, and the report goes on.
  const forwarding = (async () => {
    for await (const msg of progress) await job.updateProgress(msg).catch((error) => log(`job ${job.id}: progress not sent: ${error.message}`));
  })();
  const exporter = (ctx, trends, started, onStop) => exportReport(ctx, trends, exportOptions, started, onStop);
  let failure;
  try {
    const result = await generateReport(ctx, { ...spec, db, workers: threads, exporter }, progress, (text) => texts.push(text));
    return { ...result, worker: `${name} (pid ${process.pid})` };
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    const settled = performance.now();
    ctx.signal.removeEventListener("abort", onEnd);
    progress.close();
    await forwarding;
    if (failure !== undefined && ctx.err() !== undefined) {
      // Written before work() records the outcome: whoever reads the failed job finds this as its progress.
      const s = stops.get(job.id);
      const by = s?.by ?? (isDeadlineExceeded(ctx.err()) ? "deadline" : "cancel");
      const last = { type: "stopped", worker: name, pid: process.pid, by, via: s?.via ?? null, cause: String(cause(ctx)?.message ?? cause(ctx)), issuedAt: s?.issuedAt ?? null, at: s?.at ?? null, stopMs: endedAt === undefined ? null : settled - endedAt, stops: texts };
      const [bounded, stop] = withTimeout(withoutCancel(ctx), 2_000);
      await Promise.race([job.updateProgress(last), bounded.done().recv(bounded).catch(() => {})]).catch((error) => log(`job ${job.id}: its stop was not recorded: ${error.message}`));
      stop();
    }
    stops.delete(job.id);
  }
}

const worker = work(root, config.queue, handler, {
  connection: config.connection,
  name: `${name} (pid ${process.pid})`,
  concurrency: 1,
  graceMs: JOB_GRACE_MS,
  onStop: (s) => stops.set(s.job.id, s),
});
worker.on("error", (error) => log(`worker error: ${error.message}`));
worker.on("closed", async () => {
  await Promise.allSettled([threads.close(background()), db.close()]);
  process.disconnect?.();
});
await worker.waitUntilReady();
process.send?.({ t: "ready", pid: process.pid });
// The database may still be set up (by the dashboard, which holds the advisory lock): say when it is.
const database = await db.ready(root).catch(() => undefined);
if (database !== undefined) process.send?.({ t: "database", state: database.state });
