// The reference app behind `npm start`: a dashboard whose every piece of work is tied to a context.
//   POST /api/report          seed 000: a long report, streamed as NDJSON, that stops when the client leaves
//   GET  /api/upstream        seed 002: a call to a slow upstream with a budget; 502 when it runs out
//   POST /api/poller/start    seed 003: a poller task, and a Cancel that waits until it has really stopped
//   POST /api/poller/cancel
//   GET  /api/stats           the server's own counters (JSON); /api/stats/stream pushes them (SSE)
import { createServer } from "node:http";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import {
  afterFunc,
  background,
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
import { ClientDisconnectedError, fetch, HttpContexts } from "@lifeline/http";
import { dumpHandler } from "@lifeline/node";
// Time-to-stop telemetry for every task (from its context ending to the task returning), through lifeline's
// tracking hook; creation stacks are left to LIFELINE_DEBUG (they cost microseconds per task).
import { captureStacks, slowStoppers, taskStopStats } from "@lifeline/testing";
import { startPoller } from "./poller.mjs";
import { generateReport } from "./report.mjs";
import { clampDelay, startUpstream } from "./upstream.mjs";

const page = readFileSync(new URL("./index.html", import.meta.url));

/** The defaults `npm start` runs with: a ~10 s report, a 10 s upstream against a 2 s budget, a poll every 500 ms. */
export const defaults = Object.freeze({
  report: { steps: 100, workMs: 10, pauseMs: 90 },
  upstream: { delayMs: 10_000, budgetMs: 2_000 },
  poller: { intervalMs: 500 },
});

function json(res, status, body) {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(body));
}

/**
 * startApp starts the dashboard and its slow upstream on `host` (default 127.0.0.1) and `port` (0: a free
 * one) and returns `{ url, stats, close }`. `close(graceMs)` shuts both down gracefully: in-flight
 * requests get `graceMs` to finish, then their contexts are cancelled; it resolves with the report of
 * {@link HttpContexts.shutdown}. Options override {@link defaults} section by section.
 */
export async function startApp({ port = 0, host = "127.0.0.1", report = {}, upstream = {}, poller = {}, debugTasks = false } = {}) {
  const options = {
    report: { ...defaults.report, ...report },
    upstream: { ...defaults.upstream, ...upstream },
    poller: { ...defaults.poller, ...poller },
  };
  const startedAt = Date.now();
  captureStacks(debugTasks);
  const contexts = new HttpContexts();
  const [draining, drain] = withCancel(background()); // ends long-lived streams when shutdown begins
  const slow = await startUpstream(options.upstream);
  const reports = { started: 0, finished: 0, cancelled: 0, failed: 0, stopLastMs: null, stopMaxMs: null, stopSamples: 0 };
  const calls = { calls: 0, ok: 0, badGateway: 0 };
  let running; // the poller, while it runs
  let lastPoller = null; // how the last one stopped

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
      upstream: {
        ...calls,
        ...options.upstream,
        lastBudgetSeenMs: slow.seen.budgetMs ?? null, // the timeout-ms header the upstream received
        abandoned: slow.contexts.stats.disconnected, // upstream requests we hung up on: its work stopped too
      },
    };
  }

  // Seed 000: the work runs as a task under the request's context and reports progress on a channel.
  async function reportRoute(ctx, _req, res) {
    const id = ++reports.started;
    const line = (msg) => {
      if (ctx.err() === undefined) res.write(`${JSON.stringify(msg)}\n`);
    };
    res.writeHead(200, {
      "content-type": "application/x-ndjson; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    });
    line({ type: "started", id, steps: options.report.steps });
    let leftAt; // performance.now() when the request ctx ended because the client left
    let stoppedAt; // performance.now() when the report task returned
    afterFunc(ctx, () => {
      if (cause(ctx) instanceof ClientDisconnectedError) leftAt = performance.now();
    });
    const progress = new Channel(0);
    const task = go(
      ctx,
      async (ctx) => {
        try {
          return await generateReport(ctx, options.report, progress);
        } finally {
          stoppedAt = performance.now();
          progress.close();
        }
      },
      { name: `report #${id}` },
    );
    for await (const p of progress) line({ type: "progress", ...p });
    try {
      const result = await task;
      reports.finished++;
      line({ type: "done", id, result });
      res.end();
    } catch (error) {
      if (ctx.err() === undefined) {
        reports.failed++;
        throw error; // a real failure: HttpContexts reports it and resets the stream
      }
      reports.cancelled++;
      // afterFunc ran in the microtask after the ctx ended, before the task's rejection reached us here.
      if (leftAt !== undefined) {
        const ms = Math.max(0, stoppedAt - leftAt);
        reports.stopLastMs = ms;
        reports.stopMaxMs = Math.max(reports.stopMaxMs ?? 0, ms);
        reports.stopSamples++;
      }
    }
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
      json(res, 200, { upstream: body, budgetMs, elapsedMs: Math.round(performance.now() - t0) });
    } catch (error) {
      if (ctx.err() !== undefined) throw error; // our own client left: nobody to answer
      calls.badGateway++;
      const timedOut = isDeadlineExceeded(error) || callCtx.err() === DeadlineExceeded;
      const why = timedOut ? `upstream did not answer within the ${budgetMs} ms budget` : `upstream failed: ${error.message}`;
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
    "POST /api/report": reportRoute,
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
  const server = createServer(
    contexts.handler((ctx, req, res) => {
      const url = new URL(req.url ?? "/", "http://dashboard");
      const route = routes[`${req.method} ${url.pathname}`];
      if (route === undefined) return json(res, 404, { error: `no route ${req.method} ${url.pathname}` });
      return route(ctx, req, res, url);
    }),
  );
  try {
    server.listen(port, host);
    await once(server, "listening");
  } catch (error) {
    drain();
    await slow.close();
    throw error;
  }
  const address = server.address();

  return {
    url: `http://${host}:${address.port}`,
    stats,
    async close(graceMs = 2_000) {
      drain();
      if (running !== undefined) await stopPoller(background());
      const report = await contexts.shutdown(server, graceMs);
      await slow.close();
      return report;
    },
  };
}
