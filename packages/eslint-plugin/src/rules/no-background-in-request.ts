import type { TSESLint } from "@typescript-eslint/utils";
import { corePackages, importedName, importsFrom, localNameOf } from "../internal/imports.js";
import { CtxScope } from "../internal/params.js";
import { createRule } from "../internal/rule.js";
import { SEED_NO_BACKGROUND } from "../internal/seeds.js";
import { typeInfo } from "../internal/types.js";

type MessageIds = "background" | "suggestCtx" | "suggestWithoutCancel";

/**
 * no-background-in-request reports `background()` or `todo()` from `@lifeline/core` called inside a function
 * that already receives a ctx (a Context parameter of it or of an enclosing function): the work it starts is
 * cut loose from the request's cancellation, deadline and values. Module-level code (a program's `main`) is
 * where they belong. Suggestions: use `ctx`, or `withoutCancel(ctx)` (when imported) for work that must
 * outlive the request but keep its values.
 */
export const noBackgroundInRequest = createRule<MessageIds, []>({
  name: "no-background-in-request",
  meta: {
    type: "problem",
    docs: {
      description: "Disallow background()/todo() in a function that already receives a ctx",
      seed: SEED_NO_BACKGROUND,
      recommended: true,
      requiresTypeChecking: false,
      typeAware: "recognises the ctx parameter by type, not only by a Context annotation or (in JS) the name ctx",
    },
    hasSuggestions: true,
    messages: {
      background:
        "`{{fn}}()` in a function that receives `{{ctx}}` cuts this work loose from its cancellation and deadline: derive from `{{ctx}}` (or `withoutCancel({{ctx}})` for work that must outlive it). \"" +
        SEED_NO_BACKGROUND +
        "\"",
      suggestCtx: "Use `{{ctx}}`.",
      suggestWithoutCancel: "Use `{{withoutCancel}}({{ctx}})`: its values, not its cancellation.",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    const core = corePackages(context);
    if (!importsFrom(context, core)) return {};
    const scope = new CtxScope(context, typeInfo(context));
    return {
      CallExpression(node) {
        const fn = importedName(context, node.callee, core);
        if (fn !== "background" && fn !== "todo") return;
        const ctx = scope.of(node);
        if (!ctx) return;
        const suggest: TSESLint.ReportSuggestionArray<MessageIds> = [
          { messageId: "suggestCtx", data: { ctx: ctx.name }, fix: (f) => f.replaceText(node, ctx.name) },
        ];
        const withoutCancel = localNameOf(context, "withoutCancel", core);
        if (withoutCancel) {
          suggest.push({
            messageId: "suggestWithoutCancel",
            data: { ctx: ctx.name, withoutCancel },
            fix: (f) => f.replaceText(node, `${withoutCancel}(${ctx.name})`),
          });
        }
        context.report({ node, messageId: "background", data: { fn, ctx: ctx.name }, suggest });
      },
    };
  },
});
