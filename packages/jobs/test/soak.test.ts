// The soak (bench/jobs-soak.mjs) in small: 3 worker processes, 30% random cancels from a 4th, one worker
// SIGKILLed and replaced; every check it makes is from Redis itself (see the script). SOAK_JOBS sets the size.
import { after, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { assertNoLeaks } from "@lifeline/testing";

interface SoakReport {
  jobs: number;
  cancelsSent: number;
  failedAsCanceled: number;
  completed: number;
  cancelAfterFinish: number;
  cancelRacedCompletion: number;
  failures: string[];
}

it("every job ends exactly once, in the right state; no stray keys; no task left on any worker", { timeout: 120_000 }, async () => {
  const script = fileURLToPath(new URL("../../../bench/jobs-soak.mjs", import.meta.url));
  const jobs = process.env.SOAK_JOBS ?? "120";
  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = execFile(process.execPath, [script], { env: { ...process.env, SOAK_JOBS: jobs }, maxBuffer: 16 << 20 }, (_e, out) =>
      resolve({ code: child.exitCode, stdout: out }),
    );
  });
  const report = JSON.parse(stdout) as SoakReport;
  assert.deepEqual(report.failures, []);
  assert.equal(code, 0);
  assert.equal(report.jobs, Number(jobs));
  assert.equal(report.failedAsCanceled + report.cancelRacedCompletion + report.cancelAfterFinish, report.cancelsSent, "every cancel is accounted for");
  assert.equal(report.failedAsCanceled + report.completed, report.jobs);
});

after(() => assertNoLeaks());
