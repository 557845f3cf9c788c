import { AST_NODE_TYPES, ASTUtils, type TSESLint, type TSESTree } from "@typescript-eslint/utils";
import type ts from "typescript";
import { corePackages, importedName, isGlobal, localNameOf, originOf } from "../internal/imports.js";
import { CtxScope, type ParamInfo } from "../internal/params.js";
import { createRule } from "../internal/rule.js";
import { SEED_FORWARD_CONTEXT, SEED_FORWARD_SLEEP } from "../internal/seeds.js";
import { classify, isAbortSignalType, typeInfo, type TypeInfo } from "../internal/types.js";

type MessageIds =
  | "fetchWithoutSignal"
  | "timerWait"
  | "notForwarded"
  | "signalOption"
  | "suggestSignal"
  | "suggestSleep"
  | "suggestCtx";

const TIMER_MODULES = ["node:timers/promises", "timers/promises"];

/**
 * forward-context reports, inside a function that receives a ctx (a Context parameter, in that function or an
 * enclosing one), a wait or an I/O call that does not get it:
 *
 * - `fetch(url)` / `fetch(url, { … })` without `signal` (the global fetch; `@lifeline/http`'s `fetch(ctx, …)`
 *   is a different function);
 * - a timer wait: `new Promise((r) => setTimeout(r, ms))`, or `setTimeout(ms)` from `node:timers/promises`
 *   without `{ signal }`;
 * - with type information: a call whose callee's first parameter is a Context or an AbortSignal but gets
 *   nothing, `undefined`/`null`, a module-level context or signal, or `new AbortController().signal`; and a
 *   promise-returning call with an options parameter that accepts `signal`, given none.
 *
 * `background()`/`todo()` passed as the ctx are no-background-in-request's. Suggestions (not fixes: the call
 * then ends when ctx does): add `signal: ctx.signal`, use `sleep(ctx, ms)` when `sleep` is imported, pass ctx.
 */
export const forwardContext = createRule<MessageIds, []>({
  name: "forward-context",
  meta: {
    type: "problem",
    docs: {
      description: "Require a function that receives a ctx to pass it (or ctx.signal) to the waits and I/O it starts",
      seed: SEED_FORWARD_CONTEXT,
      recommended: true,
      requiresTypeChecking: false,
      typeAware:
        "checks every call against its signature: a Context/AbortSignal first parameter, or a `signal` option of a promise-returning call",
    },
    hasSuggestions: true,
    messages: {
      fetchWithoutSignal:
        "fetch() ignores `{{ctx}}`: pass `signal: {{ctx}}.signal` so the request aborts when the context ends. \"" +
        SEED_FORWARD_CONTEXT +
        "\"",
      timerWait:
        "This timer wait ignores `{{ctx}}`: use `sleep({{ctx}}, ms)` or pass `{ signal: {{ctx}}.signal }`. \"" +
        SEED_FORWARD_SLEEP +
        "\"",
      notForwarded:
        "`{{callee}}` takes a {{kind}} first but gets {{what}}, in a function that has `{{ctx}}`: pass `{{arg}}`. \"" +
        SEED_FORWARD_CONTEXT +
        "\"",
      signalOption:
        "`{{callee}}` accepts a `signal` but gets none, in a function that has `{{ctx}}`: pass `signal: {{ctx}}.signal`. \"" +
        SEED_FORWARD_CONTEXT +
        "\"",
      suggestSignal: "Pass `signal: {{ctx}}.signal`.",
      suggestSleep: "Use `{{sleep}}({{ctx}}, …)` (it rejects when the context ends).",
      suggestCtx: "Pass `{{arg}}`.",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    const info = typeInfo(context);
    const scope = new CtxScope(context, info);
    const sourceCode = context.sourceCode;
    const core = corePackages(context);
    const handled = new WeakSet<TSESTree.Node>();

    function hasSignal(obj: TSESTree.ObjectExpression): boolean {
      return obj.properties.some(
        (p) =>
          p.type === AST_NODE_TYPES.SpreadElement ||
          (p.type === AST_NODE_TYPES.Property &&
            (p.computed ||
              (p.key.type === AST_NODE_TYPES.Identifier && p.key.name === "signal") ||
              (p.key.type === AST_NODE_TYPES.Literal && p.key.value === "signal"))),
      );
    }

    /** addSignal returns the fix that adds `signal: ctx.signal` to an object literal. */
    function addSignal(fixer: TSESLint.RuleFixer, obj: TSESTree.ObjectExpression, ctx: string): TSESLint.RuleFix {
      const signal = `signal: ${ctx}.signal`;
      const last = obj.properties.at(-1);
      if (!last) return fixer.replaceText(obj, `{ ${signal} }`);
      return fixer.insertTextAfter(last, `, ${signal}`);
    }

    function checkFetch(node: TSESTree.CallExpression, ctx: ParamInfo): boolean {
      const callee = node.callee;
      const isFetch =
        (callee.type === AST_NODE_TYPES.Identifier && callee.name === "fetch" && isGlobal(context, callee)) ||
        (callee.type === AST_NODE_TYPES.MemberExpression &&
          !callee.computed &&
          callee.object.type === AST_NODE_TYPES.Identifier &&
          callee.object.name === "globalThis" &&
          callee.property.type === AST_NODE_TYPES.Identifier &&
          callee.property.name === "fetch");
      if (!isFetch) return false;
      handled.add(node);
      const [input, init] = node.arguments;
      if (!input || input.type === AST_NODE_TYPES.SpreadElement) return true;
      const data = { ctx: ctx.name };
      if (init === undefined) {
        context.report({
          node,
          messageId: "fetchWithoutSignal",
          data,
          suggest: [
            { messageId: "suggestSignal", data, fix: (f) => f.insertTextAfter(input, `, { signal: ${ctx.name}.signal }`) },
          ],
        });
      } else if (init.type === AST_NODE_TYPES.ObjectExpression) {
        if (hasSignal(init)) return true;
        context.report({
          node,
          messageId: "fetchWithoutSignal",
          data,
          suggest: [{ messageId: "suggestSignal", data, fix: (f) => addSignal(f, init, ctx.name) }],
        });
      } else if (info && init.type !== AST_NODE_TYPES.SpreadElement) {
        const type = info.services.getTypeAtLocation(init);
        if (!info.checker.getNonNullableType(type).getProperty("signal")) {
          context.report({ node, messageId: "fetchWithoutSignal", data });
        }
      }
      return true;
    }

    /** timerCallbackOf returns the setTimeout call in a Promise executor that resolves it, if that is all it is. */
    function timerIn(executor: TSESTree.Node): { timer: TSESTree.CallExpression; only: boolean } | undefined {
      if (
        executor.type !== AST_NODE_TYPES.ArrowFunctionExpression &&
        executor.type !== AST_NODE_TYPES.FunctionExpression
      ) {
        return undefined;
      }
      const resolve = executor.params[0];
      if (resolve?.type !== AST_NODE_TYPES.Identifier) return undefined;
      const statements: TSESTree.Node[] =
        executor.body.type === AST_NODE_TYPES.BlockStatement ? executor.body.body : [executor.body];
      for (const s of statements) {
        const expr = s.type === AST_NODE_TYPES.ExpressionStatement ? s.expression : s;
        if (
          expr.type !== AST_NODE_TYPES.CallExpression ||
          expr.callee.type !== AST_NODE_TYPES.Identifier ||
          expr.callee.name !== "setTimeout" ||
          !isGlobal(context, expr.callee)
        ) {
          continue;
        }
        const cb = expr.arguments[0];
        const resolves =
          (cb?.type === AST_NODE_TYPES.Identifier && cb.name === resolve.name) ||
          ((cb?.type === AST_NODE_TYPES.ArrowFunctionExpression || cb?.type === AST_NODE_TYPES.FunctionExpression) &&
            sourceCode.getText(cb.body).includes(resolve.name));
        if (!resolves) continue;
        const onlyResolve = cb?.type === AST_NODE_TYPES.Identifier || (cb !== undefined && isBareResolve(cb, resolve.name));
        return { timer: expr, only: statements.length === 1 && onlyResolve && expr.arguments.length === 2 };
      }
      return undefined;
    }

    function isBareResolve(cb: TSESTree.Node, resolve: string): boolean {
      if (cb.type !== AST_NODE_TYPES.ArrowFunctionExpression || cb.params.length > 0) return false;
      const body = cb.body;
      return (
        body.type === AST_NODE_TYPES.CallExpression &&
        body.callee.type === AST_NODE_TYPES.Identifier &&
        body.callee.name === resolve &&
        body.arguments.length === 0
      );
    }

    function checkPromiseTimer(node: TSESTree.NewExpression, ctx: ParamInfo): void {
      if (node.callee.type !== AST_NODE_TYPES.Identifier || node.callee.name !== "Promise" || !isGlobal(context, node.callee)) {
        return;
      }
      const executor = node.arguments[0];
      if (!executor) return;
      const found = timerIn(executor);
      if (!found) return;
      handled.add(found.timer);
      const sleep = localNameOf(context, "sleep", core);
      const ms = found.timer.arguments[1];
      const suggest: TSESLint.ReportSuggestionArray<MessageIds> = [];
      if (sleep && found.only && ms && ms.type !== AST_NODE_TYPES.SpreadElement) {
        suggest.push({
          messageId: "suggestSleep",
          data: { sleep, ctx: ctx.name },
          fix: (f) => f.replaceText(node, `${sleep}(${ctx.name}, ${sourceCode.getText(ms)})`),
        });
      }
      context.report({ node, messageId: "timerWait", data: { ctx: ctx.name }, suggest });
    }

    function checkTimersPromises(node: TSESTree.CallExpression, ctx: ParamInfo): boolean {
      const callee = node.callee;
      let name: string | undefined;
      if (callee.type === AST_NODE_TYPES.Identifier) {
        const origin = originOf(context, callee);
        if (origin && TIMER_MODULES.includes(origin.module)) name = origin.name;
      } else if (callee.type === AST_NODE_TYPES.MemberExpression && callee.object.type === AST_NODE_TYPES.Identifier && !callee.computed) {
        const origin = originOf(context, callee.object);
        if (origin && TIMER_MODULES.includes(origin.module) && (origin.name === "*" || origin.name === "default")) {
          name = callee.property.type === AST_NODE_TYPES.Identifier ? callee.property.name : undefined;
        }
      }
      if (name !== "setTimeout") return false;
      handled.add(node);
      const options = node.arguments[2];
      if (options?.type === AST_NODE_TYPES.ObjectExpression && hasSignal(options)) return true;
      if (options && options.type !== AST_NODE_TYPES.ObjectExpression) return true;
      const data = { ctx: ctx.name };
      const suggest: TSESLint.ReportSuggestionArray<MessageIds> = [];
      const [ms, value] = node.arguments;
      if (options?.type === AST_NODE_TYPES.ObjectExpression) {
        suggest.push({ messageId: "suggestSignal", data, fix: (f) => addSignal(f, options, ctx.name) });
      } else if (ms && value) {
        suggest.push({ messageId: "suggestSignal", data, fix: (f) => f.insertTextAfter(value, `, { signal: ${ctx.name}.signal }`) });
      } else if (ms) {
        suggest.push({
          messageId: "suggestSignal",
          data,
          fix: (f) => f.insertTextAfter(ms, `, undefined, { signal: ${ctx.name}.signal }`),
        });
      }
      context.report({ node, messageId: "timerWait", data, suggest });
      return true;
    }

    function calleeText(node: TSESTree.CallExpression | TSESTree.NewExpression): string {
      const text = sourceCode.getText(node.callee);
      return text.length > 40 ? `${text.slice(0, 37)}...` : text;
    }

    /** describeArg says why the first argument does not carry the ctx, or undefined when it may. */
    function describeArg(arg: TSESTree.Node | undefined, typed: TypeInfo): string | undefined {
      if (arg === undefined) return "nothing";
      if (arg.type === AST_NODE_TYPES.Identifier && arg.name === "undefined") return "`undefined`";
      if (arg.type === AST_NODE_TYPES.Literal && arg.value === null) return "`null`";
      if (
        arg.type === AST_NODE_TYPES.MemberExpression &&
        arg.object.type === AST_NODE_TYPES.NewExpression &&
        arg.object.callee.type === AST_NODE_TYPES.Identifier &&
        arg.object.callee.name === "AbortController"
      ) {
        return "a fresh signal that nothing aborts";
      }
      if (arg.type === AST_NODE_TYPES.Identifier) {
        const variable = ASTUtils.findVariable(sourceCode.getScope(arg), arg);
        const scopeType = variable?.scope.variableScope.type;
        if (variable && variable.defs.length > 0 && (scopeType === "module" || scopeType === "global")) {
          if (classify(typed, typed.services.getTypeAtLocation(arg))) return `the module-level \`${arg.name}\``;
        }
      }
      return undefined;
    }

    function isCoreRoot(arg: TSESTree.Node | undefined): boolean {
      if (arg?.type !== AST_NODE_TYPES.CallExpression) return false;
      const name = importedName(context, arg.callee, core);
      return name === "background" || name === "todo";
    }

    function paramType(typed: TypeInfo, symbol: ts.Symbol, at: ts.Node): ts.Type {
      return typed.checker.getTypeOfSymbolAtLocation(symbol, at);
    }

    function isPromiseLike(type: ts.Type): boolean {
      return type.getProperty("then") !== undefined;
    }

    /** signalOptionType reports whether a parameter type is an options object that accepts an AbortSignal `signal`. */
    function acceptsSignal(typed: TypeInfo, type: ts.Type, at: ts.Node): boolean {
      const nonNull = typed.checker.getNonNullableType(type);
      const parts = nonNull.isUnion() ? nonNull.types : [nonNull];
      return parts.some((t) => {
        if (isAbortSignalType(t)) return false;
        const signal = t.getProperty("signal");
        if (!signal) return false;
        const st = typed.checker.getNonNullableType(typed.checker.getTypeOfSymbolAtLocation(signal, at));
        return (st.isUnion() ? st.types : [st]).some(isAbortSignalType);
      });
    }

    function checkSignature(node: TSESTree.CallExpression | TSESTree.NewExpression, ctx: ParamInfo, typed: TypeInfo): void {
      if (handled.has(node)) return;
      const signature = typed.services.getResolvedSignature(node);
      if (!signature) return;
      const tsNode = typed.services.esTreeNodeToTSNodeMap.get(node);
      const params = signature.getParameters();
      const first = params[0];
      if (first) {
        const kind = classify(typed, paramType(typed, first, tsNode));
        if (kind) {
          const arg = node.arguments[0];
          if (isCoreRoot(arg)) return;
          const what = describeArg(arg, typed);
          if (what === undefined) return;
          const argText = kind.kind === "context" ? ctx.name : `${ctx.name}.signal`;
          const data = {
            callee: calleeText(node),
            kind: kind.kind === "context" ? "Context" : "AbortSignal",
            what,
            ctx: ctx.name,
            arg: argText,
          };
          const suggest: TSESLint.ReportSuggestionArray<MessageIds> = [];
          if (arg === undefined && node.arguments.length === 0) {
            const open = sourceCode.getTokenAfter(node.callee, (t) => t.value === "(");
            if (open && (node.type === AST_NODE_TYPES.CallExpression ? !node.typeArguments : true)) {
              suggest.push({ messageId: "suggestCtx", data, fix: (f) => f.insertTextAfter(open, argText) });
            }
          } else if (arg && arg.type !== AST_NODE_TYPES.SpreadElement) {
            suggest.push({ messageId: "suggestCtx", data, fix: (f) => f.replaceText(arg, argText) });
          }
          context.report({ node, messageId: "notForwarded", data, suggest });
          return;
        }
      }
      if (!isPromiseLike(signature.getReturnType())) return;
      for (let i = 0; i < params.length; i++) {
        if (!acceptsSignal(typed, paramType(typed, params[i]!, tsNode), tsNode)) continue;
        const arg = node.arguments[i];
        const data = { callee: calleeText(node), ctx: ctx.name };
        if (arg === undefined) {
          // Only when the missing options are the last thing: otherwise the arguments are spread or shifted.
          if (node.arguments.some((a) => a.type === AST_NODE_TYPES.SpreadElement)) return;
          const prev = node.arguments.at(-1);
          const suggest: TSESLint.ReportSuggestionArray<MessageIds> =
            prev && i === node.arguments.length
              ? [{ messageId: "suggestSignal", data, fix: (f) => f.insertTextAfter(prev, `, { signal: ${ctx.name}.signal }`) }]
              : [];
          context.report({ node, messageId: "signalOption", data, suggest });
        } else if (arg.type === AST_NODE_TYPES.ObjectExpression && !hasSignal(arg)) {
          context.report({
            node,
            messageId: "signalOption",
            data,
            suggest: [{ messageId: "suggestSignal", data, fix: (f) => addSignal(f, arg, ctx.name) }],
          });
        }
        return;
      }
    }

    return {
      CallExpression(node) {
        const ctx = scope.of(node);
        if (!ctx) return;
        if (checkFetch(node, ctx)) return;
        if (checkTimersPromises(node, ctx)) return;
        if (info) checkSignature(node, ctx, info);
      },
      NewExpression(node) {
        const ctx = scope.of(node);
        if (!ctx) return;
        checkPromiseTimer(node, ctx);
        if (info) checkSignature(node, ctx, info);
      },
    };
  },
});
