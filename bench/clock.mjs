// The cost of the time seam (issue 13 §3): every lifeline timer now reads the time and arms its timer through one
// installed Clock (packages/core/src/1-base/clock.ts) so that @lifeline/testing's virtual clock can drive it.
// With no virtual clock installed that must cost nothing: we bundle the core as it was just before the seam
// (BEFORE, from git) and as it is now (the working tree), both with esbuild, and time the same timer-heavy
// operations on each, in this one run, samples interleaved.
//
//   node --expose-gc bench/clock.mjs        # standalone
//   npm run bench -- --only=clock           # through bench/run.mjs
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * before returns the commit just before the seam: the parent of the oldest commit that added setClock to
 * internal/clock.ts, now 1-base/clock.ts (found by content, so it survives a rebase or a squash), or undefined without git history.
 */
function beforeCommit() {
  try {
    const git = (...args) => execFileSync("git", ["-C", root, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const added = git("log", "--format=%H", "-S", "export function setClock", "--", "packages/core/src/internal/clock.ts").split("\n").pop();
    return added ? git("rev-parse", "--short", `${added}^`) : undefined;
  } catch {
    return undefined;
  }
}

async function bundle(srcDir, outFile) {
  const esbuild = await import("esbuild");
  await esbuild.build({ entryPoints: [join(srcDir, "index.ts")], bundle: true, format: "esm", outfile: outFile, logLevel: "silent" });
  return import(pathToFileURL(outFile).href);
}

/** cores returns { before, after } (before undefined when the commit is not in this checkout) and a cleanup. */
async function cores() {
  const BEFORE = beforeCommit();
  const dir = mkdtempSync(join(tmpdir(), "lifeline-bench-clock-"));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    const after = await bundle(join(root, "packages/core/src"), join(dir, "after.mjs"));
    let before;
    try {
      if (BEFORE === undefined) throw new Error("no history");
      const tar = execFileSync("git", ["-C", root, "archive", BEFORE, "packages/core/src"], { stdio: ["ignore", "pipe", "ignore"], maxBuffer: 64 << 20 });
      execFileSync("tar", ["-x", "-C", dir], { input: tar });
      before = await bundle(join(dir, "packages/core/src"), join(dir, "before.mjs"));
    } catch {
      before = undefined; // a shallow clone without that commit: only "after" is measured
    }
    return { before, after, cleanup, BEFORE };
  } catch (error) {
    cleanup();
    throw error;
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** timeBoth returns the median ns/op of `make(core)(n)` for each core, samples interleaved, order alternating. */
async function timeBoth(make, list, n, samples = 15) {
  const fns = list.map(make);
  for (const fn of fns) await fn(Math.max(1, n >> 2)); // warm-up
  const per = fns.map(() => []);
  for (let s = 0; s < samples; s++) {
    const order = s % 2 === 0 ? fns.map((_, i) => i) : fns.map((_, i) => fns.length - 1 - i);
    for (const k of order) {
      const t0 = performance.now();
      await fns[k](n);
      per[k].push(((performance.now() - t0) * 1e6) / n);
    }
  }
  return per.map(median);
}

const CASES = [
  {
    name: "withTimeout(bg, 60 s) + cancel() (arms and clears a platform timer)",
    n: 100_000,
    make: (L) => (n) => {
      const bg = L.background();
      for (let i = 0; i < n; i++) L.withTimeout(bg, 60_000)[1]();
    },
  },
  {
    name: "remaining(ctx) on a context with a deadline (one clock read)",
    n: 2_000_000,
    make: (L) => {
      const [ctx] = L.withTimeout(L.background(), 3_600_000);
      let sink = 0;
      return (n) => {
        for (let i = 0; i < n; i++) sink += L.remaining(ctx);
        if (sink < 0) throw new Error("unreachable");
      };
    },
  },
  {
    name: "sleep(ctx, 60 s) armed, then its ctx cancelled (timer armed and cleared)",
    n: 50_000,
    make: (L) => async (n) => {
      const bg = L.background();
      for (let i = 0; i < n; i++) {
        const [ctx, cancel] = L.withCancel(bg);
        const p = L.sleep(ctx, 60_000);
        cancel();
        await p.catch(() => {});
      }
    },
  },
  {
    name: "sleep(bg, 0) × 20,000 at once, all resolved (timers armed and fired)",
    n: 20_000,
    make: (L) => async (n) => {
      const bg = L.background();
      const all = new Array(n);
      for (let i = 0; i < n; i++) all[i] = L.sleep(bg, 0);
      await Promise.all(all);
    },
  },
];

/** benchClock runs the section; `report` is bench/run.mjs's { section, row, verdict } or the standalone printer. */
export async function benchClock({ section, row, verdict }) {
  section("clock. the time seam (virtual-clock support) with no virtual clock installed: before vs after, ns/op");
  const { before, after, cleanup, BEFORE } = await cores();
  try {
    for (const c of CASES) {
      const list = before === undefined ? [after] : [after, before];
      const [a, b] = await timeBoth(c.make, list, c.n);
      const ratio = b === undefined ? undefined : a / b;
      row({
        bench: `clock: ${c.name}`,
        ours: `${a.toFixed(1)} ns`,
        peer: b === undefined ? "" : `core before the seam (${BEFORE}), same run`,
        peerValue: b === undefined ? "" : `${b.toFixed(1)} ns`,
        ratio: ratio === undefined ? "" : `${(b / a).toFixed(2)}×`,
        target: "≤ +10% (no cost when no virtual clock is installed)",
        result: ratio === undefined ? "" : verdict(ratio <= 1.1),
      });
    }
  } finally {
    cleanup();
  }
}

export const clockNotes = [
  "- clock: both cores are bundled by esbuild from source in this run: \"before\" is packages/core/src at the parent of",
  "  the commit that added setClock (git archive; skipped in a clone without that history), \"after\" the working",
  "  tree. 15 interleaved samples, order alternating, median. The ≤ +10% target is the margin of this machine's noise,",
  "  not a measured cost: the seam is one property read of the installed clock per time read or timer armed.",
];

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const row = (r) =>
    console.log(`  ${r.bench}: ${r.ours}${r.peer ? `  vs ${r.peer}: ${r.peerValue}` : ""}${r.ratio ? `  (${r.ratio})` : ""}${r.result ? `  [${r.result}]` : ""}`);
  await benchClock({ section: (t) => console.log(`\n== ${t}`), row, verdict: (ok) => (ok ? "PASS" : "MISS") });
  console.log(clockNotes.join("\n"));
}
