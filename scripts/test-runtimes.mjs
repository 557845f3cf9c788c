// Runs the core's compiled tests (packages/core/dist-test, from `npm run build`) on the runtimes besides Node that
// @lifeline/core promises: Deno 2 (the newest, and 2.7), Bun 1 and headless Chromium.
//
//   node scripts/test-runtimes.mjs                   # all of them
//   node scripts/test-runtimes.mjs deno bun          # some
//   node scripts/test-runtimes.mjs chromium -- chan  # only test files whose name contains "chan"
//
// deno@2.7 is the newest Deno whose setTimeout returns a number rather than a Timeout object (2.8 changed it): the
// core unrefs such a timer through Deno.unrefTimer, and this run is what tests that path.
//
// Every runtime runs the same files with the same runner, scripts/runtimes/node-test.mjs (a node:test stand-in;
// why not the runtimes' own node:test is said there), one process (or page) per file, as `node --test` does:
// - Deno and Bun run a copy of dist-test in .cache/runtimes/core-test/ whose `node:test` imports point at that
//   runner; every other node: module is the runtime's own (node:assert, node:child_process…). Deno and Bun come
//   from npm (scripts/install-runtime.sh, cached in .cache/).
// - Chromium runs one esbuild bundle per file (browser platform), node: modules replaced by the small browser
//   versions in scripts/runtimes/browser/ (assert, process, events, timers…), served from 127.0.0.1 and driven by
//   playwright-core with Debian's /usr/bin/chromium (scripts/install-chromium.sh).
// Tests a runtime cannot run are listed with reasons in scripts/runtimes/exclusions.mjs. Exit status 1 if any test
// fails, a file does not finish, or an exclusion matches nothing.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "packages/core/dist-test");
const work = join(root, ".cache/runtimes");
const mirror = join(work, "core-test");
const runner = join(root, "scripts/runtimes/node-test.mjs");
const CHROMIUM = "/usr/bin/chromium";
const FILE_TIMEOUT_MS = 60_000; // the slowest file takes ~8 s here
const RUNTIMES = ["deno", "deno@2.7", "bun", "chromium"];

const argv = process.argv.slice(2);
const dash = argv.indexOf("--");
const chosen = dash === -1 ? argv : argv.slice(0, dash);
const filters = dash === -1 ? [] : argv.slice(dash + 1);
for (const r of chosen) {
  if (!RUNTIMES.includes(r)) {
    console.error(`test-runtimes: unknown runtime ${JSON.stringify(r)} (know: ${RUNTIMES.join(", ")})`);
    process.exit(2);
  }
}
const runtimes = chosen.length > 0 ? chosen : RUNTIMES;

// ---- the copy of dist-test with node:test pointed at the runner --------------------------------------------------

// Test files of our own for Chromium, run beside the core's: *.browser-test.mjs (not *.test.mjs, which Node's test
// run would pick up).
const EXTRA_FILES = ["fetch.browser-test.mjs"];

function prepareMirror() {
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`npm run build\` first`);
  rmSync(mirror, { recursive: true, force: true });
  mkdirSync(mirror, { recursive: true });
  const files = [];
  for (const name of readdirSync(dist, { recursive: true })) {
    const from = join(dist, name);
    if (!name.endsWith(".js")) continue;
    const to = join(mirror, name);
    mkdirSync(dirname(to), { recursive: true });
    // The source map would map stacks back to packages/core/test/*.ts, which a test comparing a stack with its own
    // file name (task.test) does not expect: the copy runs as the plain JS it is.
    writeFileSync(to, redirect(readFileSync(from, "utf8").replace(/^\/\/# sourceMappingURL=.*$/m, ""), from, to));
    if (name.endsWith(".test.js")) files.push(name);
  }
  for (const name of EXTRA_FILES) {
    const text = readFileSync(join(root, "scripts/runtimes", name), "utf8");
    writeFileSync(join(mirror, name.replace(/\.mjs$/, ".js")), redirect(text, join(root, "scripts/runtimes", name), join(mirror, name)));
  }
  const pick = (list) => (filters.length ? list.filter((f) => filters.some((s) => f.includes(s))) : list).sort();
  const core = pick(files);
  const extra = pick(EXTRA_FILES.map((name) => name.replace(/\.mjs$/, ".js")));
  if (core.length + extra.length === 0) throw new Error(`no test files in ${dist}${filters.length ? ` matching ${filters.join(", ")}` : ""}`);
  return { core, extra };
}

// redirect points a test file's node:test imports at the runner, for the copy at `to`.
function redirect(text, from, to = from) {
  let spec = relative(dirname(to), runner);
  if (!spec.startsWith(".")) spec = `./${spec}`;
  const out = text.replaceAll(/(from\s*)(["'])node:test\2/g, `$1${JSON.stringify(spec)}`);
  if (/["']node:test["']/.test(out)) throw new Error(`${from}: a node:test import the copy could not redirect`);
  return out;
}

// entry writes the module that runs one test file (it sits beside the file): exclusions, the file, then the runner.
function entry(runtime, file) {
  const from = (path) => {
    const spec = relative(dirname(join(mirror, file)), path);
    return JSON.stringify(spec.startsWith(".") ? spec : `./${spec}`);
  };
  return [
    // In the browser, Node's globals first: @lifeline/testing captures setImmediate when it loads.
    ...(runtime === "chromium" ? [`import ${from(join(browser, "globals.mjs"))};`] : []),
    `import { exclude, run } from ${from(runner)};`,
    `import { exclusionsFor } from ${from(join(root, "scripts/runtimes/exclusions.mjs"))};`,
    `exclude(exclusionsFor(${JSON.stringify(runtime)}, ${JSON.stringify(file)}));`,
    `await import(${JSON.stringify(`./${basename(file)}`)});`,
    `await run();`,
  ].join("\n");
}

// ---- results -------------------------------------------------------------------------------------------------------

const SUMMARY = "#runtimes-summary ";

// verdict reads a file's output: its summary, and what is wrong with the run if anything.
function verdict(file, output, exit) {
  const line = output.split("\n").findLast((l) => l.startsWith(SUMMARY));
  if (line === undefined) return { file, ok: false, problem: `no summary (${exit})`, tests: 0, pass: 0, fail: 0, skip: 0, excluded: 0 };
  const s = JSON.parse(line.slice(SUMMARY.length));
  const problems = [];
  if (s.tests === 0) problems.push("no tests ran");
  if (s.fail > 0) problems.push(`${s.fail} failed`);
  if (s.unmatchedExclusions.length) problems.push(`exclusions that match no test: ${s.unmatchedExclusions.join("; ")}`);
  if (exit !== "exit 0") problems.push(`ended with ${exit}`);
  return { file, ok: problems.length === 0, problem: problems.join(", "), ...s };
}

// ---- Deno and Bun ----------------------------------------------------------------------------------------------------

function runProcess(command, args, env) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (output += d));
    child.stderr.setEncoding("utf8").on("data", (d) => (output += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), FILE_TIMEOUT_MS);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ output, exit: signal ? `signal ${signal}${signal === "SIGKILL" ? ` (killed after ${FILE_TIMEOUT_MS} ms)` : ""}` : `exit ${code}` });
    });
  });
}

function install(runtime, version) {
  return new Promise((resolve, reject) => {
    const args = [join(root, "scripts/install-runtime.sh"), runtime, ...(version ? [version] : [])];
    const child = spawn("bash", args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
    child.on("close", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`install-runtime.sh ${runtime}: exit ${code}`))));
  });
}

async function runCli(runtime, files) {
  const [kind, version] = runtime.split("@");
  const bin = await install(kind, version);
  const name = `${kind} ${(await runProcess(bin, ["--version"], {})).output.trim().replace(/^deno /, "").split(/\s/)[0]}`;
  const env = kind === "deno" ? { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1", DENO_DIR: join(root, ".cache/deno-dir") } : { NO_COLOR: "1" };
  const results = [];
  for (const file of files) {
    const path = join(mirror, file.replace(/\.js$/, `.${runtime.replace("@", "-")}-entry.mjs`));
    writeFileSync(path, entry(runtime, file));
    const args = kind === "deno" ? ["run", "--allow-all", "--no-check", path] : [path];
    const { output, exit } = await runProcess(bin, args, env);
    results.push(report(runtime, file, output, exit));
  }
  if (kind === "deno" && filters.length === 0) {
    // The suite runs with --allow-all (its tests start child processes); the core itself must need no permission.
    const file = "scripts/runtimes/no-permissions.deno-test.mjs";
    const { output, exit } = await runProcess(bin, ["run", "--no-prompt", "--no-check", join(root, file)], env);
    results.push(report(runtime, basename(file), output, exit));
  }
  return { version: name, results };
}

// ---- Chromium --------------------------------------------------------------------------------------------------------

// The node: modules the core's tests import, and what the browser bundle gets instead.
const browser = join(root, "scripts/runtimes/browser");
const browserModules = {
  "node:assert/strict": join(browser, "assert.mjs"),
  "node:assert": join(browser, "assert.mjs"),
  "node:async_hooks": join(browser, "async-hooks.mjs"),
  "node:events": join(browser, "events.mjs"),
  "node:timers/promises": join(browser, "timers-promises.mjs"),
  "node:path": join(browser, "path-url-module.mjs"),
  "node:url": join(browser, "path-url-module.mjs"),
  "node:module": join(browser, "path-url-module.mjs"),
};
// Node-only modules: every export the tests import throws a NodeOnlyError when called.
const nodeOnlyModules = {
  "node:child_process": ["spawn", "spawnSync", "exec", "execFile", "execSync", "execFileSync", "fork"],
  "node:fs": ["existsSync", "mkdtempSync", "mkdirSync", "readFileSync", "rmSync", "writeFileSync", "readdirSync", "statSync"],
  "node:os": ["tmpdir", "cpus", "platform"],
  "node:http": ["createServer", "request", "get"],
  "node:net": ["createServer", "connect"],
};

function browserPlugin() {
  return {
    name: "lifeline-browser-node-modules",
    setup(build) {
      build.onResolve({ filter: /^node:/ }, (args) => {
        if (browserModules[args.path]) return { path: browserModules[args.path] };
        if (nodeOnlyModules[args.path]) return { path: args.path, namespace: "node-only" };
        return { errors: [{ text: `${args.path}: no browser version (add one to scripts/test-runtimes.mjs)` }] };
      });
      build.onLoad({ filter: /.*/, namespace: "node-only" }, (args) => ({
        contents: [
          `import { nodeOnly } from ${JSON.stringify(join(browser, "node-only.mjs"))};`,
          ...nodeOnlyModules[args.path].map((name) => `export const ${name} = nodeOnly(${JSON.stringify(`${args.path} ${name}`)});`),
        ].join("\n"),
        resolveDir: browser,
      }));
    },
  };
}

async function bundle(files) {
  const esbuild = await import("esbuild");
  const out = join(work, "browser");
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const entryPoints = {};
  for (const file of files) {
    const path = join(mirror, file.replace(/\.js$/, ".chromium-entry.mjs"));
    writeFileSync(path, entry("chromium", file));
    entryPoints[file.replace(/\.js$/, "")] = path;
  }
  await esbuild.build({
    entryPoints,
    outdir: out,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    // support.js resolves "@lifeline/core" at load, for the child processes a browser cannot start: see globals.mjs.
    define: { "import.meta.resolve": "importMetaResolve" },
    inject: [join(browser, "globals.mjs")],
    plugins: [browserPlugin()],
    logLevel: "warning",
  });
  return out;
}

// serve serves the bundles, and for fetch.browser-test the endpoints it describes: /never, /count.
function serve(dir) {
  const seen = { arrived: 0, closed: 0 };
  const waiting = new Set();
  const wake = () => {
    for (const w of waiting) if (seen.arrived >= w.arrived && seen.closed >= w.closed) w.answer();
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (url.pathname === "/never") {
      seen.arrived++;
      req.socket.once("close", () => {
        seen.closed++;
        wake();
      });
      wake();
      return; // never answer
    }
    if (url.pathname === "/count") {
      const w = {
        arrived: Number(url.searchParams.get("arrived")),
        closed: Number(url.searchParams.get("closed")),
        answer() {
          waiting.delete(w);
          res.writeHead(200, { "content-type": "text/plain" }).end(JSON.stringify(seen));
        },
      };
      waiting.add(w);
      req.once("close", () => waiting.delete(w));
      wake();
      return;
    }
    if (url.pathname === "/favicon.ico") {
      res.writeHead(204).end();
      return;
    }
    if (url.pathname === "/") {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<!doctype html><title>lifeline core tests</title>");
      return;
    }
    const path = join(dir, url.pathname);
    if (!path.startsWith(dir) || !existsSync(path)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/javascript" });
    res.end(readFileSync(path));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

async function runChromium(files) {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`bash scripts/install-chromium.sh\` (as root) first`);
  const out = await bundle(files);
  const { chromium } = await import("playwright-core");
  const server = await serve(out);
  const base = `http://127.0.0.1:${server.address().port}`;
  const browserApp = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    timeout: 30_000,
  });
  const results = [];
  try {
    const version = `Chromium ${browserApp.version()}`;
    for (const file of files) {
      const context = await browserApp.newContext();
      const page = await context.newPage();
      let output = "";
      let done;
      const finished = new Promise((resolve) => (done = resolve));
      page.on("console", (message) => {
        output += `${message.text()}\n`;
        if (message.text().startsWith(SUMMARY)) done("exit 0");
      });
      page.on("pageerror", (error) => {
        output += `page error: ${error.stack ?? error}\n`;
        done("page error");
      });
      await page.goto(`${base}/`);
      await page.addScriptTag({ type: "module", url: `${base}/${file}` });
      let timer;
      const exit = await Promise.race([finished, new Promise((resolve) => (timer = setTimeout(resolve, FILE_TIMEOUT_MS, `no end after ${FILE_TIMEOUT_MS} ms`)))]);
      clearTimeout(timer);
      await context.close();
      results.push(report("chromium", file, output, exit));
    }
    return { version, results };
  } finally {
    await browserApp.close();
    server.closeAllConnections();
    server.close();
  }
}

// ---- main --------------------------------------------------------------------------------------------------------------

const verbose = process.env.RUNTIMES_VERBOSE === "1";

function report(runtime, file, output, exit) {
  const v = verdict(file, output, exit);
  if (!v.ok || verbose) {
    process.stdout.write(`---- ${runtime} ${file} ----\n${output.split("\n").filter((l) => verbose || !l.startsWith("ok ")).join("\n")}\n`);
  } else {
    // Skipped and excluded tests are always named, with their reasons.
    for (const line of output.split("\n")) if (line.startsWith("skip ")) console.log(`      ${line}`);
  }
  console.log(`${v.ok ? "PASS" : "FAIL"}  ${runtime.padEnd(8)} ${file.padEnd(22)} ${v.pass}/${v.tests} passed, ${v.skip} skipped${v.ok ? "" : `: ${v.problem}`}`);
  return v;
}

// The runner and the browser's assert are checked first, on Node, against node:test and node:assert.
function selfTest() {
  const tests = ["scripts/runtimes/node-test.test.mjs", "scripts/runtimes/assert.test.mjs"].map((f) => join(root, f));
  const r = spawnSync(process.execPath, ["--test", "--test-reporter=dot", ...tests], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) {
    process.stdout.write(r.stdout + r.stderr);
    console.error("test-runtimes: the runner's or the browser assert's own tests failed");
    process.exit(1);
  }
  console.log("test-runtimes: the runner's and the browser assert's own tests pass");
}

selfTest();
const { core: files, extra } = prepareMirror();
console.log(`test-runtimes: ${files.length} core test files on ${runtimes.join(", ")}${extra.length ? `; in Chromium also ${extra.join(", ")}` : ""}`);
let failed = false;
const lines = [];
for (const runtime of runtimes) {
  const t0 = performance.now();
  let outcome;
  try {
    outcome = runtime === "chromium" ? await runChromium([...files, ...extra]) : await runCli(runtime, files);
  } catch (error) {
    console.error(`FAIL  ${runtime}: ${error.stack ?? error}`);
    failed = true;
    lines.push(`FAIL  ${runtime}: ${error.message}`);
    continue;
  }
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  const sum = (key) => outcome.results.reduce((n, r) => n + r[key], 0);
  const bad = outcome.results.filter((r) => !r.ok);
  if (bad.length) failed = true;
  lines.push(
    `${bad.length ? "FAIL" : "PASS"}  ${outcome.version}: ${sum("pass")}/${sum("tests")} passed, ${sum("fail")} failed, ` +
      `${sum("excluded")} excluded, ${sum("skip") - sum("excluded")} skipped; ${outcome.results.length} files in ${seconds} s` +
      (bad.length ? `; failing: ${bad.map((r) => r.file).join(", ")}` : ""),
  );
}
console.log(`\n${lines.join("\n")}`);
process.exit(failed ? 1 : 0);
