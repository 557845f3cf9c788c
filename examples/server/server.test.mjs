// The reference app over real HTTP on 127.0.0.1, port 0: each test starts its own app (with short timings)
// and asserts from the server's own counters (GET /api/stats), polled until true within a bound.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { TextDecoderStream } from "node:stream/web";
import pg from "pg";
import { background } from "@lifeline/core";
import { assertNoLeaks } from "@lifeline/testing";
import { EVENT_LOG_SIZE, startApp } from "./app.mjs";
import { CUSTOMERS, DEFAULT_DATABASE_URL, TABLE } from "./db.mjs";
import { formatMs, plural } from "./format.mjs";

// Each report step is one query over the whole orders table (a few hundred ms here): 2 steps for a quick report,
// 20 for one long enough to leave mid-way.
const quick = { report: { steps: 2, resamples: 10 }, upstream: { delayMs: 5_000, budgetMs: 200 }, poller: { intervalMs: 20 } };
const slowReport = { ...quick, report: { steps: 20, resamples: 10 } };
const DATABASE_URL = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;

/** withApp runs `fn(app)` against a fresh app and always shuts it down. */
async function withApp(options, fn) {
  const app = await startApp(options);
  try {
    return await fn(app);
  } finally {
    await app.close(0);
  }
}

async function get(app, path, init = {}) {
  return fetch(app.url + path, { signal: AbortSignal.timeout(10_000), ...init });
}

async function stats(app) {
  return (await get(app, "/api/stats")).json();
}

/** until polls the counters until `predicate` holds, failing with the last counters after `ms`. */
async function until(app, what, predicate, ms = 5_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = await stats(app);
    if (predicate(s)) return s;
    if (Date.now() > deadline) assert.fail(`still not ${what} after ${ms} ms; counters: ${JSON.stringify(s)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const taskNamed = (s, name) => s.tasks.list.some((t) => t.name === name);

/** dbReady waits until the app's database is set up, failing (never skipping) when PostgreSQL is missing. */
async function dbReady(app) {
  const state = await app.db.ready(background());
  assert.equal(state.state, "ready", `these tests need PostgreSQL: ${state.message} (${state.hint})`);
}

/**
 * withLockedOrders holds an ACCESS EXCLUSIVE lock on the orders table while `fn(sql)` runs (fault injection: the
 * report's next query waits on it, `active` in pg_stat_activity, for as long as the test wants), then releases it.
 * `sql(text, params)` queries on another connection of the test's own, outside any transaction (inside one,
 * pg_stat_activity would show the snapshot taken at its first read).
 */
async function withLockedOrders(fn) {
  const locker = new pg.Client({ connectionString: DATABASE_URL, application_name: "dashboard test lock" });
  const watcher = new pg.Client({ connectionString: DATABASE_URL, application_name: "dashboard test watch" });
  await Promise.all([locker.connect(), watcher.connect()]);
  try {
    await locker.query("begin");
    await locker.query(`lock table ${TABLE} in access exclusive mode`);
    return await fn((text, params) => watcher.query(text, params).then((r) => r.rows));
  } finally {
    await locker.query("rollback").catch(() => {});
    await Promise.all([locker.end(), watcher.end()]);
  }
}

/** pollSql polls `sql(text, params)` until `predicate(rows)` holds, failing with the last rows after `ms`. */
async function pollSql(sql, what, text, params, predicate, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const rows = await sql(text, params);
    if (predicate(rows)) return rows;
    if (Date.now() > deadline) assert.fail(`still not ${what} after ${ms} ms: ${JSON.stringify(rows)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
const ACTIVITY = "select pid, state, wait_event_type, query from pg_stat_activity where application_name = $1";

/**
 * openReport POSTs /api/report (`?mode=` mode) on its own connection and resolves with `{ req, res, lines }` at the
 * first line for which `until(line)` holds (default: the first progress line); `lines` goes on filling.
 */
function openReport(app, { mode, until = (l) => l.type === "progress" } = {}) {
  return new Promise((resolve, reject) => {
    const path = mode === undefined ? "/api/report" : `/api/report?mode=${mode}`;
    const req = request(`${app.url}${path}`, { method: "POST", agent: false, timeout: 10_000 }, (res) => {
      const lines = [];
      let buf = "";
      res.setEncoding("utf8").on("data", (chunk) => {
        buf += chunk;
        for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
          lines.push(JSON.parse(buf.slice(0, nl)));
          buf = buf.slice(nl + 1);
          if (until(lines.at(-1))) resolve({ req, res, lines });
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error("no progress within 10 s")));
    req.on("error", reject);
    req.end();
  });
}

describe("the Generate Report dashboard", () => {
  it("serves the page and 404s unknown routes", { timeout: 15_000 }, () =>
    withApp(quick, async (app) => {
      const page = await get(app, "/");
      assert.equal(page.status, 200);
      assert.match(page.headers.get("content-type"), /^text\/html/);
      assert.match(await page.text(), /Generate Report/);
      const missing = await get(app, "/nope");
      assert.equal(missing.status, 404);
      assert.deepEqual(await missing.json(), { error: "no route GET /nope" });
    }));

  it("answers 405 with Allow for a known path asked with another method", { timeout: 15_000 }, () =>
    withApp(quick, async (app) => {
      const getPost = await get(app, "/api/report");
      assert.equal(getPost.status, 405);
      assert.equal(getPost.headers.get("allow"), "POST");
      assert.deepEqual(await getPost.json(), { error: "/api/report answers POST, not GET" });
      const postGet = await get(app, "/api/stats", { method: "POST" });
      assert.equal(postGet.status, 405);
      assert.equal(postGet.headers.get("allow"), "GET, HEAD");
      await postGet.body.cancel();
      const head = await get(app, "/api/stats", { method: "HEAD" });
      assert.equal(head.status, 200, "HEAD is answered like GET, without a body");
      assert.equal(await head.text(), "");
      const badMode = await get(app, "/api/report?mode=fast", { method: "POST" });
      assert.equal(badMode.status, 400);
      assert.deepEqual(await badMode.json(), { error: 'mode must be lifeline or plain, got "fast"' });
      assert.equal((await stats(app)).reports.started, 0, "nothing ran");
    }));

  it("serves the task dump only when debugTasks is on, showing the report task blocked", { timeout: 15_000 }, async () => {
    await withApp(quick, async (app) => assert.equal((await get(app, "/debug/lifeline/tasks")).status, 404));
    await withApp({ ...slowReport, debugTasks: true }, async (app) => {
      await dbReady(app);
      const ac = new AbortController();
      const report = await get(app, "/api/report", { method: "POST", signal: ac.signal });
      const reader = report.body.getReader();
      await reader.read(); // the report has started
      const dump = await (await get(app, "/debug/lifeline/tasks")).text();
      assert.match(dump, /^lifeline task dump: \d+ live tasks? at /);
      assert.match(dump, /task \d+ "report #1": (blocked on [\w ]+|running) for \d+ms/);
      const json = await (await get(app, "/debug/lifeline/tasks?format=json")).json();
      assert.ok(json.some((t) => t.name === "report #1"));
      ac.abort();
    });
  });

  it("shows in a real task dump the frames the README's dump shows (```text task-dump)", { timeout: 15_000 }, () =>
    withApp({ ...slowReport, poller: { intervalMs: 500 }, debugTasks: true }, async (app) => {
      await dbReady(app);
      const ac = new AbortController();
      const report = await get(app, "/api/report", { method: "POST", signal: ac.signal });
      await report.body.getReader().read(); // the report has started
      assert.equal((await get(app, "/api/poller/start", { method: "POST" })).status, 200);
      const dump = await (await get(app, "/debug/lifeline/tasks")).text();
      ac.abort();
      // A stack frame, without the checkout's path: "at pollerStartRoute (examples/server/app.mjs:229:15)".
      const frames = (text) => [...text.matchAll(/(started at|at) (?:(\S+) \()?file:\/\/\/\S*?\/(examples\/server\/[\w.-]+:\d+:\d+)/g)]
        .map(([, at, fn, where]) => `${at} ${fn ?? "<anonymous>"} ${where}`);
      const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
      const block = /```text task-dump\n([\s\S]*?)```/.exec(readme);
      assert.ok(block, "README.md has a ```text task-dump block");
      assert.ok(frames(block[1]).length >= 5, block[1]);
      assert.deepEqual(frames(block[1]), frames(dump), `README.md's task dump is stale; a real one:\n${dump}`);
    }));

  it("streams a report's progress and completes it: queries, crunching, export", { timeout: 60_000 }, () =>
    withApp(quick, async (app) => {
      await dbReady(app);
      const res = await get(app, "/api/report", { method: "POST" });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type"), /^application\/x-ndjson/);
      const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
      assert.deepEqual(lines[0], { type: "started", id: 1, mode: "lifeline", steps: 2 });
      const exported = lines.at(-2);
      assert.deepEqual(lines.slice(1, -2), [1, 2].flatMap((step) => [
        { type: "phase", step, phase: "query" },
        { type: "phase", step, phase: "crunch" },
        { type: "progress", step, of: 2 },
      ]));
      assert.equal(exported.phase, "export");
      assert.ok(Number.isInteger(exported.pid) && exported.pid > 0, JSON.stringify(exported));
      const done = lines.at(-1);
      assert.equal(done.type, "done");
      const r = done.result;
      // Every customer's trend was computed (the two steps' queries cover all of them), and the export is a real gzip.
      assert.equal(r.customers, CUSTOMERS, JSON.stringify(r));
      assert.ok(r.growing > 0 && r.shrinking > 0 && r.growing + r.shrinking <= r.customers, JSON.stringify(r));
      assert.ok(r.exportBytes > 1000, JSON.stringify(r));
      assert.ok(!existsSync(`/proc/${exported.pid}`), "the export's process is gone");
      const s = await until(app, "finished", (s) => s.reports.finished === 1);
      assert.equal(s.reports.cancelled, 0);
      assert.equal(s.reports.running, 0);
      assert.ok(!taskNamed(s, "report #1"));
    }));

  it("stops the report task when its client disconnects mid-way", { timeout: 60_000 }, () =>
    withApp(slowReport, async (app) => {
      await dbReady(app);
      const { req, lines } = await openReport(app);
      assert.deepEqual(lines.find((l) => l.type === "progress"), { type: "progress", step: 1, of: 20 });
      const during = await stats(app);
      assert.equal(during.reports.running, 1);
      assert.ok(taskNamed(during, "report #1"), "the report runs as a task while the client is there");

      req.destroy(); // the client leaves: the server sees its socket close
      const after = await until(app, "cancelled with its task gone", (s) => s.reports.cancelled === 1 && !taskNamed(s, "report #1"));
      assert.equal(after.reports.finished, 0);
      assert.equal(after.reports.running, 0);
      assert.equal(after.requests.disconnected, 1);
      assert.equal(after.reports.stopSamples, 1, "disconnect → stopped was measured");
      assert.ok(after.reports.stopLastMs >= 0 && after.reports.stopLastMs === after.reports.stopMaxMs);
      // The event log says it in words, for whoever looked away: the step the client left at, what was stopped
      // (the query, the crunching: whichever was in flight), and how fast the work stopped.
      const left = after.events.filter((e) => e.text.startsWith("report #1: client left"));
      assert.equal(left.length, 1, JSON.stringify(after.events));
      // Any rung the part in flight may have been stopped by (not sent: the query was still waiting for its turn).
      const part = "query cancelled on the server \\S+ ms later|query not sent|query's connection destroyed \\S+ ms later \\(the server did not answer the cancel\\)|crunching stopped \\((?:cooperative|queue|terminate)\\) \\S+ ms later";
      const m = new RegExp(`^report #1: client left at step (\\d+), (?:(?:${part}), )?work stopped (.+) later$`).exec(left[0].text);
      assert.ok(m, left[0].text);
      assert.ok(Number(m[1]) >= 1 && Number(m[1]) < 20, `left at step ${m[1]}`);
      assert.equal(m[2], formatMs(after.reports.stopLastMs));
      // The tracking hook's time-to-stop histogram saw the report task stop after its context ended.
      assert.ok(after.timeToStop.count > during.timeToStop.count, "time-to-stop recorded the cancelled task");
      assert.equal(after.timeToStop.buckets.at(-1).count, after.timeToStop.count);
    }));

  it("cancels the report's query on the server when the client leaves (the backend is no longer active)", { timeout: 60_000 }, () =>
    withApp(slowReport, async (app) => {
      await dbReady(app);
      await withLockedOrders(async (sql) => {
        const { req } = await openReport(app, { until: (l) => l.type === "phase" && l.phase === "query" });
        // The report's query waits on our lock: active on the server, for as long as we hold it.
        const [busy] = await pollSql(sql, "active on the lock", ACTIVITY, [app.db.applicationName], (rows) =>
          rows.some((r) => r.state === "active" && r.wait_event_type === "Lock"));
        assert.match(busy.query, /lifeline: report 1 step 1/, "pg_stat_activity names the report the query is for");
        await until(app, "the live panel's count", (s) => s.database.active.lifeline === 1 && s.database.active.plain === 0);
        req.destroy();
        // Still under our lock: only a cancel reaching the server can make the backend leave `active`.
        await pollSql(sql, "idle after the cancel", "select state from pg_stat_activity where pid = $1", [busy.pid], (rows) => rows[0]?.state !== "active");
        const idle = new Date().toISOString();
        await until(app, "the live panel's count back to 0", (s) => s.database.active.at > idle && s.database.active.lifeline === 0);
        const s = await until(app, "cancelled", (s) => s.reports.cancelled === 1 && !taskNamed(s, "report #1"));
        const left = s.events.map((e) => e.text).filter((t) => t.startsWith("report #1: client left"));
        assert.equal(left.length, 1, JSON.stringify(s.events));
        assert.match(left[0], /^report #1: client left at step 1, query cancelled on the server \d+(\.\d+)? ms later, work stopped \d+(\.\d+)? ms later$/);
      });
    }));

  it("plain Node mode: the client leaves, the query keeps running on the server", { timeout: 60_000 }, () =>
    withApp(slowReport, async (app) => {
      await dbReady(app);
      const plainApp = `${app.db.applicationName} plain`;
      await withLockedOrders(async (sql) => {
        const { req } = await openReport(app, { mode: "plain", until: (l) => l.type === "phase" && l.phase === "query" });
        const [busy] = await pollSql(sql, "active on the lock", ACTIVITY, [plainApp], (rows) =>
          rows.some((r) => r.state === "active" && r.wait_event_type === "Lock"));
        req.destroy();
        // The server has seen the client leave (the report task's ctx ended) …
        const s = await until(app, "seen the client leave", (s) => s.tasks.list.some((t) => t.name === "report #1" && t.cancelledForMs !== null));
        assert.equal(s.reports.cancelled, 0, "the task is still waiting for its query");
        // … and the query is still running on the server: nothing told it.
        const [still] = await sql(ACTIVITY, [plainApp]);
        assert.deepEqual([still.pid, still.state], [busy.pid, "active"]);
        const left = new Date().toISOString();
        const seen = await until(app, "a reading of pg_stat_activity after the client left", (s) => s.database.active.at > left);
        assert.deepEqual([seen.database.active.lifeline, seen.database.active.plain], [0, 1], "the live panel's count");
      });
      // The lock is gone: the query finishes on the server, and only then does the report stop.
      const s = await until(app, "cancelled", (s) => s.reports.cancelled === 1 && !taskNamed(s, "report #1"));
      const left = s.events.map((e) => e.text).filter((t) => t.startsWith("report #1 (plain Node): client left"));
      assert.equal(left.length, 1, JSON.stringify(s.events));
      assert.match(left[0], /^report #1 \(plain Node\): client left at step 1, the query kept running on the server for \d+(\.\d+)? ms, work stopped \d+(\.\d+)? ms later$/);
    }));

  it("stops the crunching on its worker thread (cooperative rung) when the client leaves", { timeout: 60_000 }, () =>
    withApp({ ...slowReport, report: { steps: 2, resamples: 1_000_000 } }, async (app) => {
      await dbReady(app);
      const { req } = await openReport(app, { until: (l) => l.type === "phase" && l.phase === "crunch" });
      // Both threads have booted (their warm-up tasks returned), so the crunch is running on one, not queued or booting.
      await until(app, "the worker threads booted", (s) => s.workers.warm === s.workers.threads);
      req.destroy(); // a million resamples per customer: minutes of crunching, unless it stops
      const s = await until(app, "cancelled", (s) => s.reports.cancelled === 1 && !taskNamed(s, "report #1"));
      const left = s.events.map((e) => e.text).filter((t) => t.startsWith("report #1: client left"));
      assert.match(left[0], /^report #1: client left at step 1, crunching stopped \(cooperative\) \d+(\.\d+)? ms later, work stopped \d+(\.\d+)? ms later$/);
    }));

  it("stops the export's process group when the client leaves: SIGTERM, or SIGKILL after the grace", { timeout: 60_000 }, async () => {
    const cases = [
      ["sleep 30", /export stopped \(SIGTERM\) \d+(?:\.\d+)? ms later/],
      ["trap '' TERM; sleep 30", /export stopped \(SIGKILL after the grace\) (\d+) ms later/], // sleep inherits the ignored TERM
    ];
    for (const [script, expected] of cases) {
      await withApp({ ...quick, report: { steps: 1, resamples: 1 }, export: { command: "sh", args: ["-c", script], graceMs: 300 } }, async (app) => {
        await dbReady(app);
        const { req, lines } = await openReport(app, { until: (l) => l.type === "phase" && l.phase === "export" });
        const { pid } = lines.at(-1);
        assert.ok(existsSync(`/proc/${pid}`), "the export runs");
        if (script.startsWith("trap")) {
          // Leave only once the shell has run its trap (SIGTERM, bit 15, in its ignored set), or SIGTERM would find it without.
          const ignoresTerm = () => (BigInt(`0x${/^SigIgn:\s*(\w+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]}`) & (1n << 14n)) !== 0n;
          const deadline = Date.now() + 5_000;
          while (!ignoresTerm()) {
            assert.ok(Date.now() < deadline, "the export's shell never ignored SIGTERM");
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        }
        req.destroy();
        const s = await until(app, "cancelled", (s) => s.reports.cancelled === 1 && !taskNamed(s, "report #1"));
        const left = s.events.map((e) => e.text).find((t) => t.startsWith("report #1: client left"));
        const m = expected.exec(left);
        assert.ok(m, left);
        if (m[1] !== undefined) assert.ok(Number(m[1]) >= 300, `SIGKILL came after the 300 ms grace: ${left}`);
        assert.ok(!existsSync(`/proc/${pid}`), "the export's process is gone");
      });
    }
  });

  it("without PostgreSQL: still serves, and says what is missing and how to start it", { timeout: 30_000 }, async () => {
    const closed = createServer();
    closed.listen(0, "127.0.0.1");
    await once(closed, "listening");
    const { port } = closed.address();
    await new Promise((resolve) => closed.close(resolve)); // a port nobody listens on
    await withApp({ ...quick, databaseUrl: `postgres://postgres@127.0.0.1:${port}/test` }, async (app) => {
      const state = await app.db.ready(background());
      assert.equal(state.state, "missing");
      const { database } = await stats(app);
      assert.equal(database.state, "missing");
      assert.equal(database.message, `PostgreSQL is not reachable at 127.0.0.1:${port}/test (ECONNREFUSED)`);
      assert.match(database.hint, /bash scripts\/start-services\.sh postgres/);
      const res = await get(app, "/api/report", { method: "POST" });
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), { error: database.message, hint: database.hint });
      assert.equal((await get(app, "/")).status, 200, "the page is served");
      assert.equal((await get(app, "/api/upstream?delay=0")).status, 200, "the rest works");
      assert.ok((await stats(app)).events.some((e) => e.text.startsWith(`database: ${database.message}`)));
    });
  });

  it("answers 502 when the slow upstream outlives the budget, and the upstream stops too", { timeout: 15_000 }, () =>
    withApp(quick, async (app) => {
      const res = await get(app, "/api/upstream");
      assert.equal(res.status, 502);
      const body = await res.json();
      assert.equal(body.error, "upstream did not answer within the 200 ms budget");
      assert.ok(body.elapsedMs >= 190 && body.elapsedMs < 5_000, `gave up after ${body.elapsedMs} ms`);
      // The budget travelled in the timeout-ms header, and the upstream's own request ended when we hung up.
      const s = await until(app, "abandoned upstream", (s) => s.upstream.abandoned === 1);
      assert.ok(s.upstream.lastBudgetSeenMs > 0 && s.upstream.lastBudgetSeenMs <= 200, `budget seen: ${s.upstream.lastBudgetSeenMs}`);
      assert.deepEqual([s.upstream.calls, s.upstream.ok, s.upstream.badGateway], [1, 0, 1]);
    }));

  it("answers 200 when the upstream answers within the budget", { timeout: 15_000 }, () =>
    withApp(quick, async (app) => {
      const res = await get(app, "/api/upstream?delay=10");
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.deepEqual(body.upstream, { data: "upstream data", tookMs: 10 });
      assert.equal((await stats(app)).upstream.ok, 1);
    }));

  it("starts the poller, and Cancel answers once it has stopped cleanly", { timeout: 15_000 }, () =>
    withApp(quick, async (app) => {
      const post = (path) => get(app, path, { method: "POST" });
      assert.equal((await post("/api/poller/cancel")).status, 409, "nothing to cancel yet");
      const started = await post("/api/poller/start");
      assert.equal(started.status, 200);
      assert.deepEqual(await started.json(), { running: true, intervalMs: 20 });
      assert.equal((await post("/api/poller/start")).status, 409, "one poller at a time");
      const polling = await until(app, "polling", (s) => s.poller.running && s.poller.polls >= 2);
      assert.ok(taskNamed(polling, "pollService"));

      const cancelled = await post("/api/poller/cancel");
      assert.equal(cancelled.status, 200);
      const body = await cancelled.json();
      assert.equal(body.stopped, "cleanly");
      assert.ok(body.polls >= 2);
      // Cancel waited on the done channel: the task is already gone when the answer arrives.
      const s = await stats(app);
      assert.equal(s.poller.running, false);
      assert.equal(s.poller.last.polls, body.polls);
      assert.ok(!taskNamed(s, "pollService"));
      assert.equal((await post("/api/poller/cancel")).status, 409);
    }));

  it("shuts down gracefully: the counter stream ends, a report past the grace period is cancelled", { timeout: 15_000 }, async () => {
    const app = await startApp(slowReport);
    let closed = false;
    try {
      await dbReady(app);
      const stream = await get(app, "/api/stats/stream");
      assert.equal(stream.headers.get("content-type"), "text/event-stream");
      const reader = stream.body.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!text.includes("data: ")) text += (await reader.read()).value;
      const { res, lines } = await openReport(app);
      const ended = new Promise((resolve, reject) => {
        res.on("end", resolve).on("error", reject);
      });

      const report = await app.close(50);
      closed = true;
      assert.equal(report.graceful, false);
      assert.deepEqual(report.cancelled.map((r) => `${r.method} ${r.url}`), ["POST /api/report"]);
      assert.equal(app.stats().reports.cancelled, 1);
      assert.ok(!taskNamed(app.stats(), "report #1"));
      for (let r = await reader.read(); !r.done; r = await reader.read()); // the counter stream ended by itself
      // The report's stream was told: first that the shutdown began, then, last, that it was cancelled, and it
      // ended as a complete response (not a reset).
      await ended;
      const notice = lines.find((l) => l.type === "notice");
      assert.deepEqual(notice, { type: "notice", id: 1, message: "the server is shutting down: the report has 50 ms to finish" });
      const last = lines.at(-1);
      assert.equal(last.type, "cancelled", JSON.stringify(lines.slice(-3)));
      assert.equal(last.id, 1);
      assert.equal(last.step, lines.filter((l) => l.type === "progress" || l.type === "phase").at(-1).step, "the step it was at");
      assert.equal(last.reason, `the server shut down before the report finished (cancelled at step ${last.step})`);
      const events = app.stats().events.map((e) => e.text);
      assert.ok(events.includes("server: shutting down (grace 50 ms)"), events.join("\n"));
      // … with whatever part was in flight when it was cancelled: "…, query cancelled on the server 29 ms later".
      assert.ok(events.some((t) => t === `report #1: cancelled by the shutdown at step ${last.step}` || t.startsWith(`report #1: cancelled by the shutdown at step ${last.step}, `)), events.join("\n"));
    } finally {
      if (!closed) await app.close(0);
    }
  });

  it("keeps the last EVENT_LOG_SIZE events, numbered, oldest dropped first", { timeout: 15_000 }, () =>
    withApp(quick, async (app) => {
      await app.db.ready(background()); // its "database: …" event is logged first
      const before = (await stats(app)).events.length;
      const total = EVENT_LOG_SIZE + 5;
      for (let i = 0; i < total; i++) {
        const r = await get(app, "/api/upstream?delay=0");
        assert.equal(r.status, 200);
        await r.body.cancel();
      }
      const { events } = await stats(app);
      assert.equal(events.length, EVENT_LOG_SIZE);
      assert.deepEqual(events.map((e) => e.seq), Array.from({ length: EVENT_LOG_SIZE }, (_, i) => before + total - EVENT_LOG_SIZE + 1 + i));
      assert.ok(events.every((e) => /^upstream: 200 in /.test(e.text) && !Number.isNaN(Date.parse(e.at))), JSON.stringify(events[0]));
    }));

  it("formats durations without false precision, and counts in words", () => {
    const cases = [[0.0341, "0.034 ms"], [0.03, "0.03 ms"], [1.234, "1.2 ms"], [9.94, "9.9 ms"], [9.96, "10 ms"], [45.6, "46 ms"], [2000, "2000 ms"], [0, "0 ms"], [null, "–"]];
    assert.deepEqual(cases.map(([v]) => formatMs(v)), cases.map(([, text]) => text));
    assert.deepEqual([plural(0, "task"), plural(1, "task"), plural(2, "task"), plural(1, "poll")], ["0 tasks", "1 task", "2 tasks", "1 poll"]);
  });

  it("npm start's entry prints its URL and exits 0 on SIGINT", { timeout: 20_000 }, async () => {
    const child = spawn(process.execPath, [new URL("./main.mjs", import.meta.url).pathname], {
      env: { ...process.env, PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let out = "";
      let err = "";
      child.stderr.setEncoding("utf8").on("data", (c) => (err += c));
      const url = await new Promise((resolve, reject) => {
        child.stdout.setEncoding("utf8").on("data", (c) => {
          out += c;
          const m = /lifeline dashboard: (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
          if (m) resolve(m[1]);
        });
        child.once("exit", (code) => reject(new Error(`exited with ${code} before listening: ${err}`)));
      });
      const page = await fetch(`${url}/`, { signal: AbortSignal.timeout(5_000) });
      assert.equal(page.status, 200);
      await page.text();
      const exited = once(child, "exit");
      child.kill("SIGINT");
      const [code] = await exited;
      assert.equal(code, 0, err);
      assert.match(out, /received SIGINT: shutting down/);
      assert.match(out, /shut down: every request finished/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });
});

after(() => assertNoLeaks());
