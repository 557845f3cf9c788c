// Runs each example as its own process and checks what it prints: the examples are the seeds' programs, and
// this is the proof that they behave as the seeds describe.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";

const dir = new URL(".", import.meta.url).pathname;

/** run starts an example; `onLine` may act on each line of output (e.g. send a signal). */
function run(file, onLine = () => {}) {
  const child = spawn(process.execPath, [dir + file], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let pending = "";
  child.stdout.setEncoding("utf8").on("data", (chunk) => {
    out += chunk;
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf("\n")) >= 0) {
      onLine(pending.slice(0, nl), child);
      pending = pending.slice(nl + 1);
    }
  });
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (chunk) => (err += chunk));
  const killer = setTimeout(() => child.kill("SIGKILL"), 20_000); // bounded: never hang the suite
  return once(child, "exit").then(([code, signal]) => {
    clearTimeout(killer);
    return { code, signal, lines: out.split("\n").filter(Boolean), stderr: err };
  });
}

describe("examples", { concurrency: true }, () => {
  it("worker.mjs prints Working... until cancelled, then Worker stopped", async () => {
    const { code, lines, stderr } = await run("worker.mjs");
    assert.equal(code, 0, stderr);
    assert.ok(lines.length >= 2, lines.join("\n"));
    assert.ok(lines.slice(0, -1).every((l) => l === "Working..."), lines.join("\n"));
    assert.equal(lines.at(-1), "Worker stopped");
  });

  it("poller.mjs polls, stops when cancelled and reports through its done channel", async () => {
    const { code, lines, stderr } = await run("poller.mjs");
    assert.equal(code, 0, stderr);
    // Polls at 500 and 1000 ms, cancelled at 1200 ms: two polls, give or take one on a loaded machine.
    assert.ok(lines.length >= 2 && lines.slice(0, -1).every((l) => l === "Polling..."), lines.join("\n"));
    assert.equal(lines.at(-1), "Goroutine stopped cleanly");
  });

  it("jobs.mjs stops pulling on shutdown but finishes the job in hand", async () => {
    const { code, lines, stderr } = await run("jobs.mjs");
    assert.equal(code, 0, stderr);
    const started = lines.filter((l) => l.startsWith("Processing:")).map((l) => l.slice(12));
    const finished = lines.filter((l) => l.startsWith("Finished:")).map((l) => l.slice(10));
    assert.ok(started.length >= 1 && started.length < 5, lines.join("\n"));
    assert.deepEqual(finished, started, "every job it started, it finished");
    assert.equal(lines.at(-2), "Worker shutting down");
    assert.equal(lines.at(-1), `Jobs left unprocessed: ${5 - started.length}`);
  });

  it("graceful.mjs drains on Ctrl-C: in-flight jobs finish, then every worker exits", async () => {
    let signalled = false;
    const { code, lines, stderr } = await run("graceful.mjs", (line, child) => {
      if (!signalled && line.startsWith("Finished")) {
        signalled = true;
        child.kill("SIGINT");
      }
    });
    assert.equal(code, 0, stderr);
    const drainAt = lines.findIndex((l) => l.startsWith("received SIGINT: draining"));
    assert.ok(drainAt > 0, lines.join("\n"));
    const inFlight = lines
      .slice(0, drainAt)
      .filter((l) => l.startsWith("Processing"))
      .filter((l) => !lines.slice(0, drainAt).includes(l.replace("Processing", "Finished")));
    const after = lines.slice(drainAt + 1);
    assert.ok(!after.some((l) => l.startsWith("Processing")), "no new job after the signal");
    for (const p of inFlight) assert.ok(after.includes(p.replace("Processing", "Finished")), `${p} finished`);
    assert.match(lines.at(-1), /^All workers exited: \d+ completed, 0 failed, 0 aborted$/);
  });

  it("graceful.mjs exits at once on a second Ctrl-C", async () => {
    let sent = 0;
    const { code, stderr } = await run("graceful.mjs", (line, child) => {
      if (sent === 0 && line.startsWith("Processing")) {
        sent = 1;
        child.kill("SIGINT");
      } else if (sent === 1 && line.startsWith("received SIGINT")) {
        sent = 2;
        child.kill("SIGINT");
      }
    });
    assert.equal(sent, 2);
    assert.equal(code, 130);
    assert.match(stderr, /received SIGINT again while draining: exiting now/);
  });
});
