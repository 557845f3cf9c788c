// Where a server's CPU time per request goes, with and without lifeline: runs bench/http-server.mjs under
// `node --cpu-prof` while wrk loads it, then prints self time per request (µs) by origin and by function, and
// the difference between the two variants. Not part of `npm run bench`; a tool for finding adapter costs:
//
//   flock /work/wt/bench.lock node bench/http-profile.mjs express [bare ours] [--seconds=5] [--top=25]
//
// Profiles are left in a temporary directory (printed) for a closer look (e.g. Chrome DevTools).
import { execFileSync, fork, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const flag = (name, fallback) => Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
const [framework = "node", ...rest] = args.filter((a) => !a.startsWith("--"));
const variants = rest.length > 0 ? rest : ["bare", "ours"];
const seconds = flag("seconds", 5);
const top = flag("top", 25);
// Few connections: a saturated 2-CPU machine starves V8's sampler thread, whose samples then land where the
// server enters the kernel (writev) instead of where its time goes.
const connections = flag("connections", 1);
const interval = flag("interval", 100);
const dir = mkdtempSync(join(tmpdir(), "http-profile-"));

// --perf: sample with Linux perf instead (kernel timer, not starved by a busy CPU; sees kernel time too), the
// server run with --perf-basic-prof so JIT-compiled JavaScript has names. Needs perf and root (or a low
// perf_event_paranoid).
const usePerf = args.includes("--perf");
const HZ = 1999;

async function profile(variant) {
  const name = `${framework}-${variant}.cpuprofile`;
  const child = fork(fileURLToPath(new URL("http-server.mjs", import.meta.url)), [framework, variant], {
    execArgv: usePerf ? ["--perf-basic-prof"] : ["--cpu-prof", `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}`, `--cpu-prof-interval=${interval}`],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const { port } = await new Promise((resolve) => child.once("message", resolve));
  const url = `http://127.0.0.1:${port}/`;
  const warm = execFileSync("wrk", ["-t1", `-c${connections}`, "-d1s", url], { encoding: "utf8" }); // warm-up, profiled too
  let rec;
  const data = join(dir, `${framework}-${variant}.perf`);
  if (usePerf) {
    rec = spawn("perf", ["record", "-F", String(HZ), "-o", data, "-p", String(child.pid)], { stdio: ["ignore", "ignore", "inherit"] });
    await new Promise((resolve) => setTimeout(resolve, 300)); // perf attached
  }
  const out = execFileSync("wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, url], { encoding: "utf8" });
  if (usePerf) {
    const done = new Promise((resolve) => rec.once("exit", resolve));
    rec.kill("SIGINT");
    await done;
  }
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.disconnect();
  await exited;
  if (usePerf) return { variant, requests: Number(/(\d+) requests in/.exec(out)[1]), perf: perfTimes(data) };
  const requests = Number(/(\d+) requests in/.exec(out)[1]) + Number(/(\d+) requests in/.exec(warm)[1]);
  return { variant, requests, ...selfTimes(JSON.parse(readFileSync(join(dir, name), "utf8"))) };
}

function origin(url) {
  if (url === "") return "(native/vm)";
  if (url.includes("/packages/http/")) return "@lifeline/http";
  if (url.includes("/packages/core/")) return "@lifeline/core";
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m !== null) return m[1];
  if (url.startsWith("node:")) return url;
  return url.replace(/^file:\/\/.*\//, "");
}

/** selfTimes sums each node's self time (µs), keyed by function and by origin; the profile's own samples. */
function selfTimes(prof) {
  const dt = new Map();
  for (let i = 0; i < prof.samples.length; i++) dt.set(prof.samples[i], (dt.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i + 1] ?? 0));
  const byFn = new Map();
  const byOrigin = new Map();
  for (const n of prof.nodes) {
    const t = dt.get(n.id) ?? 0;
    if (t === 0) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const o = functionName.startsWith("(") && url === "" ? functionName : origin(url);
    const key = `${functionName || "(anonymous)"} ${o}:${lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + t);
    byOrigin.set(o, (byOrigin.get(o) ?? 0) + t);
  }
  return { byFn, byOrigin };
}

/** perfTimes reads a perf recording: self time (µs) per symbol and per origin (the JS file, the DSO, or the kernel). */
function perfTimes(data) {
  const out = execFileSync("perf", ["report", "-i", data, "--stdio", "--no-children", "--sort", "dso,sym", "-g", "none", "--percent-limit", "0"], { encoding: "utf8", maxBuffer: 1 << 28 });
  const totalUs = Number(/# Event count \(approx\.\): (\d+)/.exec(out)?.[1] ?? 0) / 1000; // cpu-clock: ns
  const byFn = new Map();
  const byOrigin = new Map();
  for (const line of out.split("\n")) {
    const m = /^\s+([\d.]+)%\s+(.+?)\s+\[(.)\]\s+(.*)$/.exec(line);
    if (m === null) continue;
    const t = (Number(m[1]) / 100) * totalUs;
    const [, , dso, level, sym] = m;
    let o = level === "k" ? "(kernel)" : dso.startsWith("[JIT]") ? "(JIT, unnamed)" : dso;
    const js = /(?:file:\/\/|node:)\S+/.exec(sym);
    if (js !== null) o = origin(js[0].replace(/:\d+(:\d+)?$/, ""));
    const key = `${sym.trim().slice(0, 110)} [${o}]`;
    byFn.set(key, (byFn.get(key) ?? 0) + t);
    byOrigin.set(o, (byOrigin.get(o) ?? 0) + t);
  }
  return { byFn, byOrigin };
}

const runs = [];
for (const v of variants) runs.push(await profile(v));
console.log(`profiles in ${dir}; self time in µs per request (${seconds} s of wrk -t1 -c${connections} each, sampled every ${interval} µs)`);
const tables = runs.map((r) => ({ ...r, ...(r.perf ?? {}) }));
const per = (t, r) => t / r.requests;
for (const kind of ["byOrigin", "byFn"]) {
  const keys = new Set(tables.flatMap((t) => [...t[kind].keys()]));
  const rows = [...keys].map((k) => ({ k, v: tables.map((t) => per(t[kind].get(k) ?? 0, t)) }));
  const idle = (k) => k.startsWith("(idle)");
  rows.sort((a, b) => Math.abs(b.v.at(-1) - b.v[0]) - Math.abs(a.v.at(-1) - a.v[0]));
  console.log(`\n${kind === "byOrigin" ? "by origin" : "by function"}: ${variants.join(" | ")} | last − first`);
  for (const { k, v } of rows.slice(0, kind === "byOrigin" ? 40 : top)) {
    if (idle(k)) continue;
    console.log(`${v.map((x) => x.toFixed(2).padStart(7)).join(" ")} ${(v.at(-1) - v[0]).toFixed(2).padStart(7)}  ${k}`);
  }
  if (kind === "byOrigin") {
    const total = tables.map((t) => per([...t.byOrigin].reduce((s, [k, x]) => s + (idle(k) ? 0 : x), 0), t));
    console.log(`${total.map((x) => x.toFixed(2).padStart(7)).join(" ")} ${(total.at(-1) - total[0]).toFixed(2).padStart(7)}  total (idle excluded); requests ${tables.map((t) => t.requests).join(" / ")}`);
  }
}
