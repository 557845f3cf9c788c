// The report's Export step: the trends written as CSV in a fresh temporary directory, sorted and gzipped by an
// external program run through @lifeline/process (its own process group: when ctx ends, SIGTERM to the group,
// SIGKILL after the grace), and the directory removed whatever happens.
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "@lifeline/process";

/** The default export: sort by trend, steepest growth first, and gzip (a pipeline: two processes in one group). */
export const EXPORT_COMMAND = Object.freeze({ command: "sh", args: ["-c", "sort -t, -k4,4gr report.csv | gzip -9 > report.csv.gz"], graceMs: 500 });

/**
 * exportReport writes `trends` to report.csv in a new temp directory, runs `command` there (it should leave
 * report.csv.gz), and returns `{ bytes }` of report.csv.gz (0 if the command wrote none). `started(pid)` is
 * awaited once the command runs; `onStop` hears which rung stopped it when ctx ends first, and then it rejects
 * with ctx.err() once the process group is gone. The directory is always removed.
 */
export async function exportReport(ctx, trends, { command, args, graceMs }, started, onStop) {
  const dir = await mkdtemp(join(tmpdir(), "lifeline-report-"));
  try {
    const csv = trends.map((t) => `${t.customer},${t.months},${t.total.toFixed(2)},${t.slope.toFixed(4)},${t.low.toFixed(4)},${t.high.toFixed(4)}\n`);
    await writeFile(join(dir, "report.csv"), csv.join(""));
    const child = spawn(ctx, command, args, { cwd: dir, stdio: "ignore", graceMs, onStop });
    // Wait for the command even if telling the client fails (the ctx ended): the directory goes only after it.
    const [told, waited] = await Promise.allSettled([started(child.pid), child.wait()]);
    if (waited.status === "rejected") throw waited.reason;
    if (told.status === "rejected") throw told.reason;
    if (waited.value.exitCode !== 0) throw new Error(`export: ${command} exited with ${waited.value.exitCode ?? waited.value.signal}`);
    return { bytes: await stat(join(dir, "report.csv.gz")).then((s) => s.size, () => 0) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
