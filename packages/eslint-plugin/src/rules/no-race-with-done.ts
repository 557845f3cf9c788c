import { AST_NODE_TYPES, type TSESTree } from "@typescript-eslint/utils";
import { isGlobalMember } from "../internal/imports.js";
import { isFunction } from "../internal/params.js";
import { createRule } from "../internal/rule.js";
import { SEED_NO_RACE } from "../internal/seeds.js";

type MessageIds = "raceInLoop";

/**
 * inLoop reports whether `node` runs once per iteration of a loop in its own function: in a loop's body, test
 * or update, not in a `for` initialiser or the iterable of `for…of`/`for…in` (evaluated once).
 */
export function inLoop(node: TSESTree.Node): boolean {
  let child: TSESTree.Node = node;
  for (let n = node.parent; n; child = n, n = n.parent) {
    if (isFunction(n)) return false;
    switch (n.type) {
      case AST_NODE_TYPES.ForStatement:
        if (child !== n.init) return true;
        break;
      case AST_NODE_TYPES.ForOfStatement:
      case AST_NODE_TYPES.ForInStatement:
        if (child !== n.right) return true;
        break;
      case AST_NODE_TYPES.WhileStatement:
      case AST_NODE_TYPES.DoWhileStatement:
        return true;
      default:
        break;
    }
  }
  return false;
}

/**
 * no-race-with-done reports `Promise.race(…)` and `Promise.any(…)` evaluated in a loop (for, while, do,
 * for…of, for await). Each call adds a reaction to every promise in it; one that outlives the iteration — a
 * "done" or abort promise, a shared timeout — keeps every reaction (and what it closes over) until it settles:
 * nodejs/node#17469, the leak in shared/PITFALLS.md. lifeline's `select([recv(ch), recv(ctx.done())])` and
 * `ch.recv(ctx)` register a waiter and remove it when they return. The rule does not try to prove which
 * racer is long-lived: a race of promises that all settle within the iteration is safe, and worth a
 * disable comment that says so. Not seen: loops made by recursion or by `forEach`.
 */
export const noRaceWithDone = createRule<MessageIds, []>({
  name: "no-race-with-done",
  meta: {
    type: "problem",
    docs: {
      description: "Disallow Promise.race/Promise.any inside a loop, where a long-lived racer leaks a reaction per iteration",
      seed: SEED_NO_RACE,
      recommended: true,
      requiresTypeChecking: false,
    },
    messages: {
      raceInLoop:
        "Promise.{{method}} in a loop leaks: every call adds a reaction to each racer, and one that outlives the iteration (a done or abort promise) keeps them all until it settles. Use `select([..., recv(ctx.done())])` or `ch.recv(ctx)`, which unregister when they return. \"" +
        SEED_NO_RACE +
        "\"",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    return {
      CallExpression(node) {
        if (!isGlobalMember(context, node.callee, "Promise", ["race", "any"])) return;
        if (!inLoop(node)) return;
        const callee = node.callee as TSESTree.MemberExpression;
        const method = (callee.property as TSESTree.Identifier).name;
        context.report({ node: callee, messageId: "raceInLoop", data: { method } });
      },
    };
  },
});
