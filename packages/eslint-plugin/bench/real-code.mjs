// Runs @lifeline/eslint-plugin over a real TypeScript codebase and measures what it costs.
//
//   node packages/eslint-plugin/bench/real-code.mjs <dir> [--glob 'src/**/*.ts'] [--runs 1] [--only typed,untyped,checked]
//
// <dir> is a work tree of someone else's code (e.g. `git -C <mirror> archive HEAD | tar -x -C /tmp/x`); nothing is
// written into it except `tsconfig.lifeline-bench.json`, a tsconfig over the linted files (the codebase's own may
// extend packages that are not installed). Each configuration runs in its own child process, so that no parse or
// type-checker cache is shared between them:
//
//   untyped-base   typescript-eslint's parser and recommended rules, no type information
//   untyped        the same plus lifeline's `recommended` and `signals` configs
//   typed-base     the same parser with type information (parserOptions.project) and the same rules as untyped-base
//   typed          the same plus lifeline's `recommended-type-checked` and `signals-type-checked` configs
//   typed-recommended  typed-base plus `recommended-type-checked` alone (lifeline's rules, without the signals mode)
//   checked-base   type information and typescript-eslint's recommendedTypeChecked rules (which use the checker)
//   checked        the same plus lifeline's type-checked configs
//
// Times are the child's CPU time (user + system) around lintFiles, and its wall time; the machine this was
// written on is shared, so CPU time is the figure to compare. The best of --runs is kept, per configuration.
// It prints, per configuration, the wall time of ESLint's lintFiles (best of --runs), the number of files, of
// rule crashes (a crash is an exception thrown by a rule; the file is then linted alone to name it) and of
// parse errors; then every lifeline finding of the typed and untyped runs with its file, line and message.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const self = fileURLToPath(import.meta.url);

function parseArgs(argv) {
  const args = { dir: undefined, globs: [], runs: 1, only: undefined, child: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--glob") args.globs.push(argv[++i]);
    else if (a === "--runs") args.runs = Math.max(1, Math.min(5, Number(argv[++i]) || 1));
    else if (a === "--only") args.only = argv[++i];
    else if (a === "--child") args.child = argv[++i];
    else if (args.dir === undefined) args.dir = resolve(a);
    else throw new TypeError(`real-code: unexpected argument ${JSON.stringify(a)}`);
  }
  if (!args.dir) throw new TypeError("real-code: usage: real-code.mjs <dir> [--glob pattern]... [--runs n] [--only typed|untyped]");
  if (args.globs.length === 0) args.globs.push("src/**/*.ts", "source/**/*.ts");
  return args;
}

const CONFIGS = ["untyped-base", "untyped", "typed-base", "typed", "typed-recommended", "checked-base", "checked"];

async function child(args) {
  const { ESLint } = await import("eslint");
  const tseslint = (await import("typescript-eslint")).default;
  const { default: lifeline } = await import("@lifeline/eslint-plugin");
  const name = args.child;
  const typed = name.startsWith("typed") || name.startsWith("checked");
  const checked = name.startsWith("checked");
  const withPlugin = !name.endsWith("-base");
  const project = resolve(args.dir, "tsconfig.lifeline-bench.json");
  const config = [
    { ignores: ["**/node_modules/**", "**/dist/**", "**/*.d.ts"] },
    ...(checked ? tseslint.configs.recommendedTypeChecked : tseslint.configs.recommended).map((c) => ({ ...c, files: ["**/*.ts", "**/*.mts", "**/*.cts"] })),
    {
      files: ["**/*.ts", "**/*.mts", "**/*.cts"],
      languageOptions: {
        parser: tseslint.parser,
        parserOptions: typed ? { project, tsconfigRootDir: args.dir } : {},
      },
      linterOptions: { reportUnusedDisableDirectives: "off" },
      // The codebase's own disable comments name rules of plugins that are not loaded here.
      rules: {},
    },
  ];
  if (withPlugin) {
    const pick = ({ languageOptions: _, ...c }) => ({ ...c, files: ["**/*.ts", "**/*.mts", "**/*.cts"] });
    config.push(pick(typed ? lifeline.configs["recommended-type-checked"] : lifeline.configs.recommended));
    const signals = typed ? lifeline.configs["signals-type-checked"] : lifeline.configs.signals;
    config.push(signals && name !== "typed-recommended" ? pick(signals) : undefined);
  }
  const make = () => new ESLint({ cwd: args.dir, overrideConfigFile: true, overrideConfig: config.filter(Boolean), allowInlineConfig: false });
  let results;
  let crashes = [];
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  try {
    results = await make().lintFiles(args.globs);
  } catch (error) {
    results = undefined;
    crashes.push({ file: "(whole run)", error: String(error?.stack ?? error).split("\n").slice(0, 3).join(" | ") });
  }
  const ms = performance.now() - start;
  const cpu1 = process.cpuUsage(cpu0);
  const cpuMs = (cpu1.user + cpu1.system) / 1000;
  if (!results) {
    // Find the files that crash, one by one: list the files with the base configuration, lint each alone.
    const base = config.slice(0, config.length - (withPlugin ? 2 : 0)).filter(Boolean);
    const listed = await new ESLint({ cwd: args.dir, overrideConfigFile: true, overrideConfig: base, allowInlineConfig: false }).lintFiles(args.globs);
    results = [];
    crashes = [];
    for (const { filePath } of listed) {
      try {
        results.push(...(await make().lintFiles([filePath])));
      } catch (error) {
        crashes.push({ file: filePath.slice(args.dir.length + 1), error: String(error?.message ?? error).split("\n").slice(0, 2).join(" | ") });
      }
    }
  }
  const findings = [];
  let parseErrors = 0;
  for (const r of results) {
    for (const m of r.messages) {
      if (m.fatal) parseErrors++;
      if (m.ruleId?.startsWith("lifeline/")) {
        findings.push({ file: r.filePath.slice(args.dir.length + 1), line: m.line, rule: m.ruleId, message: m.message });
      }
    }
  }
  process.stdout.write(JSON.stringify({ name, ms, cpuMs, files: results.length, crashes, parseErrors, findings }));
}

function run(args, name) {
  const argv = [self, args.dir, ...args.globs.flatMap((g) => ["--glob", g]), "--child", name];
  const out = spawnSync(process.execPath, argv, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (out.status !== 0) throw new Error(`real-code: ${name} failed: ${out.stderr}`);
  return JSON.parse(out.stdout);
}

async function main(args) {
  writeFileSync(
    resolve(args.dir, "tsconfig.lifeline-bench.json"),
    JSON.stringify(
      {
        compilerOptions: {
          target: "es2022",
          lib: ["es2023", "dom", "dom.iterable"],
          module: "esnext",
          moduleResolution: "bundler",
          strict: true,
          skipLibCheck: true,
          noEmit: true,
          allowJs: false,
          types: [],
        },
        include: args.globs,
      },
      null,
      2,
    ),
  );
  const names = CONFIGS.filter((n) => !args.only || args.only.split(",").some((o) => n.startsWith(o)));
  const best = {};
  for (let r = 0; r < args.runs; r++) {
    for (const name of names) {
      const result = run(args, name);
      if (!best[name] || result.cpuMs < best[name].cpuMs) best[name] = result;
    }
  }
  console.log(`# ${args.dir} (${args.globs.join(", ")}), best of ${args.runs}`);
  console.log("config        wall-ms   cpu-ms  files  crashes  parse-errors  findings");
  for (const name of names) {
    const b = best[name];
    console.log(`${name.padEnd(13)} ${b.ms.toFixed(0).padStart(7)}  ${b.cpuMs.toFixed(0).padStart(7)}  ${String(b.files).padStart(5)}  ${String(b.crashes.length).padStart(7)}  ${String(b.parseErrors).padStart(12)}  ${String(b.findings.length).padStart(8)}`);
    for (const c of b.crashes) console.log(`  crash: ${c.file}: ${c.error}`);
  }
  for (const [with_, base] of [["untyped", "untyped-base"], ["typed", "typed-base"], ["typed-recommended", "typed-base"], ["checked", "checked-base"]]) {
    if (best[with_] && best[base]) {
      const pct = (a, b) => `${a >= b ? "+" : ""}${(((a - b) / b) * 100).toFixed(1)}%`;
      console.log(`${with_}: cpu ${pct(best[with_].cpuMs, best[base].cpuMs)}, wall ${pct(best[with_].ms, best[base].ms)} over ${base}`);
    }
  }
  for (const name of ["typed", "untyped"]) {
    if (!best[name]) continue;
    console.log(`\n## findings (${name})`);
    for (const f of best[name].findings) console.log(`${f.file}:${f.line}  ${f.rule}  ${f.message}`);
  }
}

const args = parseArgs(process.argv.slice(2));
if (args.child) await child(args);
else await main(args);
