import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ESLint, type Linter } from "eslint";
import tseslint from "typescript-eslint";
import lifeline, { LIFELINE_RULES, SIGNAL_RULES } from "@lifeline/eslint-plugin";
import { fixtures } from "./rule-tester.js";

const all = Object.keys(lifeline.rules);
const names: string[] = [...LIFELINE_RULES];

describe("@lifeline/eslint-plugin", () => {
  it("has the seven rules of issue 6, no-await-case and the three of the AbortSignal mode (issue 14)", () => {
    assert.deepEqual([...all].sort(), [
      "context-first",
      "forward-context",
      "forward-signal",
      "lost-cancel",
      "no-await-case",
      "no-background-in-request",
      "no-race-with-done",
      "no-signal-any-in-loop",
      "no-stored-context",
      "no-stored-signal",
      "value-key",
    ]);
    assert.deepEqual([...names].sort(), [
      "context-first",
      "forward-context",
      "lost-cancel",
      "no-await-case",
      "no-background-in-request",
      "no-race-with-done",
      "no-stored-context",
      "value-key",
    ]);
  });

  it("documents every rule and quotes its seed sentence in every message it reports", () => {
    for (const [name, rule] of Object.entries(lifeline.rules) as [string, (typeof lifeline.rules)[keyof typeof lifeline.rules]][]) {
      const docs = rule.meta.docs;
      assert.ok(docs.description.length > 0, `${name}: description`);
      assert.ok(docs.seed.length > 0, `${name}: seed`);
      const messages: Record<string, string> = rule.meta.messages;
      const reports = Object.entries(messages).filter(([id]) => !id.startsWith("suggest"));
      assert.ok(reports.length > 0, `${name}: messages`);
      for (const [id, text] of reports) assert.match(text, /"[^"]+\."$/, `${name}/${id} ends with a quoted sentence`);
      assert.ok(reports.some(([, text]) => text.includes(`"${docs.seed}"`)), `${name}: a message quotes docs.seed`);
    }
  });

  it("recommended registers the plugin as lifeline with every rule at error", () => {
    const config = lifeline.configs.recommended;
    assert.equal(config.plugins?.["lifeline"], lifeline);
    assert.deepEqual(config.rules, Object.fromEntries(names.map((n) => [`lifeline/${n}`, "error"])));
    assert.equal(config.languageOptions, undefined);
  });

  it("warn and warn-type-checked are the same rules at warn; signals turns on the AbortSignal rules", () => {
    assert.deepEqual(lifeline.configs.warn.rules, Object.fromEntries(names.map((n) => [`lifeline/${n}`, "warn"])));
    assert.deepEqual(lifeline.configs["warn-type-checked"].rules, lifeline.configs.warn.rules);
    assert.deepEqual(lifeline.configs["warn-type-checked"].languageOptions?.parserOptions, { projectService: true });
    assert.deepEqual(lifeline.configs.signals.rules, Object.fromEntries(SIGNAL_RULES.map((n) => [`lifeline/${n}`, "error"])));
    assert.deepEqual(lifeline.configs["signals-type-checked"].rules, lifeline.configs.signals.rules);
    assert.deepEqual(lifeline.configs["signals-type-checked"].languageOptions?.parserOptions, { projectService: true });
    assert.equal(lifeline.configs.signals.plugins?.["lifeline"], lifeline);
    // The AbortSignal mode's messages do not prescribe lifeline's API to code that does not use it.
    for (const name of SIGNAL_RULES) {
      const messages: Record<string, string> = lifeline.rules[name].meta.messages;
      const own = name === "no-race-with-done" ? { m: messages["raceInLoopPlatform"] ?? "" } : messages;
      for (const [id, text] of Object.entries(own)) {
        assert.doesNotMatch(text, /select\(|recv\(|ctx\.done|withoutCancel|sleep\(/, `${name}/${id}`);
      }
    }
  });

  it("recommended-type-checked adds the project service", () => {
    const config = lifeline.configs["recommended-type-checked"];
    assert.deepEqual(config.rules, lifeline.configs.recommended.rules);
    assert.deepEqual(config.languageOptions?.parserOptions, { projectService: true });
  });
});

describe("the broken fixture", () => {
  for (const withTypes of [true, false]) {
    it(`yields each rule's message exactly once${withTypes ? " with type information" : " without type information"}`, async () => {
      const eslint = new ESLint({
        cwd: fixtures,
        overrideConfigFile: true,
        overrideConfig: [
          {
            files: ["**/*.ts"],
            languageOptions: {
              parser: tseslint.parser,
              parserOptions: withTypes ? { projectService: true, tsconfigRootDir: fixtures } : {},
            },
          },
          // typescript-eslint's FlatConfig type and ESLint's Linter.Config differ only in their index signatures.
          { files: ["**/*.ts"], ...((withTypes ? lifeline.configs["recommended-type-checked"] : lifeline.configs.recommended) as Linter.Config) },
        ],
      });
      const [result] = await eslint.lintFiles(["broken.ts"]);
      assert.ok(result);
      assert.deepEqual(result.messages.filter((m) => m.fatal), [], "parses");
      const counts = Object.fromEntries(names.map((n) => [`lifeline/${n}`, 0]));
      for (const m of result.messages) counts[m.ruleId ?? "?"] = (counts[m.ruleId ?? "?"] ?? 0) + 1;
      assert.deepEqual(counts, Object.fromEntries(names.map((n) => [`lifeline/${n}`, 1])), JSON.stringify(result.messages, null, 1));
      // Each finding is on the line its comment announces.
      const lines = readFileSync(`${fixtures}/broken.ts`, "utf8").split("\n");
      for (const m of result.messages) {
        const rule = (m.ruleId ?? "").replace("lifeline/", "");
        const comment = lines.findIndex((l) => l.startsWith(`// ${rule}:`));
        const next = lines.findIndex((l, i) => i > comment && l.startsWith("// "));
        assert.ok(m.line > comment && (next < 0 || m.line <= next), `${rule} reported on line ${m.line}`);
      }
    });
  }
});

after(() => assertNoLeaks());
