// The dashboard's jobs mode (`REDIS_URL=redis://127.0.0.1:6379 npm start`): each report runs as a BullMQ job
// (@lifeline/jobs) on one of the worker processes the dashboard spawns (report-worker.mjs, through
// @lifeline/process: each in its own process group, SIGTERM when the dashboard stops, SIGKILL after the grace).
// The job is tied to the request's ctx (addJob with `tie`), so a closed tab cancels it on whichever worker runs
// it; the Cancel button calls cancelJob. Progress comes back through job.updateProgress and QueueEvents; when a
// job stopped early, the worker's last progress says where it ran and how long it took to stop.
import { once } from "node:events";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { afterFunc, background, Channel, withCancel, withCancelCause, withoutCancel, withTimeout } from "@lifeline/core";
import { addJob, cancelJob, JobCanceledError, jobResult } from "@lifeline/jobs";
import { spawn } from "@lifeline/process";
import { Job, Queue, QueueEvents } from "bullmq";
import { formatMs } from "./format.mjs";

/**
 * How long the dashboard waits, once the request has ended, to hear how its job ended (while the request is there,
 * it waits as long as the report runs).
 */
export const OUTCOME_WAIT_MS = 15_000;
/** How long a worker process gets to stop after SIGTERM (its jobs get 1 s of it) before SIGKILL. */
export const WORKER_GRACE_MS = 5_000;
const READY_MS = 20_000;
/** How many times a worker slot is restarted after its process exited on its own (a crash loop stops there). */
export const MAX_RESTARTS = 5;
/** The `code` of the Error startJobs rejects with when nothing answers at REDIS_URL (npm start prints its message). */
export const REDIS_UNREACHABLE = "REDIS_UNREACHABLE";
const HINT = "Start it with `bash scripts/start-services.sh redis`, or unset REDIS_URL to run reports in-process.";

/**
 * parseRedisUrl returns BullMQ's connection options for a `redis://[:password@]host[:port][/db]` URL.
 * @throws TypeError naming the value for anything else.
 */
export function parseRedisUrl(url) {
  let u;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`REDIS_URL must be a redis://host:port URL, got ${JSON.stringify(String(url).slice(0, 80))}`);
  }
  const db = u.pathname === "" || u.pathname === "/" ? 0 : Number(u.pathname.slice(1));
  if (u.protocol !== "redis:" || u.hostname === "" || !Number.isInteger(db) || db < 0) {
    throw new TypeError(`REDIS_URL must be a redis://host:port URL, got ${JSON.stringify(String(url).slice(0, 80))}`);
  }
  const connection = { host: u.hostname.replace(/^\[|\]$/g, ""), port: Number(u.port || 6379), db };
  if (u.password !== "") connection.password = decodeURIComponent(u.password);
  if (u.username !== "") connection.username = decodeURIComponent(u.username);
  return connection;
}

/**
 * probeRedis resolves once something accepts a TCP connection at `connection`'s host and port, and rejects at
 * once (no retries) with an Error saying Redis is not reachable and how to start it: BullMQ's own connections
 * retry forever.
 */
async function probeRedis({ host, port }, where) {
  const socket = connect({ host, port });
  socket.setTimeout(3_000, () => socket.destroy(Object.assign(new Error("no answer within 3 s"), { code: "ETIMEDOUT" })));
  try {
    await once(socket, "connect");
  } catch (error) {
    throw Object.assign(new Error(`Redis is not reachable at ${where} (${error.code ?? error.message}). ${HINT}`, { cause: error }), { code: REDIS_UNREACHABLE });
  } finally {
    socket.destroy();
  }
}

/**
 * startJobs spawns `workers` report-worker processes on `queue` and returns `{ queue, where, workers, run, cancel,
 * close }` once every worker is ready (or rejects, having stopped those it started, with an Error that says what
 * is missing). `log(text)` hears the workers' events. `run(ctx, spec, progress, stopped)` is generateReport's
 * counterpart (same progress messages, same `stopped(text)` lines, plus where the job ran); `cancel(ctx, reportId,
 * reason)` resolves false when no such report runs. The caller owns it: `close()` stops the workers (their jobs
 * get their grace) and waits until they have exited.
 */
export async function startJobs({ redisUrl, queue: queueName = "lifeline-reports", workers: count = 2, outcomeWaitMs = OUTCOME_WAIT_MS, databaseUrl, report, exportOptions, log }) {
  if (!Number.isInteger(count) || count < 1 || count > 16) throw new TypeError(`startJobs: workers must be an integer in 1..16, got ${JSON.stringify(count)}`);
  if (typeof queueName !== "string" || queueName === "" || queueName.includes(":")) {
    throw new TypeError(`startJobs: queue must be a non-empty name without ":", got ${JSON.stringify(queueName)}`);
  }
  const connection = parseRedisUrl(redisUrl);
  const where = `${connection.host}:${connection.port}/${connection.db}`;
  await probeRedis(connection, where);
  const queue = new Queue(queueName, { connection });
  const events = new QueueEvents(queueName, { connection });
  queue.on("error", (error) => log(`jobs: the queue's connection failed: ${error.message}`));
  events.on("error", (error) => log(`jobs: the progress stream failed: ${error.message}`));
  const inboxes = new Map(); // job id → its progress messages, until its outcome is known
  events.on("progress", ({ jobId, data }) => {
    // A burst beyond the buffer drops the oldest step message: the outcome is read from Redis, not from here.
    const inbox = inboxes.get(jobId);
    if (inbox !== undefined && !inbox.closed && !inbox.trySend(data)) log(`jobs: job ${jobId}: a progress message was dropped (the page is slow)`);
  });
  const running = new Map(); // report id → job id
  const runs = new Set(); // run() calls in flight: close() lets them read their outcome first
  const [life, stopWorkers] = withCancel(background());
  const procs = [];
  let closing = false;
  async function shutdown() {
    closing = true;
    stopWorkers();
    await Promise.all(procs.map((p) => p.exited));
    await Promise.allSettled(runs); // each has read its job's outcome (bounded by outcomeWaitMs) before the queue closes
    await Promise.allSettled([events.close(), queue.close()]);
  }
  const [starting, stopStarting] = withTimeout(background(), READY_MS);
  const timedOut = starting.done().recv(background()).then(() => {
    throw new Error(`no answer within ${formatMs(READY_MS)}`);
  });
  timedOut.catch(() => {}); // raced below; after a successful start nobody listens
  try {
    try {
      await Promise.race([Promise.all([queue.waitUntilReady(), events.waitUntilReady()]), timedOut]);
    } catch (error) {
      throw new Error(`Redis is not reachable at ${where} (${error.code ?? error.message}). ${HINT}`, { cause: error });
    }
    for (let i = 0; i < count; i++) procs.push(startWorker(life, i));
    await Promise.race([Promise.all(procs.map((p) => p.ready)), timedOut]);
  } catch (error) {
    await shutdown();
    throw error;
  } finally {
    stopStarting();
  }

  /** startWorker spawns the worker process of slot `slot` (named `worker <slot + 1>`), restarted if it dies. */
  function startWorker(ctx, slot, restarts = 0) {
    const name = `worker ${slot + 1}`;
    const t0 = performance.now();
    const config = { name, queue: queueName, connection, databaseUrl, report, export: exportOptions };
    const child = spawn(ctx, process.execPath, [fileURLToPath(new URL("./report-worker.mjs", import.meta.url))], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: { ...process.env, LIFELINE_REPORT_WORKER: JSON.stringify(config) },
      graceMs: WORKER_GRACE_MS,
      onStop: (r) => log(`jobs: ${name} (pid ${r.pid}) stopped (${r.stoppedBy}) ${formatMs(r.ms)} after the dashboard told it to`),
    });
    const proc = { name, pid: child.pid, state: "starting", database: "connecting", restarts };
    let isReady;
    let failed;
    proc.ready = new Promise((resolve, reject) => ((isReady = resolve), (failed = reject)));
    proc.ready.catch(() => {}); // awaited at start-up; a restarted worker's failure is said by its exit
    child.on("message", (m) => {
      if (m?.t === "ready") {
        proc.state = "ready";
        log(`jobs: ${name} (pid ${child.pid}) ready in ${formatMs(performance.now() - t0)}`);
        isReady();
      } else if (m?.t === "database" && typeof m.state === "string") proc.database = m.state;
      else if (m?.t === "log" && typeof m.text === "string") log(`${name}: ${m.text.slice(0, 500)}`);
    });
    proc.exited = child.wait().then(
      (r) => {
        const was = proc.state;
        proc.state = "exited";
        failed(new Error(`${name} exited before it was ready (${r.exitCode ?? r.signal})`));
        if (closing) return;
        const again = was !== "starting" && restarts < MAX_RESTARTS; // it had been ready: not a crash at start
        log(`jobs: ${name} (pid ${child.pid}) exited unexpectedly (${r.exitCode ?? r.signal}): a job it ran goes back to the queue once its lock expires; ` +
          (again ? "starting a new one" : `not restarted (${restarts} restarts)`));
        if (again) procs[slot] = startWorker(ctx, slot, restarts + 1);
      },
      (error) => {
        proc.state = "exited";
        failed(error);
        if (!closing) log(`jobs: ${name}: ${error.message}`); // else: wait() says the ctx that stopped it ended
      },
    );
    return proc;
  }

  return {
    queue,
    where,
    workers: procs,
    /** state returns the workers' names, pids and states, for the stats. */
    state() {
      return { queue: queueName, redis: where, workers: procs.map(({ name, pid, state, database, restarts }) => ({ name, pid, state, database, restarts })) };
    },
    run(ctx, spec, progress, stopped) {
      const p = runJob(ctx, spec, progress, stopped);
      runs.add(p);
      const forget = () => runs.delete(p);
      p.then(forget, forget);
      return p;
    },
    async cancel(ctx, reportId, reason) {
      const jobId = running.get(reportId);
      return jobId !== undefined && (await cancelJob(ctx, queue, jobId, reason));
    },
    close: shutdown,
  };

  /** runJob runs one report as a job (see run), reading its outcome past the request's end, bounded. */
  async function runJob(ctx, spec, progress, stopped) {
    const job = await addJob(ctx, queue, "report", spec, { tie: true, attempts: 1, removeOnComplete: { age: 3600 }, removeOnFail: { age: 3600 } });
    const inbox = new Channel(256);
    inboxes.set(job.id, inbox);
    running.set(spec.id, job.id);
    // The outcome is awaited past the request's end (bounded): a closed tab cancels the job (the tie), and the
    // log then says how and where it stopped.
    const [waitCtx, stopWaiting] = withCancelCause(withoutCancel(ctx));
    let bound; // the bound on the wait, armed when the request ends
    const armBound = afterFunc(ctx, () => {
      bound = setTimeout(() => stopWaiting(new Error(`no outcome for job ${job.id} ${formatMs(outcomeWaitMs)} after the request ended`)), outcomeWaitMs);
    });
    const outcome = jobResult(waitCtx, queue, job.id).finally(() => inbox.close());
    try {
      for await (const msg of inbox) {
        if (ctx.err() !== undefined || typeof msg !== "object" || msg === null || msg.type === "stopped") continue;
        await progress.send(ctx, msg).catch(() => {}); // ctx ended: nobody is reading any more
      }
      const result = await outcome;
      if (ctx.err() !== undefined) throw ctx.err();
      return result;
    } catch (error) {
      if (error instanceof JobCanceledError) await describeStop(job.id, stopped);
      if (ctx.err() !== undefined) throw ctx.err();
      throw error;
    } finally {
      armBound();
      clearTimeout(bound);
      stopWaiting();
      inboxes.delete(job.id);
      running.delete(spec.id);
    }
  }

  /** describeStop says where a cancelled job ran and how long it took to stop, from its last progress. */
  async function describeStop(jobId, stopped) {
    const job = await Job.fromId(queue, jobId).catch(() => undefined);
    const s = job?.progress;
    if (typeof s !== "object" || s === null || s.type !== "stopped") return stopped("the job was cancelled before a worker started it");
    stopped(`ran on ${s.worker} (pid ${s.pid})`);
    const since = typeof s.issuedAt === "number" ? s.issuedAt : undefined;
    if (since !== undefined && typeof s.at === "number") stopped(`the cancel reached it (${s.via}) ${formatMs(Math.max(0, s.at - since))} after it was issued`);
    for (const text of Array.isArray(s.stops) ? s.stops.slice(0, 20) : []) stopped(String(text));
    if (typeof s.stopMs === "number") stopped(`the job stopped ${formatMs(s.stopMs)} after its ctx ended`);
  }
}
