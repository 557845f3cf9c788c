// Runs every compiled test file (packages/*/dist-test/**/*.test.js) and examples/**/*.test.mjs with node:test, on whichever `node` is first
// on PATH. Node 20's `node --test` takes no globs, so we list the files ourselves.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";

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
const filter = process.argv.slice(2);
const selected = filter.length ? files.filter((f) => filter.some((s) => f.includes(s))) : files;
if (selected.length === 0) {
  console.error("test: no test files found; did the build run?");
  process.exit(1);
}
console.log(`node ${process.version}: ${selected.length} test files`);
const r = spawnSync(process.execPath, ["--test", "--test-reporter=spec", ...selected], { stdio: "inherit", cwd: root });
process.exit(r.status ?? 1);
