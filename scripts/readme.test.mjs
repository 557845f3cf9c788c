// The README's code samples, compiled with the repository's strict tsconfig and run, so that they cannot drift from
// the code. A sample joins by the word after its fence's language:
//
//   ```ts run        compiled (tsconfig.base.json, strict) and run with node: it must exit 0 within 30 s; when the
//                    next block is ```text output, its stdout must be exactly that text
//   ```ts check      compiled only (it needs something the test does not have: the network, your own code)
//   ```ts fragment   neither: a piece that cannot compile alone (e.g. three alternative imports of one name)
//
// Every ```ts block must carry one of the three, so a new section cannot add an unchecked sample by accident.
// A sample is a module of its own: it imports what it uses (declare what the reader supplies, e.g.
// `declare function handle(ctx: Context, job: Job): Promise<void>;`). Errors are reported at README.md lines.
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const README = "README.md";
const work = join(root, ".cache", "readme-samples");
const RUN_TIMEOUT_MS = 30_000;

/**
 * fences returns every fenced block of `markdown`: its language, the words after it, its code and the line of the
 * opening fence (1-based).
 */
export function fences(markdown) {
  const lines = markdown.split("\n");
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})\s*([\w-]*)\s*(.*)$/.exec(lines[i]);
    if (open === null) continue;
    const [, ticks, lang, rest] = open;
    const start = i;
    const code = [];
    for (i++; i < lines.length && !lines[i].startsWith(ticks); i++) code.push(lines[i]);
    blocks.push({ line: start + 1, lang, tags: rest.split(/\s+/).filter(Boolean), code: code.join("\n") });
  }
  return blocks;
}

const MARKERS = ["run", "check", "fragment"];
const blocks = fences(readFileSync(join(root, README), "utf8"));
const samples = blocks
  .map((b, i) => ({ ...b, output: blocks[i + 1]?.lang === "text" && blocks[i + 1].tags.includes("output") ? blocks[i + 1] : undefined }))
  .filter((b) => b.lang === "ts" && (b.tags.includes("run") || b.tags.includes("check")));
const fileOf = (b) => `L${b.line}`;

let compiled; // { status, errors: Map<line, string[]> } once tsc ran

describe("README.md samples", () => {
  before(() => {
    rmSync(work, { recursive: true, force: true });
    mkdirSync(join(work, "src"), { recursive: true });
    for (const b of samples) {
      // A sample without import/export would be a script sharing one global scope with the others.
      const module = /^\s*(import|export)\s/m.test(b.code) ? "" : "\nexport {};";
      writeFileSync(join(work, "src", `${fileOf(b)}.ts`), b.code + module + "\n");
    }
    writeFileSync(
      join(work, "tsconfig.json"),
      JSON.stringify({
        extends: "../../tsconfig.base.json",
        compilerOptions: {
          rootDir: "src", outDir: "out", types: ["node"], composite: false, declaration: false, declarationMap: false,
          sourceMap: false, incremental: false, noEmitOnError: false,
        },
        include: ["src"],
      }),
    );
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    const r = spawnSync(process.execPath, [tsc, "-p", join(work, "tsconfig.json"), "--pretty", "false"], { cwd: root, encoding: "utf8" });
    // src/L123.ts(4,5): error TS7030: … → README.md:127:5
    const errors = new Map();
    for (const m of r.stdout.matchAll(/^(?:\S*\/)?src\/L(\d+)\.ts\((\d+),(\d+)\): (.*)$/gm)) {
      const fence = Number(m[1]);
      const at = `${README}:${fence + Number(m[2])}:${m[3]}: ${m[4]}`;
      errors.set(fence, [...(errors.get(fence) ?? []), at]);
    }
    compiled = { status: r.status, errors, stdout: r.stdout + r.stderr };
  });

  it("marks every ts sample run, check or fragment", () => {
    const unmarked = blocks.filter((b) => b.lang === "ts" && !b.tags.some((t) => MARKERS.includes(t)));
    assert.deepEqual(
      unmarked.map((b) => `${README}:${b.line}: \`\`\`ts needs a marker: ts run, ts check or ts fragment (see scripts/readme.test.mjs)`),
      [],
    );
  });

  it("has samples to check", () => {
    assert.ok(samples.some((b) => b.tags.includes("run")), "at least one runnable sample");
  });

  it("compiles every run and check sample with the repo's strict tsconfig", () => {
    const all = [...compiled.errors.values()].flat();
    assert.deepEqual(all, []);
    assert.equal(compiled.status, 0, compiled.stdout);
  });

  for (const b of samples.filter((s) => s.tags.includes("run"))) {
    it(`runs the sample at ${README}:${b.line}${b.output ? ", printing what the README shows" : ""}`, () => {
      assert.equal(compiled.errors.get(b.line), undefined, "it compiles");
      const r = spawnSync(process.execPath, [join(work, "out", `${fileOf(b)}.js`)], {
        cwd: root,
        encoding: "utf8",
        timeout: RUN_TIMEOUT_MS,
        env: { ...process.env, NODE_OPTIONS: "", NODE_TEST_CONTEXT: undefined }, // a sample that is a test file reports on its own
      });
      assert.equal(r.error, undefined, `${README}:${b.line}: ${r.error?.message}`);
      assert.equal(r.status, 0, `${README}:${b.line} exited ${r.status} (${r.signal ?? "no signal"}):\n${r.stderr}`);
      if (b.output !== undefined) assert.equal(r.stdout.trimEnd(), b.output.code.trimEnd(), `${README}:${b.output.line}`);
    });
  }
});
