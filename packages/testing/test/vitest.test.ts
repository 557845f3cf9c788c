// Runs the Vitest fixture suite (vitest-fixture/) in a child process and reads its JSON report: the Vitest
// entry is tested through Vitest itself.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assertNoLeaks } from "@lifeline/testing";

interface Assertion {
  title: string;
  status: "passed" | "failed" | "skipped" | "pending";
  failureMessages: string[];
}
interface FileResult {
  name: string;
  status: string;
  message: string;
  assertionResults: Assertion[];
}

const fixtureDir = fileURLToPath(new URL("../test/vitest-fixture/", import.meta.url));

async function runVitest(): Promise<Map<string, FileResult>> {
  const vitest = join(createRequire(import.meta.url).resolve("vitest/package.json"), "..", "vitest.mjs");
  const out = mkdtempSync(join(tmpdir(), "lifeline-vitest-"));
  const file = join(out, "report.json");
  try {
    await new Promise<void>((resolve, reject) => {
      execFile(
        process.execPath,
        [vitest, "run", "--root", fixtureDir, "--reporter=json", `--outputFile=${file}`],
        { timeout: 60_000, env: { ...process.env, CI: "true", NO_COLOR: "1" } },
        // Vitest exits 1: the fixture has failing tests on purpose.
        (error, _stdout, stderr) => (error && error.code !== 1 ? reject(new Error(`${error.message}\n${stderr}`)) : resolve()),
      );
    });
    const report = JSON.parse(readFileSync(file, "utf8")) as { testResults: FileResult[] };
    return new Map(report.testResults.map((r) => [r.name.slice(r.name.lastIndexOf("/") + 1), r]));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

describe("@lifeline/testing/vitest", () => {
  let results: Promise<Map<string, FileResult>> | undefined;
  const files = () => (results ??= runVitest());
  const test = async (file: string, title: string): Promise<Assertion> => {
    const r = (await files()).get(file);
    assert.ok(r, `no results for ${file}`);
    const a = r.assertionResults.find((x) => x.title === title);
    assert.ok(a, `no test "${title}" in ${file}: ${r.assertionResults.map((x) => x.title).join(", ")}`);
    return a;
  };

  it("setupLeakCheck fails a test that leaves a ticker armed, naming the test and the creation site", async () => {
    const a = await test("hooks.vitest.ts", "leaks a ticker");
    assert.equal(a.status, "failed");
    const m = a.failureMessages.join("\n");
    assert.match(m, /LeakError: 1 leak in test "leaks a ticker":/);
    assert.match(m, /ticker 100ms still armed/);
    assert.match(m, /created at .*hooks\.vitest\.ts:23:/);
  });

  it("setupLeakCheck fails a test that leaves a task blocked, with where it parks", async () => {
    const a = await test("hooks.vitest.ts", "leaks a task");
    assert.equal(a.status, "failed");
    const m = a.failureMessages.join("\n");
    assert.match(m, /LeakError: 1 leak in test "leaks a task":/);
    assert.match(m, /task \d+ "vitest-never-fed" blocked on chan recv/);
    assert.match(m, /created at .*hooks\.vitest\.ts:28:/);
    assert.match(m, /parked at .*hooks\.vitest\.ts:28:/);
  });

  it("setupLeakCheck passes clean tests, before and after a leaky one, and what beforeAll made", async () => {
    assert.equal((await test("hooks.vitest.ts", "clean")).status, "passed");
    assert.equal((await test("hooks.vitest.ts", "clean after a leaky one")).status, "passed");
    const file = (await files()).get("hooks.vitest.ts")!;
    assert.equal(file.message, "", "the afterAll check passed");
  });

  it("setupLeakCheck reports a leak under Vitest fake timers (faked Date and performance.now) instead of hanging", async () => {
    const a = await test("hooks.vitest.ts", "leaks a context under fake timers");
    assert.equal(a.status, "failed");
    const m = a.failureMessages.join("\n");
    assert.doesNotMatch(m, /timed out/i);
    assert.match(m, /LeakError: 1 leak in test "leaks a context under fake timers":\n {2}context never cancelled: /);
    // Its age is read on the real clock: the faked Date.now() starts at the fake's epoch, not at now.
    assert.match(m, /\(made \d+ms ago\)/);
  });

  it("leakCheck on test.concurrent gives each test only its own leaks", async () => {
    const a = await test("wrapped.vitest.ts", "concurrent A leaks a ticker");
    assert.equal(a.status, "failed");
    const m = a.failureMessages.join("\n");
    assert.match(m, /LeakError: 1 leak in test "concurrent A leaks a ticker":\n {2}ticker 50ms still armed/);
    assert.equal((await test("wrapped.vitest.ts", "concurrent B is clean")).status, "passed");
  });
});

after(() => assertNoLeaks());
