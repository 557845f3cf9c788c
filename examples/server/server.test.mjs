// The reference app over real HTTP on 127.0.0.1, port 0: each test starts its own app (with short timings)
// and asserts from the server's own counters (GET /api/stats), polled until true within a bound.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { TextDecoderStream } from "node:stream/web";
import { EVENT_LOG_SIZE, startApp } from "./app.mjs";
import { formatMs, plural } from "./format.mjs";

const quick = { report: { steps: 10, workMs: 2, pauseMs: 5 }, upstream: { delayMs: 5_000, budgetMs: 200 }, poller: { intervalMs: 20 } };
const slowReport = { ...quick, report: { steps: 100, workMs: 2, pauseMs: 50 } }; // ~5 s: long enough to leave mid-way

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

/** openReport POSTs /api/report on its own connection and resolves at the first progress line. */
function openReport(app) {
  return new Promise((resolve, reject) => {
    const req = request(`${app.url}/api/report`, { method: "POST", agent: false, timeout: 10_000 }, (res) => {
      const lines = [];
      let buf = "";
      res.setEncoding("utf8").on("data", (chunk) => {
        buf += chunk;
        for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
          lines.push(JSON.parse(buf.slice(0, nl)));
          buf = buf.slice(nl + 1);
          if (lines.at(-1).type === "progress" && lines.length === 2) resolve({ req, res, lines });
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
      assert.equal((await stats(app)).reports.started, 0, "nothing ran");
    }));

  it("serves the task dump only when debugTasks is on, showing the report task blocked", { timeout: 15_000 }, async () => {
    await withApp(quick, async (app) => assert.equal((await get(app, "/debug/lifeline/tasks")).status, 404));
    await withApp({ ...slowReport, debugTasks: true }, async (app) => {
      const ac = new AbortController();
      const report = await get(app, "/api/report", { method: "POST", signal: ac.signal });
      const reader = report.body.getReader();
      await reader.read(); // the report has started
      const dump = await (await get(app, "/debug/lifeline/tasks")).text();
      assert.match(dump, /^lifeline task dump: \d+ live tasks? at /);
      assert.match(dump, /task \d+ "report #1": (blocked on sleep \d+ms|running) for \d+ms/);
      const json = await (await get(app, "/debug/lifeline/tasks?format=json")).json();
      assert.ok(json.some((t) => t.name === "report #1"));
      ac.abort();
    });
  });

  it("shows in a real task dump the frames the README's dump shows (```text task-dump)", { timeout: 15_000 }, () =>
    withApp({ ...slowReport, poller: { intervalMs: 500 }, debugTasks: true }, async (app) => {
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

  it("streams a report's progress and completes it", { timeout: 15_000 }, () =>
    withApp(quick, async (app) => {
      const res = await get(app, "/api/report", { method: "POST" });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type"), /^application\/x-ndjson/);
      const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
      assert.deepEqual(lines[0], { type: "started", id: 1, steps: 10 });
      assert.deepEqual(
        lines.slice(1, -1),
        Array.from({ length: 10 }, (_, i) => ({ type: "progress", step: i + 1, of: 10 })),
      );
      const done = lines.at(-1);
      assert.equal(done.type, "done");
      assert.ok(done.result.samples > 0 && done.result.min >= 0 && done.result.max <= 1, JSON.stringify(done));
      const s = await until(app, "finished", (s) => s.reports.finished === 1);
      assert.equal(s.reports.cancelled, 0);
      assert.equal(s.reports.running, 0);
      assert.ok(!taskNamed(s, "report #1"));
    }));

  it("stops the report task when its client disconnects mid-way", { timeout: 15_000 }, () =>
    withApp(slowReport, async (app) => {
      const { req, lines } = await openReport(app);
      assert.deepEqual(lines[1], { type: "progress", step: 1, of: 100 });
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
      // The event log says it in words, for whoever looked away: the step the client left at, and how fast it stopped.
      const left = after.events.filter((e) => e.text.startsWith("report #1: client left"));
      assert.equal(left.length, 1, JSON.stringify(after.events));
      const m = /^report #1: client left at step (\d+), work stopped (.+) later$/.exec(left[0].text);
      assert.ok(m, left[0].text);
      assert.ok(Number(m[1]) >= 1 && Number(m[1]) < 100, `left at step ${m[1]}`);
      assert.equal(m[2], formatMs(after.reports.stopLastMs));
      // The tracking hook's time-to-stop histogram saw the report task stop after its context ended.
      assert.ok(after.timeToStop.count > during.timeToStop.count, "time-to-stop recorded the cancelled task");
      assert.equal(after.timeToStop.buckets.at(-1).count, after.timeToStop.count);
    }));

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
      assert.equal(last.step, lines.filter((l) => l.type === "progress").at(-1).step);
      assert.equal(last.reason, `the server shut down before the report finished (cancelled at step ${last.step})`);
      const events = app.stats().events.map((e) => e.text);
      assert.ok(events.includes("server: shutting down (grace 50 ms)"), events.join("\n"));
      assert.ok(events.includes(`report #1: cancelled by the shutdown at step ${last.step}`), events.join("\n"));
    } finally {
      if (!closed) await app.close(0);
    }
  });

  it("keeps the last EVENT_LOG_SIZE events, numbered, oldest dropped first", { timeout: 15_000 }, () =>
    withApp(quick, async (app) => {
      const total = EVENT_LOG_SIZE + 5;
      for (let i = 0; i < total; i++) {
        const r = await get(app, "/api/upstream?delay=0");
        assert.equal(r.status, 200);
        await r.body.cancel();
      }
      const { events } = await stats(app);
      assert.equal(events.length, EVENT_LOG_SIZE);
      assert.deepEqual(events.map((e) => e.seq), Array.from({ length: EVENT_LOG_SIZE }, (_, i) => total - EVENT_LOG_SIZE + 1 + i));
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
