import { ESLintUtils, type TSESLint } from "@typescript-eslint/utils";

/** LifelineDocs is the `meta.docs` of every rule in this plugin. */
export interface LifelineDocs {
  /** One line: what the rule reports. */
  description: string;
  /**
   * The sentence the rule enforces: from the seeds (or shared/PITFALLS.md) for lifeline's rules; for the
   * AbortSignal mode's rules (forward-signal, no-stored-signal, no-signal-any-in-loop), a one-line statement of
   * their discipline in the platform's terms.
   */
  seed: string;
  /** Whether one of the plugin's error-level configs turns the rule on (`recommended` or `signals`: all do). */
  recommended: boolean;
  /**
   * Whether the rule needs type information. None does: each works from imports and annotations and gets
   * sharper with `parserOptions.projectService` (listed in {@link LifelineDocs.typeAware}).
   */
  requiresTypeChecking: boolean;
  /** What the rule does better with type information, if anything. */
  typeAware?: string;
}

/** LifelineRule is one rule of this plugin. */
export type LifelineRule<MessageIds extends string, Options extends readonly unknown[]> = TSESLint.RuleModule<
  MessageIds,
  Options,
  LifelineDocs
> & { name: string; meta: { docs: LifelineDocs } };

/** RuleSpec is what a rule file gives {@link createRule}. */
export interface RuleSpec<MessageIds extends string, Options extends readonly unknown[]> {
  name: string;
  meta: Omit<TSESLint.RuleMetaData<MessageIds, LifelineDocs, Options>, "docs"> & {
    docs: LifelineDocs;
  };
  defaultOptions: Options;
  create(context: Readonly<TSESLint.RuleContext<MessageIds, Options>>, options: Options): TSESLint.RuleListener;
}

/**
 * createRule returns an ESLint rule whose options are merged over the defaults (typescript-eslint's
 * RuleCreator, without the docs URL it requires: the docs are the package README, one section per rule).
 */
export function createRule<MessageIds extends string, Options extends readonly unknown[]>(
  spec: RuleSpec<MessageIds, Options>,
): LifelineRule<MessageIds, Options> {
  const { name, meta, defaultOptions, create } = spec;
  return {
    name,
    meta: { ...meta, defaultOptions },
    create(context) {
      return create(context, ESLintUtils.applyDefault(defaultOptions, (context.options as Options | undefined) ?? null) as Options);
    },
  } as LifelineRule<MessageIds, Options>;
}
