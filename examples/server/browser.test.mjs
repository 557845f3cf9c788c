// The dashboard in a real browser: Debian's Chromium (scripts/install-chromium.sh), driven by playwright-core.
// Closing the page mid-report must stop the server's work: asserted from the server's counters, not timing.
// Without /usr/bin/chromium this test FAILS: a browser test that skips quietly proves nothing.
/* global document -- only inside page.waitForFunction callbacks, which run in the page */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { once } from "node:events";
import { chromium } from "playwright-core";
import pg from "pg";
import { background } from "@lifeline/core";
import { assertNoLeaks } from "@lifeline/testing";
import { startApp } from "./app.mjs";
import { DEFAULT_DATABASE_URL, TABLE } from "./db.mjs";
import { formatMs } from "./format.mjs";
import { Queue } from "bullmq";
import { parseRedisUrl } from "./jobs-mode.mjs";
import { alive, obliterate, REDIS_URL, uniqueQueue, withLockedOrders as withLockedForWorkers } from "./jobs-test-support.mjs";

const CHROMIUM = "/usr/bin/chromium";

/** withBrowser runs `fn(page, app, browser)` with a fresh app and browser, and always closes both (bounded). */
async function withBrowser(options, fn) {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/install-chromium.sh (as root) first`);
  const app = await startApp(options);
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
      timeout: 30_000,
    });
    const page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    const errors = [];
    page.on("pageerror", (error) => errors.push(error));
    await page.goto(app.url);
    await fn(page, app, browser);
    assert.deepEqual(errors, [], "no script errors on the page");
  } finally {
    if (browser !== undefined) {
      let timer;
      await Promise.race([browser.close(), new Promise((resolve) => (timer = setTimeout(resolve, 10_000)))]);
      clearTimeout(timer);
    }
    await app.close(0);
  }
}

async function stats(app) {
  return (await fetch(`${app.url}/api/stats`, { signal: AbortSignal.timeout(10_000) })).json();
}

/** until polls the counters until `predicate` holds, failing with the last counters after `ms`. */
async function until(app, what, predicate, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = await stats(app);
    if (predicate(s)) return s;
    if (Date.now() > deadline) assert.fail(`still not ${what} after ${ms} ms; counters: ${JSON.stringify(s)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const reportTasks = (s) => s.tasks.list.filter((t) => t.name.startsWith("report #"));

/**
 * withLockedOrders holds an ACCESS EXCLUSIVE lock on the orders table while `fn(activity)` runs, so the report's
 * query waits on the server (`active`) until the test lets go. `activity(name)` reads pg_stat_activity for an
 * application_name on a second connection, outside any transaction (inside one it would read a stale snapshot).
 */
async function withLockedOrders(fn) {
  const url = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const locker = new pg.Client({ connectionString: url, application_name: "browser test lock" });
  const watcher = new pg.Client({ connectionString: url, application_name: "browser test watch" });
  await Promise.all([locker.connect(), watcher.connect()]);
  try {
    await locker.query("begin");
    await locker.query(`lock table ${TABLE} in access exclusive mode`);
    return await fn(async (name) => (await watcher.query("select pid, state, wait_event_type from pg_stat_activity where application_name = $1", [name])).rows);
  } finally {
    await locker.query("rollback").catch(() => {});
    await Promise.all([locker.end(), watcher.end()]);
  }
}

/** poll calls `read()` until `predicate(value)` holds, failing with the last value after `ms`. */
async function poll(what, read, predicate, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (predicate(value)) return value;
    if (Date.now() > deadline) assert.fail(`still not ${what} after ${ms} ms: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("the dashboard in Chromium", () => {
  it("closing the page mid-report cancels its query on the server and stops the report task", { timeout: 90_000 }, () =>
    withBrowser({}, async (page, app, browser) => {
      const state = await app.db.ready(background());
      assert.equal(state.state, "ready", `this test needs PostgreSQL: ${state.message} (${state.hint})`);
      await page.waitForFunction(() => document.getElementById("db-status").textContent.includes("2,000,000 orders"));
      // npm start's defaults (20 steps); our lock holds the first step's query on the server until the page is closed.
      let step;
      await withLockedOrders(async (activity) => {
        await page.click("#report-start");
        const [busy] = await poll("active on the lock", () => activity(app.db.applicationName), (rows) =>
          rows.some((r) => r.state === "active" && r.wait_event_type === "Lock"));
        // The live panel shows the app's backend active (pg_stat_activity, polled by the server every 500 ms).
        await page.waitForFunction(() => document.getElementById("c-backends").textContent.startsWith("lifeline 1 · plain Node 0"));
        assert.match(await page.textContent("#report-status"), /^report #1: step 1 \/ 20 — querying PostgreSQL$/);
        const during = await stats(app);
        assert.equal(during.reports.running, 1);
        assert.equal(reportTasks(during).length, 1, "the report runs as a task while the page is open");
        step = Number(await page.getAttribute("#report-bar", "data-step"));

        await page.close();
        // Our lock is still held: only the CancelRequest can have ended the query.
        await poll("idle after the cancel", () => activity(app.db.applicationName), (rows) => rows.every((r) => r.pid !== busy.pid || r.state !== "active"));
      });
      const after = await until(app, "cancelled with its task gone", (s) => s.reports.cancelled === 1 && reportTasks(s).length === 0);
      assert.equal(after.reports.finished, 0);
      assert.equal(after.reports.running, 0);
      assert.equal(after.reports.stopSamples, 1, "disconnect → stopped was measured");
      assert.ok(after.requests.disconnected >= 1);

      // A second tab, opened after the fact, still sees what happened in the event log, in words.
      const second = await browser.newPage();
      second.setDefaultTimeout(15_000);
      const errors = [];
      second.on("pageerror", (error) => errors.push(error));
      await second.goto(app.url);
      await second.waitForFunction(() => document.getElementById("event-log").textContent.includes("client left"));
      const logged = await second.$$eval("#event-log li", (items) => items.map((li) => li.lastChild.textContent));
      const left = logged.filter((text) => text.startsWith("report #1: client left"));
      assert.equal(left.length, 1, logged.join("\n"));
      const m = /^report #1: client left at step 1, query cancelled on the server (\d+(?:\.\d+)?) ms later, work stopped (\d+(?:\.\d+)?) ms later$/.exec(left[0]);
      assert.ok(m, left[0]);
      assert.equal(step, 0, "no step had finished when the page closed");
      assert.equal(`${m[2]} ms`, formatMs(after.reports.stopLastMs), "the log shows the measured time, 2 significant digits");
      assert.equal(logged[0], left[0], "newest first");
      assert.match(await second.textContent("#c-ttstop"), /^(1 task|\d+ tasks) · /);
      assert.deepEqual(errors, [], "no script errors on the second page");
    }));

  it("plain Node: after the page closes, the live panel shows the query still active on the server", { timeout: 90_000 }, () =>
    withBrowser({}, async (page, app, browser) => {
      const state = await app.db.ready(background());
      assert.equal(state.state, "ready", `this test needs PostgreSQL: ${state.message} (${state.hint})`);
      const watching = await browser.newPage(); // the second tab, left open
      watching.setDefaultTimeout(15_000);
      await watching.goto(app.url);
      await withLockedOrders(async (activity) => {
        await page.check("#report-plain");
        await page.click("#report-start");
        await poll("active on the lock", () => activity(`${app.db.applicationName} plain`), (rows) =>
          rows.some((r) => r.state === "active" && r.wait_event_type === "Lock"));
        await page.close();
        await until(app, "seen the client leave", (s) => s.tasks.list.some((t) => t.name === "report #1" && t.cancelledForMs !== null));
        // The server knows the client has gone, and the plain query is still running there (our lock holds it): the
        // second tab shows it from a pg_stat_activity reading taken after that moment.
        const left = new Date().toISOString();
        await watching.waitForFunction((left) => (document.getElementById("c-backends").dataset.at ?? "") > left, left);
        assert.equal(await watching.textContent("#c-backends"), "lifeline 0 · plain Node 1");
        assert.equal((await activity(`${app.db.applicationName} plain`)).filter((r) => r.state === "active").length, 1);
      });
      await watching.waitForFunction(() => document.getElementById("event-log").textContent.includes("kept running on the server"));
      const line = await watching.$eval("#event-log li", (li) => li.lastChild.textContent);
      assert.match(line, /^report #1 \(plain Node\): client left at step 1, the query kept running on the server for \d+(\.\d+)? ms, work stopped/);
    }));

  it("without PostgreSQL, says what is missing and how to start it", { timeout: 90_000 }, async () => {
    const closed = createServer();
    closed.listen(0, "127.0.0.1");
    await once(closed, "listening");
    const { port } = closed.address();
    await new Promise((resolve) => closed.close(resolve));
    await withBrowser({ databaseUrl: `postgres://postgres@127.0.0.1:${port}/test` }, async (page) => {
      await page.waitForFunction(() => document.getElementById("db-status").textContent.includes("not reachable"));
      const expected = `PostgreSQL is not reachable at 127.0.0.1:${port}/test (ECONNREFUSED)`;
      assert.equal(await page.textContent("#db-status"), `database: ${expected}. Start it with \`bash scripts/start-services.sh postgres\`, or set DATABASE_URL.`);
      await page.click("#report-start");
      await page.waitForFunction(() => document.getElementById("report-status").textContent.startsWith("PostgreSQL"));
      assert.match(await page.textContent("#report-status"), /^PostgreSQL is not reachable .*\. Start it with `bash scripts\/start-services\.sh postgres`/);
    });
  });

  it("shows the poller stopped cleanly after Cancel, and a 502 from the slow upstream", { timeout: 90_000 }, () =>
    withBrowser({ upstream: { delayMs: 5_000, budgetMs: 300 }, poller: { intervalMs: 50 } }, async (page, app) => {
      await page.click("#poller-start");
      await page.waitForFunction(() => /running: [1-9]\d* polls?$/.test(document.getElementById("poller-status").textContent));
      await page.click("#poller-cancel");
      await page.waitForFunction(() => document.getElementById("poller-status").textContent.includes("stopped cleanly"));
      const s = await stats(app);
      assert.equal(s.poller.running, false);
      assert.ok(!s.tasks.list.some((t) => t.name === "pollService"));

      await page.click("#upstream-slow");
      await page.waitForFunction(() => document.getElementById("upstream-status").textContent.startsWith("502 Bad Gateway"));
      assert.match(await page.textContent("#upstream-status"), /did not answer within the 300 ms budget/);
      assert.match(await page.textContent("#poller-status"), /^Poller stopped cleanly after (1 poll|(?!1 )\d+ polls) \(cancel → done in \d+(\.\d+)? ms\)$/);
    }));
});

/** jobsOf returns the queue's jobs in `state` (read through a Queue of its own, closed after). */
async function jobsOf(name, state) {
  const queue = new Queue(name, { connection: parseRedisUrl(REDIS_URL) });
  try {
    return await queue.getJobs([state]);
  } finally {
    await queue.close();
  }
}

describe("the dashboard in Chromium, jobs mode (Redis, two worker processes)", () => {
  const queue = uniqueQueue("browser");
  after(() => obliterate(queue));

  it("closing the page mid-report cancels its job on the worker process, and the log says where and how fast", { timeout: 90_000 }, async () => {
    let pids = [];
    await withBrowser({ jobs: { redisUrl: REDIS_URL, queue } }, async (page, app, browser) => {
      const state = await app.db.ready(background());
      assert.equal(state.state, "ready", `this test needs PostgreSQL: ${state.message} (${state.hint})`);
      const ready = await until(app, "every worker's database ready", (s) => s.jobs.workers.every((w) => w.database === "ready"), 20_000);
      pids = ready.jobs.workers.map((w) => w.pid);
      await page.waitForFunction(() => document.getElementById("jobs-status").textContent.startsWith("jobs mode: queue "));
      let worker;
      await withLockedForWorkers(async (locked) => {
        await page.click("#report-start");
        await page.waitForFunction(() => !document.getElementById("report-cancel").disabled); // the job has a worker
        await poll("a worker's query waiting on our lock", () => locked(pids), (rows) => rows.length === 1);
        await page.close();
        await poll("the worker's query cancelled", () => locked(pids), (rows) => rows.length === 0);
      });
      const after = await until(app, "cancelled", (s) => s.reports.cancelled === 1);
      assert.equal(after.reports.finished, 0);
      const second = await browser.newPage();
      second.setDefaultTimeout(15_000);
      await second.goto(app.url);
      await second.waitForFunction(() => document.getElementById("event-log").textContent.includes("client left"));
      const logged = await second.$$eval("#event-log li", (items) => items.map((li) => li.lastChild.textContent));
      const line = logged.find((text) => text.startsWith("report #1: client left"));
      const m = /^report #1: client left at step [01], ran on (worker \d) \(pid (\d+)\), the cancel reached it \((push|renewal)\) \d+(?:\.\d+)? ms after it was issued, .*, the job stopped (\d+(?:\.\d+)?) ms after its ctx ended, its outcome reached the dashboard \d+(?:\.\d+)? ms later$/.exec(line);
      assert.ok(m, line);
      worker = m[1];
      assert.ok(pids.includes(Number(m[2])), `ran on pid ${m[2]}, one of ${pids}`);
      console.log(`# browser, jobs mode: ${line}`);
      const failed = await jobsOf(queue, "failed");
      assert.equal(failed.length, 1, "the job ended failed (cancelled) in Redis");
      assert.match(failed[0].failedReason, /^job \d+ canceled: /);
      assert.equal(failed[0].processedBy, `${worker} (pid ${m[2]})`, "processed by the worker the log names");
    });
    for (const pid of pids) assert.equal(alive(pid), false, `worker pid ${pid} still runs after the dashboard closed`);
  });

  it("Cancel stops the job on its worker; the page says where it ran", { timeout: 90_000 }, () =>
    withBrowser({ jobs: { redisUrl: REDIS_URL, queue } }, async (page, app) => {
      const ready = await until(app, "every worker's database ready", (s) => s.jobs.workers.every((w) => w.database === "ready"), 20_000);
      const pids = ready.jobs.workers.map((w) => w.pid);
      await withLockedForWorkers(async (locked) => {
        await page.click("#report-start");
        await page.waitForFunction(() => !document.getElementById("report-cancel").disabled);
        await poll("a worker's query waiting on our lock", () => locked(pids), (rows) => rows.length === 1);
        // The worker's progress reached the page (job.updateProgress → QueueEvents → the response stream).
        await page.waitForFunction(() => document.getElementById("report-status").textContent.endsWith("step 1 / 20 — querying PostgreSQL"));
        assert.match(await page.textContent("#report-status"), /^report #1 \(job \d+ on worker \d, pid \d+\): step 1 \/ 20 — querying PostgreSQL$/);
        await page.click("#report-cancel");
        await page.waitForFunction(() => document.getElementById("report-status").textContent.includes("after its ctx ended"));
      });
      assert.match(await page.textContent("#report-status"), /^report #1: cancelled at step 1: ran on worker \d \(pid \d+\), the cancel reached it \((push|renewal)\) .*, the job stopped \d+(\.\d+)? ms after its ctx ended$/);
      const s = await until(app, "cancelled", (s) => s.reports.cancelled === 1);
      assert.ok(s.events.some((e) => /^report #1: cancelled at step 1 \(the Cancel button\), ran on worker \d/.test(e.text)));
    }));
});

after(() => assertNoLeaks());
