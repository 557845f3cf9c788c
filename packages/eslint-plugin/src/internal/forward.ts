// The checks forward-context (a ctx in scope) and forward-signal (an AbortSignal in scope) share: the same calls,
// followed through the same values, with messages for lifeline's users and for everyone else.
import { AST_NODE_TYPES, ASTUtils, type TSESLint, type TSESTree } from "@typescript-eslint/utils";
import type ts from "typescript";
import { CANCEL_FUNCTIONS, corePackages, importedName, importsFrom, isGlobal, localNameOf, originOf, type AnyContext } from "./imports.js";
import { CtxScope, SIGNAL_KEYS, SignalScope, contextParams, isFunction, type FunctionNode } from "./params.js";
import { classify, isAbortSignalType, typeInfo, type TypeInfo } from "./types.js";

/** The message ids both rules report with. */
export type ForwardMessageIds =
  | "fetchWithoutSignal"
  | "timerWait"
  | "notForwarded"
  | "signalOption"
  | "afterEnd"
  | "endedSignal"
  | "unused"
  | "suggestSignal"
  | "suggestSleep"
  | "suggestCtx"
  | "suggestWithoutCancel";

const TIMER_MODULES = ["node:timers/promises", "timers/promises"];
const NODE_MODULE = "@lifeline/node";

/**
 * Carrier is what the code in scope has to forward: for forward-context a ctx (`name` is the ctx, `signal` is
 * `ctx.signal`), for forward-signal an AbortSignal (`name` and `signal` are the expression that reads it).
 */
interface Carrier {
  /** The binding that holds the ctx, the signal, or the options object with the signal. */
  root: string;
  name: string;
  signal: string;
  /** The argument to pass where a callee wants a Context first, or undefined (forward-signal has none). */
  context: string | undefined;
}

/**
 * Ended says that the code runs after a context (or a signal) ended: in `afterFunc(ctx, fn)`'s fn, in an
 * `'abort'` listener, or in a `finally` after the cancel (or `controller.abort()`) ran. Its signal is aborted there.
 */
interface Ended {
  /** The ended context's text (`ctx`), when it is a context. */
  ctx: string | undefined;
  /** The texts that read its signal: `ctx.signal`, `signal`. */
  signals: string[];
  /** What makes it ended, for the message. */
  why: string;
}

/** createForward returns the listeners of forward-context (`mode: "context"`) or forward-signal (`"signal"`). */
export function createForward(
  context: Readonly<TSESLint.RuleContext<ForwardMessageIds, []>>,
  mode: "context" | "signal",
): TSESLint.RuleListener {
  const info = typeInfo(context as AnyContext, mode);
  const ctxScope = new CtxScope(context as AnyContext, info);
  const signalScope = new SignalScope(context as AnyContext, info);
  const sourceCode = context.sourceCode;
  const core = corePackages(context as AnyContext);
  // Without types, a ctx is only seen through an import from lifeline: none, nothing for forward-context to do.
  if (mode === "context" && !info && !importsFrom(context as AnyContext, core)) return {};
  const handled = new WeakSet<TSESTree.Node>();
  const text = (n: TSESTree.Node): string => sourceCode.getText(n);
  // The local names under which node:timers/promises' setTimeout is imported in this file.
  const timerLocals = new Set<string>();
  for (const s of sourceCode.ast.body) {
    if (s.type !== AST_NODE_TYPES.ImportDeclaration || !TIMER_MODULES.includes(s.source.value)) continue;
    for (const spec of s.specifiers) timerLocals.add(spec.local.name);
  }
  // Functions with a finding inside: an unused ctx/signal there is not reported again.
  const reportedIn = new WeakSet<TSESTree.Node>();
  const report = (descriptor: TSESLint.ReportDescriptor<ForwardMessageIds>): void => {
    if ("node" in descriptor) for (let n: TSESTree.Node | undefined = descriptor.node as TSESTree.Node; n; n = n.parent) reportedIn.add(n);
    context.report(descriptor);
  };

  function carrierAt(node: TSESTree.Node): Carrier | undefined {
    if (mode === "context") {
      const ctx = ctxScope.of(node);
      return ctx && { root: ctx.name, name: ctx.name, signal: `${ctx.name}.signal`, context: ctx.name };
    }
    const signal = signalScope.of(node);
    return signal && { root: signal.id.name, name: signal.text, signal: signal.text, context: undefined };
  }

  // --- Values, followed through variables -------------------------------------------------------------------

  /** definitionOf returns the one initialiser of a `const`/`let` that is never reassigned, seen through `as`. */
  function definitionOf(id: TSESTree.Identifier): TSESTree.Expression | undefined {
    const variable = ASTUtils.findVariable(sourceCode.getScope(id), id);
    if (!variable || variable.defs.length !== 1) return undefined;
    const def = variable.defs[0]!;
    if (def.type !== "Variable" || def.node.type !== AST_NODE_TYPES.VariableDeclarator || def.node.id !== def.name) return undefined;
    if (variable.references.some((r) => r.isWrite() && r.identifier !== def.name)) return undefined;
    let init: TSESTree.Expression | null | undefined = def.node.init;
    while (init && (init.type === AST_NODE_TYPES.TSAsExpression || init.type === AST_NODE_TYPES.TSSatisfiesExpression)) {
      init = init.expression;
    }
    return init ?? undefined;
  }

  /** resolve follows an identifier to its object literal or `new Request(…)`, at most a few steps. */
  function resolve(node: TSESTree.Node, depth = 0): TSESTree.Node {
    if (depth < 4 && node.type === AST_NODE_TYPES.Identifier) {
      const init = definitionOf(node);
      if (init) return resolve(init, depth + 1);
    }
    return node;
  }

  function propertyKey(p: TSESTree.Property): string | undefined {
    if (p.computed) return undefined;
    if (p.key.type === AST_NODE_TYPES.Identifier) return p.key.name;
    if (p.key.type === AST_NODE_TYPES.Literal) return String(p.key.value);
    return undefined;
  }

  /**
   * signalIn says what an init/options object gives as `signal`: the property's value, `"unknown"` when a spread
   * or computed key may carry one, or undefined when it has none.
   */
  function signalIn(obj: TSESTree.ObjectExpression, keys = ["signal"]): TSESTree.Node | "unknown" | undefined {
    let found: TSESTree.Node | "unknown" | undefined;
    for (const p of obj.properties) {
      if (p.type === AST_NODE_TYPES.SpreadElement) {
        const spread = resolve(p.argument);
        if (spread.type === AST_NODE_TYPES.ObjectExpression) {
          const inner = signalIn(spread, keys);
          if (inner !== undefined) found = inner;
        } else {
          found = "unknown";
        }
        continue;
      }
      const key = propertyKey(p);
      if (key === undefined) found = "unknown";
      else if (keys.includes(key)) found = p.value;
    }
    return found;
  }

  /** isRequestType reports whether a value's type is the platform's Request (it carries its own signal). */
  function isRequestType(node: TSESTree.Node): boolean {
    if (node.type === AST_NODE_TYPES.Identifier) {
      const variable = ASTUtils.findVariable(sourceCode.getScope(node), node);
      const def = variable?.defs[0];
      if (def?.type === "Parameter" && def.name.type === AST_NODE_TYPES.Identifier) {
        const ann = def.name.typeAnnotation?.typeAnnotation;
        if (ann?.type === AST_NODE_TYPES.TSTypeReference && ann.typeName.type === AST_NODE_TYPES.Identifier && ann.typeName.name === "Request") {
          return true;
        }
      }
    }
    if (!info) return false;
    const type = info.checker.getNonNullableType(info.services.getTypeAtLocation(node));
    return (type.isUnion() ? type.types : [type]).some((t) => t.getSymbol()?.getName() === "Request");
  }

  /**
   * fetchSignal says what signal a `fetch(input, init)` call gets: a node, `"unknown"` (a Request or an init we
   * cannot see into), or undefined (none).
   */
  function fetchSignal(input: TSESTree.Node, init: TSESTree.Node | undefined): TSESTree.Node | "unknown" | undefined {
    if (init !== undefined) {
      const obj = resolve(init);
      if (obj.type === AST_NODE_TYPES.ObjectExpression) {
        const s = signalIn(obj);
        if (s !== undefined) return s;
      } else if (obj.type === AST_NODE_TYPES.Identifier && info) {
        const type = info.checker.getNonNullableType(info.services.getTypeAtLocation(obj));
        if (type.getProperty("signal")) return "unknown";
        return fromInput(input);
      } else if (!(obj.type === AST_NODE_TYPES.Identifier && obj.name === "undefined")) {
        return "unknown";
      }
    }
    return fromInput(input);
  }

  function fromInput(input: TSESTree.Node): TSESTree.Node | "unknown" | undefined {
    const value = resolve(input);
    if (value.type === AST_NODE_TYPES.NewExpression && value.callee.type === AST_NODE_TYPES.Identifier && value.callee.name === "Request") {
      const [inner, innerInit] = value.arguments;
      if (!inner || inner.type === AST_NODE_TYPES.SpreadElement) return "unknown";
      return fetchSignal(inner, innerInit?.type === AST_NODE_TYPES.SpreadElement ? inner : innerInit);
    }
    if (value.type === AST_NODE_TYPES.Literal || value.type === AST_NODE_TYPES.TemplateLiteral) return undefined;
    if (value.type === AST_NODE_TYPES.NewExpression && value.callee.type === AST_NODE_TYPES.Identifier && value.callee.name === "URL") return undefined;
    if (isRequestType(value)) return "unknown";
    return undefined;
  }

  // --- Code that runs after the context ended -----------------------------------------------------------------

  function signalTexts(ctxOrSignal: string, isContext: boolean): string[] {
    return isContext ? [`${ctxOrSignal}.signal`] : [ctxOrSignal];
  }

  /** cancelOwner returns the ctx a cancel function belongs to (`const [ctx, cancel] = withCancel(…)`). */
  function cancelOwner(id: TSESTree.Identifier): string | undefined {
    const variable = ASTUtils.findVariable(sourceCode.getScope(id), id);
    const def = variable?.defs[0];
    if (def?.type !== "Variable" || def.node.id.type !== AST_NODE_TYPES.ArrayPattern) return undefined;
    const [first, second] = def.node.id.elements;
    if (second !== def.name || first?.type !== AST_NODE_TYPES.Identifier) return undefined;
    const init = def.node.init;
    if (init?.type !== AST_NODE_TYPES.CallExpression) return undefined;
    const name = importedName(context as AnyContext, init.callee, core) ?? importedName(context as AnyContext, init.callee, [NODE_MODULE]);
    return name && (CANCEL_FUNCTIONS.has(name) || name === "notifyContext") ? first.name : undefined;
  }

  /** endedBy returns what a statement ends: `cancel()` ends its ctx, `controller.abort()` its signal. */
  function endedBy(statement: TSESTree.Statement): Ended | undefined {
    if (statement.type !== AST_NODE_TYPES.ExpressionStatement) return undefined;
    let call = statement.expression;
    if (call.type === AST_NODE_TYPES.ChainExpression) call = call.expression;
    if (call.type !== AST_NODE_TYPES.CallExpression) return undefined;
    if (call.callee.type === AST_NODE_TYPES.Identifier) {
      const ctx = cancelOwner(call.callee);
      if (ctx) return { ctx, signals: signalTexts(ctx, true), why: `\`${call.callee.name}()\` ended \`${ctx}\`` };
    }
    if (
      call.callee.type === AST_NODE_TYPES.MemberExpression &&
      !call.callee.computed &&
      call.callee.property.type === AST_NODE_TYPES.Identifier &&
      call.callee.property.name === "abort"
    ) {
      const controller = text(call.callee.object);
      return { ctx: undefined, signals: [`${controller}.signal`], why: `\`${controller}.abort()\` aborted it` };
    }
    return undefined;
  }

  /** endedAt returns the ended context or signal that `node` runs after, if any. */
  function endedAt(node: TSESTree.Node): Ended | undefined {
    let child: TSESTree.Node = node;
    for (let n = node.parent; n; child = n, n = n.parent) {
      if (isFunction(child) && (n.type === AST_NODE_TYPES.CallExpression) && n.arguments[1] === child) {
        const first = n.arguments[0];
        // afterFunc(ctx, fn): fn runs once ctx is done.
        if (first && first.type !== AST_NODE_TYPES.SpreadElement && importedName(context as AnyContext, n.callee, core) === "afterFunc") {
          const ctx = text(first);
          return { ctx, signals: signalTexts(ctx, true), why: `\`afterFunc\` runs it once \`${ctx}\` is done` };
        }
        // signal.addEventListener("abort", fn)
        if (
          first?.type === AST_NODE_TYPES.Literal &&
          first.value === "abort" &&
          n.callee.type === AST_NODE_TYPES.MemberExpression &&
          n.callee.property.type === AST_NODE_TYPES.Identifier &&
          n.callee.property.name === "addEventListener"
        ) {
          return abortListener(n.callee.object);
        }
      }
      // signal.onabort = fn
      if (
        isFunction(child) &&
        n.type === AST_NODE_TYPES.AssignmentExpression &&
        n.right === child &&
        n.left.type === AST_NODE_TYPES.MemberExpression &&
        n.left.property.type === AST_NODE_TYPES.Identifier &&
        n.left.property.name === "onabort"
      ) {
        return abortListener(n.left.object);
      }
      // try { … } finally { cancel(); <here> }
      if (n.type === AST_NODE_TYPES.BlockStatement && n.parent?.type === AST_NODE_TYPES.TryStatement && n.parent.finalizer === n) {
        const index = n.body.indexOf(child as TSESTree.Statement);
        for (let i = 0; i < index; i++) {
          const ended = endedBy(n.body[i]!);
          if (ended) return ended;
        }
      }
    }
    return undefined;
  }

  function abortListener(target: TSESTree.Node): Ended {
    const signal = text(target);
    const ctx =
      target.type === AST_NODE_TYPES.MemberExpression &&
      !target.computed &&
      target.property.type === AST_NODE_TYPES.Identifier &&
      target.property.name === "signal"
        ? text(target.object)
        : undefined;
    return { ctx: mode === "context" ? ctx : undefined, signals: [signal], why: `an 'abort' listener runs once \`${signal}\` aborted` };
  }

  /** forwardsEnded reports whether a given signal expression is the ended one. */
  function forwardsEnded(value: TSESTree.Node, ended: Ended): boolean {
    const t = text(value).replace(/\?\./g, ".");
    return ended.signals.includes(t) || (ended.ctx !== undefined && t === ended.ctx);
  }

  function withoutCancelName(): string | undefined {
    return localNameOf(context as AnyContext, "withoutCancel", core);
  }

  /** reportEnded reports a call given a signal that already aborted, with the withoutCancel suggestion if it fits. */
  function reportEnded(node: TSESTree.Node, value: TSESTree.Node, ended: Ended): void {
    const wc = withoutCancelName();
    const suggest: TSESLint.ReportSuggestionArray<ForwardMessageIds> = [];
    if (wc && ended.ctx !== undefined) {
      const replacement = `${wc}(${ended.ctx}).signal`;
      suggest.push({ messageId: "suggestWithoutCancel", data: { replacement }, fix: (f) => f.replaceText(value, replacement) });
    }
    report({ node, messageId: "endedSignal", data: { value: text(value), why: ended.why, ctx: ended.ctx ?? "" }, suggest });
  }

  // --- fetch ---------------------------------------------------------------------------------------------------

  /** addSignal returns the fix that adds `signal: …` to an object literal. */
  function addSignal(fixer: TSESLint.RuleFixer, obj: TSESTree.ObjectExpression, signal: string): TSESLint.RuleFix {
    const last = obj.properties.at(-1);
    if (!last) return fixer.replaceText(obj, `{ signal: ${signal} }`);
    return fixer.insertTextAfter(last, `, signal: ${signal}`);
  }

  function isFetch(callee: TSESTree.Node): boolean {
    return (
      (callee.type === AST_NODE_TYPES.Identifier && callee.name === "fetch" && isGlobal(context as AnyContext, callee)) ||
      (callee.type === AST_NODE_TYPES.MemberExpression &&
        !callee.computed &&
        callee.object.type === AST_NODE_TYPES.Identifier &&
        callee.object.name === "globalThis" &&
        callee.property.type === AST_NODE_TYPES.Identifier &&
        callee.property.name === "fetch")
    );
  }

  function checkFetch(node: TSESTree.CallExpression): boolean {
    if (!isFetch(node.callee)) return false;
    handled.add(node);
    const [input, init] = node.arguments;
    if (!input || input.type === AST_NODE_TYPES.SpreadElement || init?.type === AST_NODE_TYPES.SpreadElement) return true;
    const given = fetchSignal(input, init);
    const ended = endedAt(node);
    if (given !== undefined) {
      if (given !== "unknown" && ended && forwardsEnded(given, ended)) reportEnded(node, given, ended);
      return true;
    }
    if (ended) {
      // After the end there is nothing to forward: in forward-context, offer a context that keeps the values.
      if (mode === "signal" || ended.ctx === undefined) return true;
      const wc = withoutCancelName();
      const signal = `${wc ?? "withoutCancel"}(${ended.ctx}).signal`;
      const suggest: TSESLint.ReportSuggestionArray<ForwardMessageIds> = [];
      if (wc) suggest.push(...signalSuggestion(input, init, signal, "suggestWithoutCancel", { replacement: signal }));
      report({ node, messageId: "afterEnd", data: { ctx: ended.ctx, why: ended.why }, suggest });
      return true;
    }
    const carrier = carrierAt(node);
    if (!carrier) return true;
    const data = { ctx: carrier.name, signal: carrier.signal };
    report({ node, messageId: "fetchWithoutSignal", data, suggest: signalSuggestion(input, init, carrier.signal, "suggestSignal", data) });
    return true;
  }

  function signalSuggestion(
    input: TSESTree.Node,
    init: TSESTree.Node | undefined,
    signal: string,
    messageId: "suggestSignal" | "suggestWithoutCancel",
    data: Record<string, string>,
  ): TSESLint.ReportSuggestionArray<ForwardMessageIds> {
    if (init === undefined) return [{ messageId, data, fix: (f) => f.insertTextAfter(input, `, { signal: ${signal} }`) }];
    if (init.type === AST_NODE_TYPES.ObjectExpression) return [{ messageId, data, fix: (f) => addSignal(f, init, signal) }];
    return [];
  }

  // --- timers --------------------------------------------------------------------------------------------------

  /** timerIn returns the setTimeout call in a Promise executor that resolves it, if that is all it is. */
  function timerIn(executor: TSESTree.Node): { timer: TSESTree.CallExpression; only: boolean } | undefined {
    if (executor.type !== AST_NODE_TYPES.ArrowFunctionExpression && executor.type !== AST_NODE_TYPES.FunctionExpression) {
      return undefined;
    }
    const resolveParam = executor.params[0];
    if (resolveParam?.type !== AST_NODE_TYPES.Identifier) return undefined;
    const statements: TSESTree.Node[] = executor.body.type === AST_NODE_TYPES.BlockStatement ? executor.body.body : [executor.body];
    for (const s of statements) {
      const expr = s.type === AST_NODE_TYPES.ExpressionStatement ? s.expression : s;
      if (
        expr.type !== AST_NODE_TYPES.CallExpression ||
        expr.callee.type !== AST_NODE_TYPES.Identifier ||
        expr.callee.name !== "setTimeout" ||
        !isGlobal(context as AnyContext, expr.callee)
      ) {
        continue;
      }
      const cb = expr.arguments[0];
      const resolves =
        (cb?.type === AST_NODE_TYPES.Identifier && cb.name === resolveParam.name) ||
        ((cb?.type === AST_NODE_TYPES.ArrowFunctionExpression || cb?.type === AST_NODE_TYPES.FunctionExpression) &&
          text(cb.body).includes(resolveParam.name));
      if (!resolves) continue;
      const onlyResolve = cb?.type === AST_NODE_TYPES.Identifier || (cb !== undefined && isBareResolve(cb, resolveParam.name));
      return { timer: expr, only: statements.length === 1 && onlyResolve && expr.arguments.length === 2 };
    }
    return undefined;
  }

  function isBareResolve(cb: TSESTree.Node, name: string): boolean {
    if (cb.type !== AST_NODE_TYPES.ArrowFunctionExpression || cb.params.length > 0) return false;
    const body = cb.body;
    return body.type === AST_NODE_TYPES.CallExpression && body.callee.type === AST_NODE_TYPES.Identifier && body.callee.name === name && body.arguments.length === 0;
  }

  function checkPromiseTimer(node: TSESTree.NewExpression): void {
    if (node.callee.type !== AST_NODE_TYPES.Identifier || node.callee.name !== "Promise" || !isGlobal(context as AnyContext, node.callee)) return;
    const executor = node.arguments[0];
    if (!executor) return;
    const found = timerIn(executor);
    if (!found) return;
    handled.add(found.timer);
    if (endedAt(node)) return;
    const carrier = carrierAt(node);
    if (!carrier) return;
    const suggest: TSESLint.ReportSuggestionArray<ForwardMessageIds> = [];
    const sleep = mode === "context" ? localNameOf(context as AnyContext, "sleep", core) : undefined;
    const ms = found.timer.arguments[1];
    if (sleep && found.only && ms && ms.type !== AST_NODE_TYPES.SpreadElement) {
      suggest.push({ messageId: "suggestSleep", data: { sleep, ctx: carrier.name }, fix: (f) => f.replaceText(node, `${sleep}(${carrier.name}, ${text(ms)})`) });
    }
    report({ node, messageId: "timerWait", data: { ctx: carrier.name, signal: carrier.signal }, suggest });
  }

  function checkTimersPromises(node: TSESTree.CallExpression): boolean {
    const callee = node.callee;
    // Cheap test first: only `setTimeout` or `x.setTimeout` (and a renamed import, seen by its origin) can be one.
    if (callee.type === AST_NODE_TYPES.MemberExpression) {
      if (callee.property.type !== AST_NODE_TYPES.Identifier || callee.property.name !== "setTimeout") return false;
    } else if (callee.type !== AST_NODE_TYPES.Identifier || !timerLocals.has(callee.name)) {
      return false;
    }
    let name: string | undefined;
    if (callee.type === AST_NODE_TYPES.Identifier) {
      const origin = originOf(context as AnyContext, callee);
      if (origin && TIMER_MODULES.includes(origin.module)) name = origin.name;
    } else if (callee.type === AST_NODE_TYPES.MemberExpression && callee.object.type === AST_NODE_TYPES.Identifier && !callee.computed) {
      const origin = originOf(context as AnyContext, callee.object);
      if (origin && TIMER_MODULES.includes(origin.module) && (origin.name === "*" || origin.name === "default")) {
        name = callee.property.type === AST_NODE_TYPES.Identifier ? callee.property.name : undefined;
      }
    }
    if (name !== "setTimeout") return false;
    handled.add(node);
    const options = node.arguments[2];
    const ended = endedAt(node);
    if (options?.type === AST_NODE_TYPES.ObjectExpression) {
      const given = signalIn(options);
      if (given !== undefined) {
        if (given !== "unknown" && ended && forwardsEnded(given, ended)) reportEnded(node, given, ended);
        return true;
      }
    } else if (options) {
      return true;
    }
    if (ended) return true;
    const carrier = carrierAt(node);
    if (!carrier) return true;
    const data = { ctx: carrier.name, signal: carrier.signal };
    const suggest: TSESLint.ReportSuggestionArray<ForwardMessageIds> = [];
    const [ms, value] = node.arguments;
    if (options?.type === AST_NODE_TYPES.ObjectExpression) {
      suggest.push({ messageId: "suggestSignal", data, fix: (f) => addSignal(f, options, carrier.signal) });
    } else if (ms && value) {
      suggest.push({ messageId: "suggestSignal", data, fix: (f) => f.insertTextAfter(value, `, { signal: ${carrier.signal} }`) });
    } else if (ms) {
      suggest.push({ messageId: "suggestSignal", data, fix: (f) => f.insertTextAfter(ms, `, undefined, { signal: ${carrier.signal} }`) });
    }
    report({ node, messageId: "timerWait", data, suggest });
    return true;
  }

  // --- calls checked against their signature (types) ----------------------------------------------------------

  function calleeText(node: TSESTree.CallExpression | TSESTree.NewExpression): string {
    const t = text(node.callee);
    return t.length > 40 ? `${t.slice(0, 37)}...` : t;
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
    const name = importedName(context as AnyContext, arg.callee, core);
    return name === "background" || name === "todo";
  }

  function paramType(typed: TypeInfo, symbol: ts.Symbol, at: ts.Node): ts.Type {
    return typed.checker.getTypeOfSymbolAtLocation(symbol, at);
  }

  /** acceptsSignal reports whether a parameter type is an options object that accepts an AbortSignal `signal`. */
  function acceptsSignal(typed: TypeInfo, type: ts.Type, at: ts.Node): string | undefined {
    const nonNull = typed.checker.getNonNullableType(type);
    const parts = nonNull.isUnion() ? nonNull.types : [nonNull];
    for (const t of parts) {
      if (isAbortSignalType(t)) continue;
      for (const key of SIGNAL_KEYS) {
        const signal = t.getProperty(key);
        if (!signal) continue;
        const st = typed.checker.getNonNullableType(typed.checker.getTypeOfSymbolAtLocation(signal, at));
        if ((st.isUnion() ? st.types : [st]).some(isAbortSignalType)) return key;
      }
    }
    return undefined;
  }

  function checkSignature(node: TSESTree.CallExpression | TSESTree.NewExpression, typed: TypeInfo): void {
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
        const ended = endedAt(node);
        // An ended ctx may still be passed for its values (a logger); only its signal fails at once.
        if (ended && kind.kind === "signal" && arg && arg.type !== AST_NODE_TYPES.SpreadElement && forwardsEnded(arg, ended)) {
          reportEnded(node, arg, ended);
          return;
        }
        if (ended) return;
        const carrier = carrierAt(node);
        if (!carrier || isCoreRoot(arg)) return;
        const argText = kind.kind === "context" ? carrier.context : carrier.signal;
        if (argText === undefined) return;
        const what = describeArg(arg, typed);
        if (what === undefined) return;
        const data = {
          callee: calleeText(node),
          kind: kind.kind === "context" ? "Context" : "AbortSignal",
          what,
          ctx: carrier.name,
          arg: argText,
        };
        const suggest: TSESLint.ReportSuggestionArray<ForwardMessageIds> = [];
        if (arg === undefined && node.arguments.length === 0) {
          const open = sourceCode.getTokenAfter(node.callee, (t) => t.value === "(");
          if (open && (node.type === AST_NODE_TYPES.CallExpression ? !node.typeArguments : true)) {
            suggest.push({ messageId: "suggestCtx", data, fix: (f) => f.insertTextAfter(open, argText) });
          }
        } else if (arg && arg.type !== AST_NODE_TYPES.SpreadElement) {
          suggest.push({ messageId: "suggestCtx", data, fix: (f) => f.replaceText(arg, argText) });
        }
        report({ node, messageId: "notForwarded", data, suggest });
        return;
      }
    }
    if (signature.getReturnType().getProperty("then") === undefined) return;
    for (let i = 0; i < params.length; i++) {
      const key = acceptsSignal(typed, paramType(typed, params[i]!, tsNode), tsNode);
      if (!key) continue;
      const arg = node.arguments[i];
      const ended = endedAt(node);
      if (arg && arg.type !== AST_NODE_TYPES.SpreadElement) {
        const obj = resolve(arg);
        if (obj.type !== AST_NODE_TYPES.ObjectExpression) return;
        const given = signalIn(obj, [key]);
        if (given !== undefined) {
          if (given !== "unknown" && ended && forwardsEnded(given, ended)) reportEnded(node, given, ended);
          return;
        }
      }
      if (ended) return;
      const carrier = carrierAt(node);
      if (!carrier) return;
      const data = { callee: calleeText(node), ctx: carrier.name, signal: carrier.signal, key };
      if (arg === undefined) {
        // Only when the missing options are the last thing: otherwise the arguments are spread or shifted.
        if (node.arguments.some((a) => a.type === AST_NODE_TYPES.SpreadElement)) return;
        const prev = node.arguments.at(-1);
        const suggest: TSESLint.ReportSuggestionArray<ForwardMessageIds> =
          prev && i === node.arguments.length
            ? [{ messageId: "suggestSignal", data, fix: (f) => f.insertTextAfter(prev, `, { ${key}: ${carrier.signal} }`) }]
            : [];
        report({ node, messageId: "signalOption", data, suggest });
      } else if (arg.type === AST_NODE_TYPES.ObjectExpression) {
        report({
          node,
          messageId: "signalOption",
          data,
          suggest: [
            {
              messageId: "suggestSignal",
              data,
              fix: (f) => {
                const last = arg.properties.at(-1);
                return last ? f.insertTextAfter(last, `, ${key}: ${carrier.signal}`) : f.replaceText(arg, `{ ${key}: ${carrier.signal} }`);
              },
            },
          ],
        });
      }
      return;
    }
  }

  // --- a ctx or signal received, never used, in a function that waits ------------------------------------------

  const awaiting = new WeakSet<FunctionNode>();

  function markAwait(node: TSESTree.Node): void {
    for (let n = node.parent; n; n = n.parent) {
      if (isFunction(n)) {
        awaiting.add(n);
        return;
      }
    }
  }

  /** isUsed reports whether a received ctx/signal is read anywhere (for an options object: its signal, or itself whole). */
  function isUsed(fn: FunctionNode, id: TSESTree.Identifier, viaOptions: boolean): boolean {
    const variable = sourceCode.getDeclaredVariables(fn).find((v) => v.identifiers.includes(id));
    if (!variable) return true;
    for (const ref of variable.references) {
      if (ref.init || ref.identifier === id) continue;
      if (!viaOptions) return true;
      const m = ref.identifier.parent;
      if (m?.type !== AST_NODE_TYPES.MemberExpression || m.object !== ref.identifier || m.computed) return true;
      if (m.property.type === AST_NODE_TYPES.Identifier && SIGNAL_KEYS.includes(m.property.name)) return true;
    }
    return false;
  }

  function checkUnused(fn: FunctionNode): void {
    if (!awaiting.has(fn) || reportedIn.has(fn)) return;
    if (mode === "context") {
      const ctx = contextParams(context as AnyContext, info, fn.params, { byName: true })[0];
      if (ctx && !ctx.name.startsWith("_") && !isUsed(fn, ctx.id, false)) {
        report({ node: ctx.id, messageId: "unused", data: { ctx: ctx.name, signal: `${ctx.name}.signal` } });
      }
      return;
    }
    const signal = signalScope.own(fn);
    if (signal && !signal.id.name.startsWith("_") && !isUsed(fn, signal.id, signal.viaOptions)) {
      report({ node: signal.id, messageId: "unused", data: { ctx: signal.text, signal: signal.text } });
    }
  }

  /**
   * typedCheckNeeded: the signature check (the costly part, one resolved signature per call) runs only for a
   * call in reach of a ctx/signal whose arguments do not mention it (`post(path, { ...options })`, `f(ctx)` are
   * given it), and for any call in code that runs after the end (where passing it is the mistake).
   */
  function typedCheckNeeded(node: TSESTree.CallExpression | TSESTree.NewExpression): boolean {
    const carrier = carrierAt(node);
    if (!carrier) return endedAt(node) !== undefined;
    if (node.arguments.length === 0) return true;
    const mention = new RegExp(`(?<![\\w$.])${carrier.root.replace(/\$/g, "\\$")}(?![\\w$])`);
    return !node.arguments.some((a) => mention.test(text(a))) || endedAt(node) !== undefined;
  }

  return {
    AwaitExpression: markAwait,
    "ForOfStatement[await=true]": markAwait,
    ":function:exit": checkUnused,
    CallExpression(node) {
      if (checkFetch(node)) return;
      if (checkTimersPromises(node)) return;
      if (info && typedCheckNeeded(node)) checkSignature(node, info);
    },
    NewExpression(node) {
      checkPromiseTimer(node);
      if (info && typedCheckNeeded(node)) checkSignature(node, info);
    },
  };
}
