// ESLint flat config: typescript-eslint's recommended rules, without type information (fast), and our own
// @lifeline/eslint-plugin on the packages' sources (with type information) and the examples.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import js from "@eslint/js";
import tseslint from "typescript-eslint";

// The plugin is TypeScript: on a fresh clone, build it once so that ESLint can load it (`tsc -b` keeps it fresh).
if (!existsSync(new URL("./packages/eslint-plugin/dist/index.js", import.meta.url))) {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-b", "packages/eslint-plugin"], { cwd: import.meta.dirname, stdio: "inherit" });
}
const { default: lifeline } = await import("@lifeline/eslint-plugin");

export default tseslint.config(
  {
    ignores: [
      "**/dist/**", "**/dist-test/**", "**/node_modules/**", ".cache/**",
      // Deliberately broken code for the plugin's tests.
      "packages/eslint-plugin/test/fixtures/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: "readonly", process: "readonly", setTimeout: "readonly", clearTimeout: "readonly",
        setInterval: "readonly", clearInterval: "readonly", queueMicrotask: "readonly", URL: "readonly",
        AbortController: "readonly", AbortSignal: "readonly", fetch: "readonly", performance: "readonly",
        globalThis: "readonly", structuredClone: "readonly", TextEncoder: "readonly", TextDecoder: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // @lifeline/core runs on every runtime: no node: imports.
    files: ["packages/core/src/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["node:*"], message: "@lifeline/core must not import node: modules" }] }],
    },
  },
  {
    // lifeline's own rules. Type information only for the packages' sources: the project service reuses each
    // package's tsconfig, so it costs a few seconds; the examples are plain JS and need none.
    files: ["packages/*/src/**/*.ts"],
    ...lifeline.configs["recommended-type-checked"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
  },
  {
    // The packages' tests (and their fixtures: worker threads, child processes) get lifeline's rules without type
    // information: a project service over every test tsconfig would cost more than the checks it adds, and
    // no-await-case, written for exactly this code (commit 1670e25: `await recv(ctx.done())` did not wait), needs
    // none. Off here, four rules whose findings in tests are mostly the misuse under test: cancels discarded or
    // left to the leak checker (lost-cancel, 27 findings), keys made inline or from strings to test withValue
    // (value-key, 18), background() as a fresh root in helpers that take a ctx (no-background-in-request, 8) and
    // helpers shaped like the API they drive (context-first, 6).
    files: ["packages/*/test/**/*.ts"],
    ...lifeline.configs.recommended,
    rules: {
      ...lifeline.configs.recommended.rules,
      "lifeline/lost-cancel": "off",
      "lifeline/value-key": "off",
      "lifeline/no-background-in-request": "off",
      "lifeline/context-first": "off",
    },
  },
  { files: ["examples/**/*.mjs"], ...lifeline.configs.recommended },
  {
    // @lifeline/core implements the context tree: its hubs, done channels, tasks and groups hold a context by
    // design (Go's context package is not linted with containedctx either).
    files: ["packages/core/src/**/*.ts"],
    rules: { "lifeline/no-stored-context": "off" },
  },
);
