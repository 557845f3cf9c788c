import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { assertNoLeaks, detectLostCancel, type LostCancel } from "@lifeline/testing";

interface ChildReport {
  site: string;
  lost: LostCancel[];
  warnings: number;
}

/** child runs lost-cancel-child.js with --expose-gc (the test run itself needs no flags). */
function child(mode: string): Promise<{ report: ChildReport; stderr: string }> {
  const script = fileURLToPath(new URL("./lost-cancel-child.js", import.meta.url));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ["--expose-gc", script, mode], { timeout: 20_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`));
      else resolve({ report: JSON.parse(stdout) as ChildReport, stderr });
    });
  });
}

describe("detectLostCancel", () => {
  it("reports a context collected without cancel, with its creation site and test; not a cancelled or expired one", async () => {
    const { report } = await child("handler");
    assert.equal(report.lost.length, 1, JSON.stringify(report.lost));
    const [lost] = report.lost as [LostCancel];
    assert.equal(lost.what, "context.Background.WithCancel");
    assert.equal(lost.test, "gc test");
    assert.ok(lost.stack.split("\n")[0]!.includes(report.site + ":"), `expected ${report.site} in\n${lost.stack}`);
    assert.ok(lost.createdAt <= Date.now());
  });

  it("warns by default: a LostCancelWarning naming the context and where it was made", async () => {
    const { report, stderr } = await child("warning");
    assert.equal(report.warnings, 1);
    assert.match(stderr, /LostCancelWarning: lifeline: context\.Background\.WithCancel was garbage-collected without being cancelled \(in test "gc test"\)/);
    assert.ok(stderr.includes(`created at forget (${report.site}:`), stderr);
  });

  it("stops reporting once its stop function is called", async () => {
    const { report } = await child("stopped");
    assert.deepEqual(report.lost, []);
  });

  it("rejects a handler that is not a function", () => {
    assert.throws(() => detectLostCancel(42 as unknown as () => void), TypeError);
  });
});

after(() => assertNoLeaks());
