import type { TSESTree } from "@typescript-eslint/utils";
import { isGlobalMember } from "../internal/imports.js";
import { longLived, loopOf, racers } from "../internal/loops.js";
import { createRule } from "../internal/rule.js";
import { SEED_SIGNAL_ANY } from "../internal/seeds.js";

/**
 * no-signal-any-in-loop reports `AbortSignal.any([…])` evaluated in a loop with a source that outlives the
 * iteration (a signal received from outside the loop: `signal`, `options.signal`, `this.controller.signal`).
 * Each call makes a new signal and registers it on every source; while the long-lived source has not aborted,
 * the loop adds one registration per iteration to it — the platform leak in shared/PITFALLS.md
 * (nodejs/node#54614 and its regressions). Combine once, outside the loop, and derive per-iteration signals from
 * that. Not seen: a source array built elsewhere (`AbortSignal.any(sources)`).
 */
export const noSignalAnyInLoop = createRule<"anyInLoop", []>({
  name: "no-signal-any-in-loop",
  meta: {
    type: "problem",
    docs: {
      description: "Disallow AbortSignal.any in a loop with a source signal that outlives the iteration",
      seed: SEED_SIGNAL_ANY,
      recommended: true,
      requiresTypeChecking: false,
    },
    messages: {
      anyInLoop:
        "AbortSignal.any in a loop with `{{source}}`, which outlives the iteration: each call registers a new signal on it, one more per iteration until it aborts. Combine once outside the loop. \"" +
        SEED_SIGNAL_ANY +
        "\"",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    return {
      CallExpression(node) {
        if (!isGlobalMember(context, node.callee, "AbortSignal", ["any"])) return;
        const loop = loopOf(node);
        if (!loop) return;
        for (const source of racers(node.arguments[0])) {
          const text = longLived(context, source, loop);
          if (!text) continue;
          context.report({ node: node.callee as TSESTree.MemberExpression, messageId: "anyInLoop", data: { source: text } });
          return;
        }
      },
    };
  },
});
