// RuleTester wired to node:test, with and without type information.
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { RuleTester, type RunTests } from "@typescript-eslint/rule-tester";
import plugin, { type RuleName } from "@lifeline/eslint-plugin";

RuleTester.afterAll = after;
RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

/** fixtures is the directory with the fixture tsconfig (its files import the real @lifeline/core). */
export const fixtures = fileURLToPath(new URL("../test/fixtures/", import.meta.url));

/** Tester runs one rule of the plugin, found by name, over valid and invalid cases. */
export interface Tester {
  run<R extends RuleName>(name: R, tests: RunTests<MessageIdsOf<R>, OptionsOf<R>>, title?: string): void;
}

type MessageIdsOf<R extends RuleName> = (typeof plugin.rules)[R] extends { meta: { messages: Record<infer M, string> } } ? M & string : never;
type OptionsOf<R extends RuleName> = NonNullable<(typeof plugin.rules)[R]["defaultOptions"]>;

function tester(inner: RuleTester): Tester {
  return {
    run(name, tests, title) {
      // The rule-tester package may bring its own copy of @typescript-eslint/utils, whose types are nominally
      // different from ours; at run time a rule is a plain object either way.
      inner.run(title ?? name, plugin.rules[name] as never, tests as never);
    },
  };
}

/** untyped returns a RuleTester that parses TypeScript without type information. */
export function untyped(): Tester {
  return tester(new RuleTester());
}

/** typed returns a RuleTester whose cases are type-checked as test/fixtures/file.ts against @lifeline/core. */
export function typed(): Tester {
  return tester(
    new RuleTester({ languageOptions: { parserOptions: { project: "./tsconfig.json", tsconfigRootDir: fixtures } } }),
  );
}

/** IMPORTS is the import line most cases start with. */
export const IMPORTS =
  'import { background, todo, withCancel, withCancelCause, withTimeout, withTimeoutCause, withDeadline, withDeadlineCause, withSignal, withValue, withoutCancel, createKey, sleep, select, recv, go, afterFunc, Channel, type Context, type Key } from "@lifeline/core";\n';

/**
 * suggestions stands for "this many suggestions" in an error (RuleTester accepts a count; its types want the
 * full list). Used where a suite checks the suggestion's text elsewhere.
 */
export function suggestions(count: number): never {
  return count as never;
}
