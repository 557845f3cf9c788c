// The dashboard in a real browser: Debian's Chromium (scripts/install-chromium.sh), driven by playwright-core.
// Closing the page mid-report must stop the server's work: asserted from the server's counters, not timing.
// Without /usr/bin/chromium this test FAILS: a browser test that skips quietly proves nothing.
/* global document -- only inside page.waitForFunction callbacks, which run in the page */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";
import { startApp } from "./app.mjs";
import { formatMs } from "./format.mjs";

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

describe("the dashboard in Chromium", () => {
  it("closing the page mid-report stops the server's report task", { timeout: 90_000 }, () =>
    withBrowser({}, async (page, app, browser) => {
      // npm start's defaults: a ~10 s report, so the page is closed well before it could finish.
      await page.click("#report-start");
      await page.waitForFunction(() => Number(document.getElementById("report-bar").dataset.step) >= 2);
      const during = await stats(app);
      assert.equal(during.reports.running, 1);
      assert.equal(reportTasks(during).length, 1, "the report runs as a task while the page is open");
      const step = Number(await page.getAttribute("#report-bar", "data-step"));
      assert.ok(step < 100, `closed mid-way, at step ${step}`);

      await page.close();
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
      const m = /^report #1: client left at step (\d+), work stopped (\d+(?:\.\d+)?) ms later$/.exec(left[0]);
      assert.ok(m, left[0]);
      assert.ok(Number(m[1]) >= step && Number(m[1]) < 100, `left at step ${m[1]}, the page had seen ${step}`);
      assert.equal(`${m[2]} ms`, formatMs(after.reports.stopLastMs), "the log shows the measured time, 2 significant digits");
      assert.equal(logged[0], left[0], "newest first");
      assert.match(await second.textContent("#c-ttstop"), /^(1 task|\d+ tasks) · /);
      assert.deepEqual(errors, [], "no script errors on the second page");
    }));

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
