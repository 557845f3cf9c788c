// The runtimes' runner (scripts/runtimes/node-test.mjs) counts what it must: each case runs a small test file
// with it in a child node and reads the summary line and the per-test lines.
// Run: node --test scripts/runtimes/node-test.test.mjs (scripts/test-runtimes.mjs runs it first).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

const runner = new URL("./node-test.mjs", import.meta.url).href;

/** runFile runs `body` (a test file, with describe/it/… in scope) under the runner, with `exclusions`. */
function runFile(body, exclusions = "[]") {
  const code = [
    `import { describe, it, before, after, beforeEach, afterEach, exclude, run } from ${JSON.stringify(runner)};`,
    `exclude(${exclusions});`,
    body,
    "await run();",
  ].join("\n");
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], { encoding: "utf8", timeout: 20_000 });
  const line = r.stdout.split("\n").find((l) => l.startsWith("#runtimes-summary "));
  assert.ok(line, `no summary; status ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const lines = r.stdout.split("\n").filter((l) => /^(ok|not ok|skip) /.test(l)).map((l) => l.replace(/ \([\d.]+ ms\)$/, ""));
  return { summary: JSON.parse(line.slice("#runtimes-summary ".length)), lines, stdout: r.stdout };
}

describe("the runtimes' node:test stand-in", () => {
  it("counts passing and failing tests, with suite > test names", () => {
    const { summary, lines } = runFile(`
      describe("s", () => {
        it("passes", () => {});
        it("fails", () => { throw new Error("nope"); });
        it("fails async", async () => { await null; throw new Error("later"); });
      });
      it("top", () => {});`);
    assert.deepEqual([summary.tests, summary.pass, summary.fail], [4, 2, 2]);
    assert.deepEqual(lines, ["ok s > passes", "not ok s > fails", "not ok s > fails async", "ok top"]);
  });

  it("fails the file when a file-level after hook rejects (a leak check at the end of a file)", () => {
    const { summary, lines } = runFile(`
      it("a", () => {});
      after(async () => { await null; throw new Error("leak"); });`);
    assert.equal(summary.fail, 1);
    assert.ok(lines.includes("not ok file: after hook"), lines.join("\n"));
  });

  it("runs t.after callbacks after the test, in the order added, before the next test; a failing one fails the test", () => {
    const { summary, stdout } = runFile(`
      const log = [];
      it("first", async (t) => { t.after(() => log.push("after 1")); t.after(() => log.push("after 2")); log.push("body"); });
      it("second", () => { log.push("second"); });
      it("third", (t) => { t.after(() => { throw new Error("cleanup failed"); }); });
      after(() => console.log("LOG " + log.join(",")));`);
    assert.ok(stdout.includes("LOG body,after 1,after 2,second"), stdout);
    assert.deepEqual([summary.pass, summary.fail], [2, 1]);
  });

  it("runs before/after/beforeEach/afterEach around a suite's tests, outer hooks outside inner ones", () => {
    const { summary, stdout } = runFile(`
      const log = [];
      beforeEach(() => log.push("outer+"));
      afterEach(() => log.push("outer-"));
      describe("s", () => {
        before(() => log.push("before"));
        after(() => log.push("after"));
        beforeEach(() => log.push("inner+"));
        afterEach(() => log.push("inner-"));
        it("t", () => log.push("t"));
      });
      after(() => console.log("LOG " + log.join(",")));`);
    assert.ok(stdout.includes("LOG before,outer+,inner+,t,inner-,outer-,after"), stdout);
    assert.equal(summary.pass, 1);
  });

  it("fails every test of a suite whose before hook fails", () => {
    const { summary } = runFile(`
      describe("s", () => {
        before(() => { throw new Error("no setup"); });
        it("a", () => {});
        it("b", () => {});
      });`);
    assert.deepEqual([summary.tests, summary.pass, summary.fail], [3, 0, 3]);
  });

  it("fails a test that outlives its timeout option, and aborts its signal", () => {
    const { summary, stdout } = runFile(`
      let aborted;
      it("hangs", { timeout: 50 }, (t) => new Promise((resolve) => t.signal.addEventListener("abort", () => { aborted = true; setTimeout(resolve, 10); })));
      after(() => console.log("ABORTED " + aborted));`);
    assert.equal(summary.fail, 1);
    assert.match(stdout, /test timed out after 50 ms/);
    assert.ok(stdout.includes("ABORTED true"), stdout);
  });

  it("fails the file on an unhandled rejection", () => {
    const { summary, stdout } = runFile(`it("leaves a rejection", () => { Promise.reject(new Error("dropped")); });`);
    assert.equal(summary.fail, 1);
    assert.match(stdout, /unhandled rejection: Error: dropped/);
  });

  it("runs a suite's tests at once with concurrency: true, one by one otherwise", () => {
    const waitForEachOther = `
        let release;
        const both = new Promise((resolve) => (release = resolve));
        let started = 0;
        const meet = () => { if (++started === 2) release(); return both; };`;
    const concurrent = runFile(`describe("s", { concurrency: true }, () => {${waitForEachOther}
        it("a", { timeout: 2000 }, meet);
        it("b", { timeout: 2000 }, meet);
      });`);
    assert.deepEqual([concurrent.summary.pass, concurrent.summary.fail], [2, 0]);
    const sequential = runFile(`describe("s", () => {${waitForEachOther}
        it("a", { timeout: 200 }, meet);
        it("b", { timeout: 200 }, meet);
      });`);
    // One by one, "a" waits alone until its timeout; "b" then finds it started and passes.
    assert.deepEqual(sequential.lines, ["not ok s > a", "ok s > b"]);
  });

  it("reports excluded tests as skipped with the reason, runs no hooks for a suite left empty, and names unmatched exclusions", () => {
    const { summary, lines } = runFile(
      `
      describe("needs a server", () => {
        before(() => { throw new Error("cannot listen"); });
        it("a", () => {});
        it("b", () => {});
      });
      describe("mixed", () => {
        it("runs", () => {});
        it("child process", () => { throw new Error("no child processes here"); });
      });`,
      `[{ test: /^needs a server > /, reason: "no sockets" }, { test: "mixed > child process", reason: "no processes" },
        { test: "renamed away", reason: "stale" }]`,
    );
    assert.deepEqual([summary.tests, summary.pass, summary.fail, summary.skip, summary.excluded], [4, 1, 0, 3, 3]);
    assert.deepEqual(summary.unmatchedExclusions, ["renamed away"]);
    assert.ok(lines.includes("skip needs a server > a # excluded: no sockets"), lines.join("\n"));
    assert.ok(lines.includes("skip mixed > child process # excluded: no processes"), lines.join("\n"));
  });

  it("refuses what it does not implement instead of passing it unrun", () => {
    const { summary, stdout } = runFile(`it("nested", (t) => t.test("inner", () => {}));`);
    assert.equal(summary.fail, 1);
    assert.match(stdout, /not supported/);
  });
});
