// Runs every compiled test file (packages/*/dist-test/**/*.test.js), examples/**/*.test.mjs and scripts/**/*.test.mjs
// with node:test, on whichever `node` is first on PATH. Node 20's `node --test` takes no globs, so we list the files
// ourselves.
//
//   node scripts/test.mjs [substring…]   only the files whose path contains one of the substrings
//
// First it sets up what the selected tests need (scripts/test-setup.mjs): Chromium for a browser test, PostgreSQL and
// Redis through scripts/start-services.sh, installing them when missing and allowed (root or sudo -n); otherwise it
// says what to run as root and exits with code 3 before any test runs. LIFELINE_TEST_SETUP=0 skips the set-up.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";
import { ensureChromium, ensureServices, SetupError } from "./test-setup.mjs";

const root = new URL("..", import.meta.url).pathname;
const files = [];
function walk(dir, suffix) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, suffix);
    else if (name.endsWith(suffix)) files.push(path);
  }
}
for (const pkg of readdirSync(join(root, "packages"))) {
  const dir = join(root, "packages", pkg, "dist-test");
  if (existsSync(dir)) walk(dir, ".test.js");
}
// The examples are plain JS programs; their tests sit beside them (examples/**/*.test.mjs).
walk(join(root, "examples"), ".test.mjs");
// The repository's own checks (the README's samples, the dependencies' engines, the test set-up).
walk(join(root, "scripts"), ".test.mjs");
const filter = process.argv.slice(2);
const selected = filter.length ? files.filter((f) => filter.some((s) => f.includes(s))) : files;
if (selected.length === 0) {
  console.error("test: no test files found; did the build run?");
  process.exit(1);
}
if (process.env.LIFELINE_TEST_SETUP !== "0") {
  try {
    if (selected.some((f) => f.endsWith("browser.test.mjs"))) ensureChromium(root);
    ensureServices(root);
  } catch (error) {
    if (!(error instanceof SetupError)) throw error;
    console.error(error.message);
    process.exit(error.exitCode);
  }
}
console.log(`node ${process.version}: ${selected.length} test files`);
const r = spawnSync(process.execPath, ["--test", "--test-reporter=spec", ...selected], { stdio: "inherit", cwd: root });
process.exit(r.status ?? 1);
