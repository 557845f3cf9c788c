// @lifeline/eslint-plugin: the checks go vet gives Go's context, for TypeScript. The whole public API, on one screen.
import type { TSESLint } from "@typescript-eslint/utils";
import { contextFirst } from "./rules/context-first.js";
import { forwardContext } from "./rules/forward-context.js";
import { lostCancel } from "./rules/lost-cancel.js";
import { noBackgroundInRequest } from "./rules/no-background-in-request.js";
import { noRaceWithDone } from "./rules/no-race-with-done.js";
import { noStoredContext } from "./rules/no-stored-context.js";
import { valueKey } from "./rules/value-key.js";

export type { LifelineDocs, LifelineRule } from "./internal/rule.js";

/**
 * rules are the plugin's rules by name. Each one's `meta.docs.seed` is the sentence it enforces, and its
 * TSDoc (and the package README) says what it sees and what it does not.
 */
export const rules = {
  "lost-cancel": lostCancel,
  "context-first": contextFirst,
  "no-stored-context": noStoredContext,
  "forward-context": forwardContext,
  "no-background-in-request": noBackgroundInRequest,
  "no-race-with-done": noRaceWithDone,
  "value-key": valueKey,
} satisfies Record<string, TSESLint.RuleModule<string, readonly unknown[], unknown>>;

/** RuleName is the name of one of the plugin's rules, without the `lifeline/` prefix. */
export type RuleName = keyof typeof rules;

/** Configs are the shareable flat configs this plugin ships. */
export interface Configs {
  /**
   * recommended registers the plugin as `lifeline` and turns every rule on at "error". Every rule works
   * without type information; with it (see `recommended-type-checked`) context-first, no-stored-context,
   * forward-context and value-key see through aliases, and forward-context checks each call's signature.
   */
  recommended: TSESLint.FlatConfig.Config;
  /**
   * recommended-type-checked is `recommended` plus `parserOptions.projectService: true`, so that the rules get
   * type information. Set `tsconfigRootDir` beside it, and apply it to files a tsconfig includes.
   */
  "recommended-type-checked": TSESLint.FlatConfig.Config;
}

/** Plugin is the shape of the default export: ESLint's plugin object with its configs. */
export interface Plugin {
  meta: { name: string; version: string };
  rules: typeof rules;
  configs: Configs;
}

const ruleLevels = Object.fromEntries(
  Object.keys(rules).map((name) => [`lifeline/${name}`, "error"]),
) as TSESLint.FlatConfig.Rules;

const plugin: Plugin = {
  meta: { name: "@lifeline/eslint-plugin", version: "0.1.0" },
  rules,
  configs: {} as Configs,
};

plugin.configs.recommended = {
  name: "lifeline/recommended",
  plugins: { lifeline: plugin as unknown as TSESLint.FlatConfig.Plugin },
  rules: ruleLevels,
};

plugin.configs["recommended-type-checked"] = {
  name: "lifeline/recommended-type-checked",
  plugins: { lifeline: plugin as unknown as TSESLint.FlatConfig.Plugin },
  languageOptions: { parserOptions: { projectService: true } },
  rules: ruleLevels,
};

/**
 * The plugin. In `eslint.config.js`:
 *
 * ```js
 * import lifeline from "@lifeline/eslint-plugin";
 * export default [
 *   // ...typescript-eslint's configs (they set the parser),
 *   { files: ["src/**\/*.ts"], ...lifeline.configs["recommended-type-checked"],
 *     languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } } },
 *   { files: ["**\/*.js", "**\/*.mjs"], ...lifeline.configs.recommended },
 * ];
 * ```
 */
export default plugin;
