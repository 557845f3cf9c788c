// Issue 14: type-aware work only where a Context or a signal is in sight, and a warning (not silence) when
// lifeline's types do not resolve.
import { after, describe, it, mock } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { ESLint, type Linter } from "eslint";
import tseslint from "typescript-eslint";
import lifeline from "@lifeline/eslint-plugin";
import { fixtures } from "./rule-tester.js";

function eslint(settings: Record<string, unknown> = {}): ESLint {
  return new ESLint({
    cwd: fixtures,
    overrideConfigFile: true,
    overrideConfig: [
      { files: ["**/*.ts"], languageOptions: { parser: tseslint.parser, parserOptions: { projectService: true, tsconfigRootDir: fixtures } }, settings },
      { files: ["**/*.ts"], ...(lifeline.configs["recommended-type-checked"] as Linter.Config) },
    ],
  });
}

describe("type information in @lifeline/eslint-plugin", () => {
  it("warns once when lifeline's types do not resolve, and falls back to annotations instead of falling silent", async () => {
    const warn = mock.method(console, "warn", () => {});
    try {
      const [result] = await eslint({ lifeline: { packages: ["@lifeline/missing"] } }).lintFiles(["unresolved.ts"]);
      assert.ok(result);
      const found = result.messages.filter((m) => m.ruleId === "lifeline/context-first").map((m) => m.line);
      assert.deepEqual(found, [4, 8], JSON.stringify(result.messages));
      assert.equal(warn.mock.callCount(), 1);
      const text = String(warn.mock.calls[0]?.arguments[0]);
      assert.match(text, /@lifeline\/missing/);
      assert.match(text, /do not resolve/);
    } finally {
      warn.mock.restore();
    }
  });

  it("sees a Context given by inference when a ctx is in sight, and skips the checker when none is", async () => {
    const results = await eslint().lintFiles(["in-sight.ts", "out-of-sight.ts"]);
    const byFile = Object.fromEntries(results.map((r) => [r.filePath.slice(fixtures.length), r.messages.map((m) => m.ruleId)]));
    assert.deepEqual(byFile["in-sight.ts"], ["lifeline/context-first"]);
    // The documented price of skipping type-aware work: a Context reached only through inference, in a file
    // that names no Context, ctx, signal or lifeline package, is not seen.
    assert.deepEqual(byFile["out-of-sight.ts"], []);
  });
});

after(() => assertNoLeaks());
