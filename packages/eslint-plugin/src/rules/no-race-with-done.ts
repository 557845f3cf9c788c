import type { TSESTree } from "@typescript-eslint/utils";
import { corePackages, importsFrom, isGlobalMember } from "../internal/imports.js";
import { longLived, loopOf, racers } from "../internal/loops.js";
import { createRule } from "../internal/rule.js";
import { SEED_NO_RACE, SEED_NO_RACE_PLATFORM } from "../internal/seeds.js";

type MessageIds = "raceInLoop" | "raceInLoopPlatform";

/**
 * inLoop reports whether `node` runs once per iteration of a loop in its own function: in a loop's body, test
 * or update, not in a `for` initialiser or the iterable of `for…of`/`for…in` (evaluated once).
 */
export function inLoop(node: TSESTree.Node): boolean {
  return loopOf(node) !== undefined;
}

/**
 * no-race-with-done reports `Promise.race([…])` and `Promise.any([…])` evaluated in a loop (for, while, do,
 * for…of, for await) against a racer that outlives the iteration: a variable or property declared outside
 * the loop (`done`, `this.closed`), `x.done()`, or an `'abort'` wait on a signal from outside
 * (`once(signal, "abort")`). Each call adds a reaction to that racer, kept — with all it closes over — until it
 * settles: nodejs/node#17469, the leak in shared/PITFALLS.md. Races of promises made in the iteration
 * (`[next(), sleep(ms)]`) settle with it and are not reported; nor is a race over a whole collection
 * (`Promise.race(pending)`, a pool of in-flight work), whose members the rule cannot see.
 *
 * In a file that imports lifeline the message points at `select([recv(ch), recv(ctx.done())])` and
 * `ch.recv(ctx)`, which unregister when they return; elsewhere it says what to do with the platform alone.
 * Not seen: loops made by recursion or by `forEach`.
 */
export const noRaceWithDone = createRule<MessageIds, []>({
  name: "no-race-with-done",
  meta: {
    type: "problem",
    docs: {
      description: "Disallow Promise.race/Promise.any in a loop against a promise that outlives the iteration (a reaction leaks per iteration)",
      seed: SEED_NO_RACE,
      recommended: true,
      requiresTypeChecking: false,
    },
    messages: {
      raceInLoop:
        "Promise.{{method}} in a loop against `{{racer}}`, which outlives the iteration, leaks: every call adds a reaction to it that stays until it settles. Use `select([..., recv(ctx.done())])` or `ch.recv(ctx)`, which unregister when they return. \"" +
        SEED_NO_RACE +
        "\"",
      raceInLoopPlatform:
        "Promise.{{method}} in a loop against `{{racer}}`, which outlives the iteration, leaks: every call adds a reaction to it that stays until it settles. Race it once outside the loop, or wait with an 'abort' listener (or a resolver) that the iteration removes when it ends. \"" +
        SEED_NO_RACE_PLATFORM +
        "\"",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    const lifeline = importsFrom(context, corePackages(context));
    return {
      CallExpression(node) {
        if (!isGlobalMember(context, node.callee, "Promise", ["race", "any"])) return;
        const loop = loopOf(node);
        if (!loop) return;
        let racer: string | undefined;
        for (const r of racers(node.arguments[0])) {
          racer = longLived(context, r, loop);
          if (racer) break;
        }
        if (!racer) return;
        const callee = node.callee as TSESTree.MemberExpression;
        const method = (callee.property as TSESTree.Identifier).name;
        context.report({
          node: callee,
          messageId: lifeline ? "raceInLoop" : "raceInLoopPlatform",
          data: { method, racer: racer.length > 40 ? `${racer.slice(0, 37)}...` : racer },
        });
      },
    };
  },
});
