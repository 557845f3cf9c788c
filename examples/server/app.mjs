// The reference app behind `npm start`: a dashboard whose every piece of work is tied to a context.
//   POST /api/report          seed 000: a long report, streamed as NDJSON, that stops when the client leaves: its
//                             queries on the server, its crunching on a worker thread, its export's processes
//   POST /api/report?mode=plain  the same report with its queries run the way most Node apps do (they keep running)
//   POST /api/report/cancel?id=N  jobs mode (REDIS_URL): cancels report N's job on whichever worker process runs it
//   GET  /api/upstream        seed 002: a call to a slow upstream with a budget; 502 when it runs out
//   POST /api/poller/start    seed 003: a poller task, and a Cancel that waits until it has really stopped
//   POST /api/poller/cancel
//   GET  /api/stats           the server's own counters and its recent events (JSON); /api/stats/stream pushes them (SSE)
// A known path asked with another method answers 405 with Allow; an unknown path 404.
import { createServer } from "node:http";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import {
  afterFunc,
  background,
  captureTaskStacks,
  cause,
  Channel,
  DeadlineExceeded,
  go,
  isDeadlineExceeded,
  recv,
  select,
  tasks,
  ticker,
  withCancel,
  withTimeout,
} from "@lifeline/core";
import { ClientDisconnectedError, fetch, HttpContexts, ServerShutdownError } from "@lifeline/http";
import { dumpHandler } from "@lifeline/node";
// Time-to-stop telemetry for every task (from its context ending to the task returning), through lifeline's
// tracking hook; creation stacks are left to LIFELINE_DEBUG (they cost microseconds per task).
import { captureStacks, slowStoppers, taskStopStats } from "@lifeline/testing";
import { JobCanceledError } from "@lifeline/jobs";
import { WorkerPool } from "@lifeline/worker";
import { formatMs, plural } from "./format.mjs";
import { openDatabase } from "./db.mjs";
import { EXPORT_COMMAND, exportReport } from "./export.mjs";
import { startPoller } from "./poller.mjs";
import { generateReport } from "./report.mjs";
import { startJobs } from "./jobs-mode.mjs";
import { clampDelay, startUpstream } from "./upstream.mjs";

const page = readFileSync(new URL("./index.html", import.meta.url));
const formatModule = readFileSync(new URL("./format.mjs", import.meta.url));

/** How many recent events the server keeps for the page's event log (oldest dropped first). */
export const EVENT_LOG_SIZE = 50;

/**
 * The defaults `npm start` runs with: a report of 20 steps (each one query over all 2 million orders, then 500
 * customers' trends with 200 bootstrap resamples each: 7–10 s in all here), a 10 s upstream against a 2 s budget,
 * a poll every 500 ms. `export` is the command the Export step runs.
 */
export const defaults = Object.freeze({
  report: { steps: 20, resamples: 200 },
  export: EXPORT_COMMAND,
  upstream: { delayMs: 10_000, budgetMs: 2_000 },
  poller: { intervalMs: 500 },
});

function json(res, status, body) {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(body));
}

/**
 * startApp starts the dashboard and its slow upstream on `host` (default 127.0.0.1) and `port` (0: a free
 * one) and returns `{ url, stats, db, close }`; the database at `databaseUrl` (default: the local one) is set
 * up in the background (`db.ready(ctx)`), and `onEvent(text)` hears every event the log keeps. `close(graceMs)`
 * shuts everything down gracefully: in-flight requests get `graceMs` to finish, then their contexts are
 * cancelled; it resolves with the report of {@link HttpContexts.shutdown}. Options override {@link defaults}
 * section by section (`export: { command, args, graceMs }` replaces the Export step's command).
 */
export async function startApp(settings = {}) {
  const { port = 0, host = "127.0.0.1", databaseUrl, report = {}, upstream = {}, poller = {}, debugTasks = false, onEvent } = settings;
  // Jobs mode: `jobs: { redisUrl, queue?, workers? }` runs each report as a job on spawned worker processes.
  const { redisUrl, queue: jobsQueue, workers: jobsWorkers, outcomeWaitMs } = settings.jobs ?? {};
  const options = {
    report: { ...defaults.report, ...report },
    export: { ...defaults.export, ...settings.export },
    upstream: { ...defaults.upstream, ...upstream },
    poller: { ...defaults.poller, ...poller },
  };
  const startedAt = Date.now();
  captureStacks(debugTasks);
  if (debugTasks) captureTaskStacks(true); // the task dump then says where each task was started
  const contexts = new HttpContexts();
  const [draining, drain] = withCancel(background()); // ends long-lived streams when shutdown begins
  const slow = await startUpstream(options.upstream);
  const reports = { started: 0, finished: 0, cancelled: 0, failed: 0, stopLastMs: null, stopMaxMs: null, stopSamples: 0 };
  const calls = { calls: 0, ok: 0, badGateway: 0 };
  let running; // the poller, while it runs
  let lastPoller = null; // how the last one stopped
  let shutdownGraceMs; // set when close() begins: reports still running are told how long they have
  const events = []; // the event log: the last EVENT_LOG_SIZE events, oldest first
  let eventSeq = 0;
  function logEvent(text) {
    events.push({ seq: ++eventSeq, at: new Date().toISOString(), text });
    if (events.length > EVENT_LOG_SIZE) events.shift();
    onEvent?.(text);
  }
  const db = openDatabase({ url: databaseUrl, log: logEvent });
  // The report's CPU work: two threads; a task that ignores its ctx for 200 ms loses its thread.
  const WORKERS = 2;
  const workers = new WorkerPool(new URL("./crunch.mjs", import.meta.url), { size: WORKERS, graceMs: 200 });
  // Threads start on demand and take a few hundred ms to boot on a loaded machine: the first report boots them
  // while its first query runs (an empty task each), so a crunch's 200 ms grace is never spent booting.
  let warmed = 0; // threads that have run their warm-up task
  let warming = false;
  function warmWorkers() {
    if (warming) return;
    warming = true;
    const empty = { customer: new Int32Array(0), month: new Int32Array(0), total: new Float64Array(0), resamples: 0 };
    for (let i = 0; i < WORKERS; i++) {
      workers.run(draining, empty).then(
        () => warmed++,
        (error) => draining.err() === undefined && logEvent(`workers: a thread failed to start: ${error.message}`), // else: shutting down
      );
    }
  }

  let jobs; // jobs mode: the queue and its worker processes (jobs-mode.mjs), started below

  function stats() {
    const now = Date.now();
    const live = tasks();
    return {
      uptimeMs: now - startedAt,
      tasks: {
        running: live.length,
        list: live.map((t) => ({
          id: t.id,
          name: t.name,
          state: t.state,
          blockedOn: t.blockedOn ?? null,
          ageMs: now - t.createdAt,
          // a live task whose context has ended is ignoring its cancellation: the leak this app is about
          cancelledForMs: t.ctxEndedAt === undefined ? null : now - t.ctxEndedAt,
        })),
      },
      timeToStop: { ...taskStopStats(), ignoringCancellation: slowStoppers(1000).length },
      requests: { ...contexts.stats },
      reports: { ...reports, running: reports.started - reports.finished - reports.cancelled - reports.failed },
      poller:
        running === undefined
          ? { running: false, last: lastPoller }
          : { running: true, polls: running.polls, errors: running.errors },
      events: events.slice(),
      database: { ...db.state, active: db.active },
      workers: { threads: WORKERS, warm: warmed },
      jobs: jobs === undefined ? null : jobs.state(),
      upstream: {
        ...calls,
        ...options.upstream,
        lastBudgetSeenMs: slow.seen.budgetMs ?? null, // the timeout-ms header the upstream received
        abandoned: slow.contexts.stats.disconnected, // upstream requests we hung up on: its work stopped too
      },
    };
  }

  // Seed 000: the work runs as a task under the request's context and reports progress on a channel.
  async function reportRoute(ctx, _req, res, url) {
    const mode = url.searchParams.get("mode") ?? "lifeline";
    if (mode !== "lifeline" && mode !== "plain") return json(res, 400, { error: `mode must be lifeline or plain, got ${JSON.stringify(mode.slice(0, 40))}` });
    db.retry(); // PostgreSQL may have been started since the last attempt
    const database = await db.ready(ctx);
    if (database.state !== "ready") return json(res, 503, { error: database.message, hint: database.hint });
    if (jobs === undefined) warmWorkers(); // jobs mode: the worker processes crunch
    const id = ++reports.started;
    const name = mode === "plain" ? `report #${id} (plain Node)` : `report #${id}`;
    const t0 = performance.now();
    let step = 0; // the last step sent to the client
    const write = (msg) => res.write(`${JSON.stringify(msg)}\n`);
    const line = (msg) => {
      if (ctx.err() === undefined && !res.writableEnded) write(msg);
    };
    res.writeHead(200, {
      "content-type": "application/x-ndjson; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    });
    line({ type: "started", id, mode, steps: options.report.steps });
    logEvent(`${name}: started (${plural(options.report.steps, "step")})`);
    let leftAt; // performance.now() when the request ctx ended because the client left
    let stoppedAt; // performance.now() when the report task returned
    // The signal aborts synchronously inside the cancel (afterFunc would run a microtask later): the moment the
    // client left is taken when it is seen, and a shutdown's last line is written before the server closes the
    // connection, which it does right after cancelling.
    const onEnd = () => {
      const why = cause(ctx);
      if (why instanceof ClientDisconnectedError) leftAt = performance.now();
      else if (why instanceof ServerShutdownError && !res.writableEnded) {
        write({ type: "cancelled", id, step, reason: `the server shut down before the report finished (cancelled at step ${step})` });
        res.end();
      }
    };
    ctx.signal.addEventListener("abort", onEnd, { once: true });
    // When shutdown begins, say so on the stream: the report gets the grace period, then it is cancelled.
    const stopNotice = afterFunc(draining, () =>
      line({ type: "notice", id, message: `the server is shutting down: the report has ${formatMs(shutdownGraceMs)} to finish` }),
    );
    const progress = new Channel(0);
    const stops = []; // how each part in flight stopped, when ctx ended: "query cancelled on the server 4.1 ms later"
    const exporter = (ctx, trends, started, onStop) => exportReport(ctx, trends, options.export, started, onStop);
    const task = go(
      ctx,
      async (ctx) => {
        try {
          if (jobs !== undefined) return await jobs.run(ctx, { id, mode, ...options.report }, progress, (text) => stops.push(text));
          return await generateReport(ctx, { id, mode, db, workers, exporter, ...options.report }, progress, (text) => stops.push(text));
        } finally {
          stoppedAt = performance.now();
          progress.close();
        }
      },
      { name: `report #${id}` },
    );
    try {
      for await (const p of progress) {
        if (typeof p.step === "number") step = p.step; // jobs mode also relays messages without a step ("job")
        line(p);
      }
      const result = await task;
      reports.finished++;
      logEvent(`${name}: finished in ${formatMs(performance.now() - t0)}${result.worker ? ` on ${result.worker}` : ""}`);
      line({ type: "done", id, result });
      res.end();
    } catch (error) {
      if (ctx.err() === undefined && error instanceof JobCanceledError) {
        // Jobs mode: the Cancel button (cancelJob) stopped it on its worker; the request is still there to hear it.
        reports.cancelled++;
        logEvent(`${name}: cancelled at step ${step} (${error.reason?.message ?? error.reason}), ${stops.join(", ")}`);
        line({ type: "cancelled", id, step, reason: `cancelled at step ${step}: ${stops.join(", ")}` });
        res.end();
        return;
      }
      if (ctx.err() === undefined) {
        reports.failed++;
        logEvent(`${name}: failed at step ${step}: ${error.message}`);
        throw error; // a real failure: HttpContexts reports it and resets the stream
      }
      reports.cancelled++;
      const why = cause(ctx);
      if (leftAt !== undefined) {
        const ms = Math.max(0, stoppedAt - leftAt);
        reports.stopLastMs = ms;
        reports.stopMaxMs = Math.max(reports.stopMaxMs ?? 0, ms);
        reports.stopSamples++;
        const seen = jobs === undefined ? "work stopped" : "its outcome reached the dashboard"; // jobs: read from Redis (polled)
        logEvent(`${name}: client left at step ${step}, ${[...stops, `${seen} ${formatMs(ms)} later`].join(", ")}`);
      } else if (why instanceof ServerShutdownError) {
        logEvent(`${name}: cancelled by the shutdown at step ${step}${stops.map((s) => `, ${s}`).join("")}`);
      } else {
        logEvent(`${name}: cancelled at step ${step} (${why?.message ?? ctx.err().message})${stops.map((s) => `, ${s}`).join("")}`);
      }
    } finally {
      stopNotice();
      ctx.signal.removeEventListener("abort", onEnd);
    }
  }

  // Jobs mode: Cancel stops the report's job on whichever worker process runs it (its stream then says so).
  async function reportCancelRoute(ctx, _req, res, url) {
    if (jobs === undefined) return json(res, 409, { error: "reports run in-process (no REDIS_URL): close the tab or Abort to stop one" });
    const id = Number(url.searchParams.get("id"));
    if (!Number.isInteger(id) || id < 1) return json(res, 400, { error: `id must be a report number, got ${JSON.stringify((url.searchParams.get("id") ?? "").slice(0, 40))}` });
    const cancelled = await jobs.cancel(ctx, id, "the Cancel button");
    json(res, cancelled ? 200 : 404, cancelled ? { cancelled: true, id } : { error: `report #${id} is not running` });
  }

  // Seed 002: the upstream call gets a budget on top of the request's context; running out of it is a 502.
  async function upstreamRoute(ctx, _req, res, url) {
    calls.calls++;
    const budgetMs = options.upstream.budgetMs;
    const delay = clampDelay(url.searchParams.get("delay"), options.upstream.delayMs);
    const [callCtx, cancel] = withTimeout(ctx, budgetMs);
    const t0 = performance.now();
    try {
      const r = await fetch(callCtx, `${slow.url}/data?delay=${delay}`);
      const body = await r.json(); // read under the same budget
      if (!r.ok) throw new Error(`upstream answered ${r.status}`);
      calls.ok++;
      logEvent(`upstream: 200 in ${formatMs(performance.now() - t0)}`);
      json(res, 200, { upstream: body, budgetMs, elapsedMs: Math.round(performance.now() - t0) });
    } catch (error) {
      if (ctx.err() !== undefined) throw error; // our own client left: nobody to answer
      calls.badGateway++;
      const timedOut = isDeadlineExceeded(error) || callCtx.err() === DeadlineExceeded;
      const why = timedOut ? `upstream did not answer within the ${budgetMs} ms budget` : `upstream failed: ${error.message}`;
      logEvent(`upstream: 502 after ${formatMs(performance.now() - t0)}: ${why}`);
      json(res, 502, { error: why, budgetMs, elapsedMs: Math.round(performance.now() - t0) });
    } finally {
      cancel();
    }
  }

  // Seed 003: Cancel asks the poller to stop, then waits on its done channel (bounded) before answering.
  function pollerStartRoute(_ctx, _req, res) {
    if (running !== undefined) return json(res, 409, { error: "the poller is already running" });
    running = startPoller(contexts.ctx, options.poller, async (ctx) => {
      const r = await fetch(ctx, `${slow.url}/status`);
      await r.json();
    });
    logEvent(`poller: started (every ${formatMs(options.poller.intervalMs)})`);
    json(res, 200, { running: true, intervalMs: options.poller.intervalMs });
  }

  async function stopPoller(ctx) {
    const p = running;
    const t0 = performance.now();
    p.cancel();
    const [wait, stop] = withTimeout(ctx, 5_000);
    try {
      await p.done.recv(wait); // [undefined, false] once done is closed; DeadlineExceeded if it never stops
    } finally {
      stop();
    }
    if (running === p) running = undefined;
    lastPoller = { stopped: "cleanly", polls: p.polls, stopMs: performance.now() - t0 };
    logEvent(`poller: stopped cleanly after ${plural(p.polls, "poll")} (cancel → done in ${formatMs(lastPoller.stopMs)})`);
    return lastPoller;
  }

  async function pollerCancelRoute(ctx, _req, res) {
    if (running === undefined) return json(res, 409, { error: "the poller is not running" });
    json(res, 200, await stopPoller(ctx));
  }

  // The live panel: one SSE event every 500 ms until the client leaves or the server begins to shut down.
  async function statsStreamRoute(ctx, _req, res) {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
    res.write("retry: 1000\n\n");
    const ticks = ticker(ctx, 500);
    for (;;) {
      res.write(`data: ${JSON.stringify(stats())}\n\n`);
      const r = await select([recv(ticks), recv(draining.done())]);
      if (r.index === 1 || !r.ok) break; // shutting down, or ticks closed because ctx ended
    }
    if (ctx.err() === undefined) res.end();
  }

  const routes = {
    "GET /": (_ctx, _req, res) => res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page),
    "GET /format.mjs": (_ctx, _req, res) => res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(formatModule),
    "POST /api/report": reportRoute,
    "POST /api/report/cancel": reportCancelRoute,
    "GET /api/upstream": upstreamRoute,
    "POST /api/poller/start": pollerStartRoute,
    "POST /api/poller/cancel": pollerCancelRoute,
    "GET /favicon.ico": (_ctx, _req, res) => res.writeHead(204).end(),
    "GET /api/stats": (_ctx, _req, res) => json(res, 200, stats()),
    "GET /api/stats/stream": statsStreamRoute,
  };
  // The task dump (Go's goroutine dump): off by default; `LIFELINE_DEBUG=1 npm start` turns it on.
  if (debugTasks) {
    const dump = dumpHandler();
    routes["GET /debug/lifeline/tasks"] = (_ctx, req, res) => dump(req, res);
  }
  // path → the methods it answers, for 405's Allow header.
  const allowed = new Map();
  for (const key of Object.keys(routes)) {
    const [method, path] = key.split(" ");
    allowed.set(path, [...(allowed.get(path) ?? []), method]);
  }
  const server = createServer(
    contexts.handler((ctx, req, res) => {
      const url = new URL(req.url ?? "/", "http://dashboard");
      const method = req.method === "HEAD" ? "GET" : req.method; // node:http sends no body for HEAD
      const route = routes[`${method} ${url.pathname}`];
      if (route !== undefined) return route(ctx, req, res, url);
      const methods = allowed.get(url.pathname);
      if (methods === undefined) return json(res, 404, { error: `no route ${req.method} ${url.pathname}` });
      const allow = methods.includes("GET") ? [...methods, "HEAD"] : methods;
      res.setHeader("allow", allow.join(", "));
      return json(res, 405, { error: `${url.pathname} answers ${allow.join(", ")}, not ${req.method}` });
    }),
  );
  try {
    if (redisUrl !== undefined) {
      jobs = await startJobs({ redisUrl, queue: jobsQueue, workers: jobsWorkers, outcomeWaitMs, databaseUrl, exportOptions: options.export, log: logEvent });
    }
    server.listen(port, host);
    await once(server, "listening");
  } catch (error) {
    drain();
    await contexts.shutdown(server, 0); // ends the contexts' root: nothing was served
    await Promise.all([slow.close(), db.close(), workers.close(background()), jobs?.close()]);
    throw error;
  }
  const address = server.address();

  return {
    url: `http://${host}:${address.port}`,
    stats,
    db,
    async close(graceMs = 2_000) {
      shutdownGraceMs = graceMs;
      logEvent(`server: shutting down (grace ${formatMs(graceMs)})`);
      drain();
      if (running !== undefined) await stopPoller(background());
      const report = await contexts.shutdown(server, graceMs);
      await Promise.all([slow.close(), db.close(), workers.close(background()), jobs?.close()]);
      return report;
    },
  };
}
