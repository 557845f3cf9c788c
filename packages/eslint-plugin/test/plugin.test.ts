import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ESLint, type Linter } from "eslint";
import tseslint from "typescript-eslint";
import lifeline from "@lifeline/eslint-plugin";
import { fixtures } from "./rule-tester.js";

const names = Object.keys(lifeline.rules);

describe("@lifeline/eslint-plugin", () => {
  it("has the seven rules of issue 6", () => {
    assert.deepEqual(names.sort(), [
      "context-first",
      "forward-context",
      "lost-cancel",
      "no-background-in-request",
      "no-race-with-done",
      "no-stored-context",
      "value-key",
    ]);
  });

  it("documents every rule and quotes its seed sentence in every message it reports", () => {
    for (const [name, rule] of Object.entries(lifeline.rules)) {
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
