// @lifeline/eslint-plugin: the checks go vet gives Go's context, for TypeScript. The whole public API, on one screen.
import type { TSESLint } from "@typescript-eslint/utils";
import { contextFirst } from "./rules/context-first.js";
import { forwardContext } from "./rules/forward-context.js";
import { lostCancel } from "./rules/lost-cancel.js";
import { noAwaitCase } from "./rules/no-await-case.js";
import { noBackgroundInRequest } from "./rules/no-background-in-request.js";
import { noRaceWithDone } from "./rules/no-race-with-done.js";
import { noStoredContext } from "./rules/no-stored-context.js";
import { forwardSignal } from "./rules/forward-signal.js";
import { noSignalAnyInLoop } from "./rules/no-signal-any-in-loop.js";
import { noStoredSignal } from "./rules/no-stored-signal.js";
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
  "no-await-case": noAwaitCase,
  "value-key": valueKey,
  "forward-signal": forwardSignal,
  "no-stored-signal": noStoredSignal,
  "no-signal-any-in-loop": noSignalAnyInLoop,
} satisfies Record<string, TSESLint.RuleModule<string, readonly unknown[], unknown>>;

/** RuleName is the name of one of the plugin's rules, without the `lifeline/` prefix. */
export type RuleName = keyof typeof rules;

/** Configs are the shareable flat configs this plugin ships. */
export interface Configs {
  /**
   * recommended registers the plugin as `lifeline` and turns lifeline's rules on at "error" ({@link LIFELINE_RULES}).
   * Every rule works without type information; with it (see `recommended-type-checked`) context-first,
   * no-stored-context, no-background-in-request, value-key and forward-context see through aliases and
   * inference, forward-context checks each call's signature, and no-await-case sees a case by its type.
   */
  recommended: TSESLint.FlatConfig.Config;
  /**
   * recommended-type-checked is `recommended` plus `parserOptions.projectService: true`, so that the rules get
   * type information. Set `tsconfigRootDir` beside it, and apply it to files a tsconfig includes.
   */
  "recommended-type-checked": TSESLint.FlatConfig.Config;
  /** warn is `recommended` at "warn": for turning the plugin on in a codebase that has findings to work through. */
  warn: TSESLint.FlatConfig.Config;
  /** warn-type-checked is `recommended-type-checked` at "warn". */
  "warn-type-checked": TSESLint.FlatConfig.Config;
  /**
   * signals is the AbortSignal mode, for code with or without lifeline ({@link SIGNAL_RULES}, at "error"):
   * forward-signal, no-stored-signal, no-race-with-done and no-signal-any-in-loop. Its messages prescribe only
   * the platform's API.
   */
  signals: TSESLint.FlatConfig.Config;
  /** signals-type-checked is `signals` plus `parserOptions.projectService: true`. */
  "signals-type-checked": TSESLint.FlatConfig.Config;
}

/** Plugin is the shape of the default export: ESLint's plugin object with its configs. */
export interface Plugin {
  meta: { name: string; version: string };
  rules: typeof rules;
  configs: Configs;
}

/** LIFELINE_RULES are the rules of `recommended`: lifeline's discipline for code that uses its Context. */
export const LIFELINE_RULES: readonly RuleName[] = [
  "lost-cancel",
  "context-first",
  "no-stored-context",
  "forward-context",
  "no-background-in-request",
  "no-race-with-done",
  "no-await-case",
  "value-key",
];

/** SIGNAL_RULES are the rules of `signals`: the same discipline for an AbortSignal, lifeline or not. */
export const SIGNAL_RULES: readonly RuleName[] = ["forward-signal", "no-stored-signal", "no-race-with-done", "no-signal-any-in-loop"];

function levels(names: readonly RuleName[], level: "error" | "warn"): TSESLint.FlatConfig.Rules {
  return Object.fromEntries(names.map((name) => [`lifeline/${name}`, level])) as TSESLint.FlatConfig.Rules;
}

const plugin: Plugin = {
  meta: { name: "@lifeline/eslint-plugin", version: "0.1.0" },
  rules,
  configs: {} as Configs,
};

const self = { lifeline: plugin as unknown as TSESLint.FlatConfig.Plugin };
/** config is one of the shareable configs: `names` at `level`, with type information when `typed`. */
function config(name: string, names: readonly RuleName[], level: "error" | "warn", typed: boolean): TSESLint.FlatConfig.Config {
  const c: TSESLint.FlatConfig.Config = { name: `lifeline/${name}`, plugins: self, rules: levels(names, level) };
  if (typed) c.languageOptions = { parserOptions: { projectService: true } };
  return c;
}
plugin.configs.recommended = config("recommended", LIFELINE_RULES, "error", false);
plugin.configs["recommended-type-checked"] = config("recommended-type-checked", LIFELINE_RULES, "error", true);
plugin.configs.warn = config("warn", LIFELINE_RULES, "warn", false);
plugin.configs["warn-type-checked"] = config("warn-type-checked", LIFELINE_RULES, "warn", true);
plugin.configs.signals = config("signals", SIGNAL_RULES, "error", false);
plugin.configs["signals-type-checked"] = config("signals-type-checked", SIGNAL_RULES, "error", true);

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
