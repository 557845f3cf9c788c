// Child-process benchmark (issue 11): @lifeline/process beside Node's spawn({ signal }), same machine, same run.
//
//   node --expose-gc bench/process.mjs      # standalone
//   npm run bench -- --only=process         # through bench/run.mjs
//
// The command is `sh -c 'sleep 100 & sleep 100; wait'`: a shell and two children, what `npm run`, a shell
// wrapper or a build tool looks like. We cancel once all three run (seen in /proc) and time until the whole
// group is gone. Node's spawn({ signal }) signals the shell alone: we time until its 'exit', then count the
// sleeps still alive (orphans) and kill them ourselves.
import { spawn as nodeSpawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { background, withCancel } from "@lifeline/core";
import { spawn } from "@lifeline/process";

const SCRIPT = "sleep 100 & sleep 100; wait";
const GRACE_MS = 1000;

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const fmtMs = (ms) => (ms >= 10 ? `${ms.toFixed(1)} ms` : ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(0)} µs`);

/** procs returns the live (not zombie) processes as { pid, ppid, pgrp }. */
function procs() {
  const out = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (f[0] !== "Z") out.push({ pid: Number(name), ppid: Number(f[1]), pgrp: Number(f[2]) });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

async function until(what, cond, ms = 10_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function ours(n) {
  const times = [];
  const rungs = new Map();
  for (let i = 0; i < n; i++) {
    const [ctx, cancel] = withCancel(background());
    const child = spawn(ctx, "sh", ["-c", SCRIPT], { stdio: "ignore", graceMs: GRACE_MS });
    const pgid = child.pid;
    await until("the shell and both sleeps", () => procs().filter((p) => p.pgrp === pgid).length === 3);
    const t0 = performance.now();
    cancel();
    await child.wait().catch(() => {});
    times.push(performance.now() - t0);
    rungs.set(child.stoppedBy, (rungs.get(child.stoppedBy) ?? 0) + 1);
    const left = procs().filter((p) => p.pgrp === pgid);
    if (left.length > 0) throw new Error(`bench: ${left.length} processes left in the group after wait()`);
  }
  return { times, rungs };
}

async function node(n) {
  const times = [];
  let orphans = 0;
  for (let i = 0; i < n; i++) {
    const ac = new AbortController();
    const child = nodeSpawn("sh", ["-c", SCRIPT], { stdio: "ignore", signal: ac.signal });
    child.on("error", () => {}); // the AbortError
    const pid = child.pid;
    let kids = [];
    await until("the shell's two sleeps", () => (kids = procs().filter((p) => p.ppid === pid)).length === 2);
    const exited = new Promise((r) => child.once("exit", r));
    const t0 = performance.now();
    ac.abort();
    await exited;
    times.push(performance.now() - t0);
    const alive = new Set(procs().map((p) => p.pid));
    for (const k of kids) {
      if (alive.has(k.pid)) {
        orphans++;
        try {
          process.kill(k.pid, "SIGKILL"); // clean up what Node left behind
        } catch {
          // gone meanwhile
        }
      }
    }
  }
  return { times, orphans };
}

/** benchProcess runs the section; `report` is bench/run.mjs's { section, row, verdict } or the standalone printer. */
export async function benchProcess({ section, row, verdict }) {
  section("process. @lifeline/process vs spawn({ signal }): cancel → process group gone");
  const N = 40;
  const o = await ours(N);
  const p = await node(N);
  const p99 = pct(o.times, 99);
  row({
    bench: `process: cancel → group gone (sh + 2 sleeps), p50 / p99 (${N} runs, graceMs ${GRACE_MS})`,
    ours: `${fmtMs(pct(o.times, 50))} / ${fmtMs(p99)}; ${[...o.rungs].map(([k, v]) => `${v}× ${k}`).join(", ")}; 0 left`,
    peer: "spawn({signal}): abort → shell 'exit', p50 / p99; orphaned sleeps",
    peerValue: `${fmtMs(pct(p.times, 50))} / ${fmtMs(pct(p.times, 99))}; ${p.orphans} of ${2 * N} orphaned`,
    target: `p99 ≤ grace + 10 ms`,
    result: verdict(p99 <= GRACE_MS + 10),
  });
}

export const processNotes = [
  "- process: `sh -c 'sleep 100 & sleep 100; wait'`, cancelled once the shell and both sleeps show in /proc. Ours",
  "  is timed to wait()'s rejection, which comes only when nothing in the group is alive (zombies aside; checked",
  "  again in /proc after each run). Node's is timed to the shell's 'exit'; the sleeps it leaves are counted as",
  "  orphans (then killed by the bench). SIGTERM stops `sleep`, so every run of ours ends on the first rung.",
];

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const row = (r) =>
    console.log(`  ${r.bench}: ${r.ours}${r.peer ? `  vs ${r.peer}: ${r.peerValue}` : ""}${r.ratio ? `  (${r.ratio})` : ""}${r.result ? `  [${r.result}]` : ""}`);
  await benchProcess({ section: (t) => console.log(`\n== ${t}`), row, verdict: (ok) => (ok ? "PASS" : "MISS") });
  console.log(processNotes.join("\n"));
}
