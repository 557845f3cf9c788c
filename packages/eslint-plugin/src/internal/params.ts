import { AST_NODE_TYPES, type TSESTree } from "@typescript-eslint/utils";
import { corePackages, importsFrom, type AnyContext } from "./imports.js";
import { annotationKind, classify, isAnyType, type ContextKind, type TypeInfo } from "./types.js";

/** FunctionNode is a function with a body: declaration, expression or arrow. */
export type FunctionNode =
  | TSESTree.FunctionDeclaration
  | TSESTree.FunctionExpression
  | TSESTree.ArrowFunctionExpression;

/** isFunction reports whether `node` is a function with a body. */
export function isFunction(node: TSESTree.Node): node is FunctionNode {
  return (
    node.type === AST_NODE_TYPES.FunctionDeclaration ||
    node.type === AST_NODE_TYPES.FunctionExpression ||
    node.type === AST_NODE_TYPES.ArrowFunctionExpression
  );
}

/** ParamInfo is a parameter that holds a Context or an AbortSignal. */
export interface ParamInfo extends ContextKind {
  /** The parameter's name. */
  name: string;
  /** The identifier that declares it. */
  id: TSESTree.Identifier;
  /** Its position among the parameters, `this` not counted. */
  index: number;
}

/** Options for {@link paramKind}. */
export interface ParamOptions {
  /**
   * byName: also count an unannotated, untyped parameter named `ctx` (a JS file that imports lifeline). Off for
   * rules where a canvas `ctx` would be a false positive.
   */
  byName: boolean;
  /**
   * contextual: ask the checker about an unannotated parameter too (a callback's parameter typed by its callee,
   * `go(ctx, async (c) => …)`). Off where only the author's own annotations matter (context-first): that saves
   * the checker's work on every callback parameter of the file.
   */
  contextual?: boolean;
}

/**
 * mayAlias reports whether an annotation can name a Context or an AbortSignal: a type reference, `typeof x`, an
 * indexed access or import type, or a union/intersection with one. `string`, `number[]`, a literal or a function
 * type cannot, so the checker is not asked about them.
 */
export function mayAlias(node: TSESTree.TypeNode): boolean {
  switch (node.type) {
    case AST_NODE_TYPES.TSTypeReference:
    case AST_NODE_TYPES.TSTypeQuery:
    case AST_NODE_TYPES.TSIndexedAccessType:
    case AST_NODE_TYPES.TSImportType:
    case AST_NODE_TYPES.TSConditionalType:
    case AST_NODE_TYPES.TSTypeOperator:
      return true;
    case AST_NODE_TYPES.TSUnionType:
    case AST_NODE_TYPES.TSIntersectionType:
      return node.types.some(mayAlias);
    default:
      return false;
  }
}

/** paramIdentifier returns the identifier a parameter declares, seen through defaults and `private` modifiers. */
export function paramIdentifier(param: TSESTree.Parameter): { id: TSESTree.Identifier; hasDefault: boolean } | undefined {
  let p: TSESTree.Node = param;
  let hasDefault = false;
  if (p.type === AST_NODE_TYPES.TSParameterProperty) p = p.parameter;
  if (p.type === AST_NODE_TYPES.AssignmentPattern) {
    hasDefault = true;
    p = p.left;
  }
  return p.type === AST_NODE_TYPES.Identifier ? { id: p, hasDefault } : undefined;
}

/**
 * paramKind classifies one parameter: by its type when the checker is there, else by its annotation, else
 * (with `byName`, in a file that imports lifeline) by the name `ctx`.
 */
export function paramKind(
  context: AnyContext,
  info: TypeInfo | undefined,
  param: TSESTree.Parameter,
  options: ParamOptions,
): ContextKind | undefined {
  const p = paramIdentifier(param);
  if (!p) return undefined;
  const { id, hasDefault } = p;
  const annotation = id.typeAnnotation?.typeAnnotation;
  let kind: ContextKind | undefined;
  let untyped = annotation === undefined;
  const ask = info !== undefined && (annotation === undefined ? options.contextual !== false || hasDefault : mayAlias(annotation));
  if (info && ask) {
    const type = info.services.getTypeAtLocation(id);
    kind = classify(info, type);
    untyped = untyped && isAnyType(type);
  } else if (info && annotation === undefined) {
    kind = undefined;
  } else {
    kind = annotationKind(context, annotation);
  }
  if (!kind && untyped && options.byName && id.name === "ctx" && importsFrom(context, corePackages(context))) {
    kind = { kind: "context", optional: false };
  }
  if (!kind) return undefined;
  return { kind: kind.kind, optional: kind.optional || hasDefault || id.optional === true };
}

/** realParams returns a function's parameters without TypeScript's `this` parameter. */
export function realParams(params: readonly TSESTree.Parameter[]): TSESTree.Parameter[] {
  return params.filter((p) => !(p.type === AST_NODE_TYPES.Identifier && p.name === "this"));
}

/**
 * contextParams returns the parameters of `fn` that hold a Context (non-optional, unless `optional`), in order.
 * A destructured `{ ctx }` (or `{ ctx: c }`) parameter counts: its binding is the ctx.
 */
export function contextParams(
  context: AnyContext,
  info: TypeInfo | undefined,
  params: readonly TSESTree.Parameter[],
  options: ParamOptions,
): ParamInfo[] {
  const out: ParamInfo[] = [];
  realParams(params).forEach((param, index) => {
    const kind = paramKind(context, info, param, options);
    const p = paramIdentifier(param);
    if (kind?.kind === "context" && !kind.optional && p) out.push({ ...kind, name: p.id.name, id: p.id, index });
    const pattern = param.type === AST_NODE_TYPES.AssignmentPattern ? param.left : param;
    if (pattern.type === AST_NODE_TYPES.ObjectPattern) {
      for (const { key, id } of patternBindings(pattern)) {
        const k = bindingKind(context, info, pattern, key, id);
        if (k?.kind === "context" && !k.optional) out.push({ ...k, name: id.name, id, index });
        else if (!k && key === "ctx" && id.name === "ctx" && options.byName && importsFrom(context, corePackages(context))) {
          out.push({ kind: "context", optional: false, name: id.name, id, index });
        }
      }
    }
  });
  return out;
}

/** patternBindings returns the `key: binding` pairs of an object pattern's plain properties (defaults seen through). */
export function patternBindings(pattern: TSESTree.ObjectPattern): { key: string; id: TSESTree.Identifier }[] {
  const out: { key: string; id: TSESTree.Identifier }[] = [];
  for (const prop of pattern.properties) {
    if (prop.type !== AST_NODE_TYPES.Property || prop.computed) continue;
    const key = prop.key.type === AST_NODE_TYPES.Identifier ? prop.key.name : prop.key.type === AST_NODE_TYPES.Literal ? String(prop.key.value) : undefined;
    let value: TSESTree.Node = prop.value;
    if (value.type === AST_NODE_TYPES.AssignmentPattern) value = value.left;
    if (key !== undefined && value.type === AST_NODE_TYPES.Identifier) out.push({ key, id: value });
  }
  return out;
}

/** bindingKind classifies one binding of a destructured parameter: by type, else by the pattern's type literal. */
function bindingKind(
  context: AnyContext,
  info: TypeInfo | undefined,
  pattern: TSESTree.ObjectPattern,
  key: string,
  id: TSESTree.Identifier,
): ContextKind | undefined {
  if (info) return classify(info, info.services.getTypeAtLocation(id));
  const literal = pattern.typeAnnotation?.typeAnnotation;
  if (literal?.type !== AST_NODE_TYPES.TSTypeLiteral) return undefined;
  for (const m of literal.members) {
    if (m.type !== AST_NODE_TYPES.TSPropertySignature || m.computed || m.key.type !== AST_NODE_TYPES.Identifier || m.key.name !== key) continue;
    const kind = annotationKind(context, m.typeAnnotation?.typeAnnotation);
    return kind && { kind: kind.kind, optional: kind.optional || m.optional === true };
  }
  return undefined;
}

/** SIGNAL_KEYS are the option names under which code passes an AbortSignal. */
export const SIGNAL_KEYS = ["signal", "abortSignal"];

/** SignalInfo is an AbortSignal a function receives, and the expression that reads it there. */
export interface SignalInfo {
  /** The expression to forward: `signal`, `options.signal`, `opts?.abortSignal`. */
  text: string;
  /** The function that receives it. */
  fn: FunctionNode;
  /** The binding that holds it (`signal`), or the options parameter that holds it (`options`). */
  id: TSESTree.Identifier;
  /** Whether `id` is an options object with the signal in it rather than the signal itself. */
  viaOptions: boolean;
}

/**
 * Types whose `signal` is not a caller's cancellation handed in but part of the thing itself: a Request carries
 * its signal to wherever it goes, an init object is on its way to fetch, a controller owns its signal.
 */
const OWN_SIGNAL_TYPES = new Set(["Request", "RequestInit", "AbortController", "Response"]);

function receivedSignal(prop: import("typescript").Symbol): boolean {
  return !(prop.declarations ?? []).some((d) => {
    const owner = (d.parent as { name?: { getText?: () => string; escapedText?: string } } | undefined)?.name;
    const name = owner?.escapedText ?? undefined;
    return name !== undefined && OWN_SIGNAL_TYPES.has(String(name));
  });
}

/**
 * signalKeyOf returns the key under which an options type holds an AbortSignal (`signal`, `abortSignal`). A
 * union counts only when every member has the key (the checker's own union property): walking the members of a
 * large union of request types one by one is what made type-checked linting slow.
 */
function signalKeyOf(info: TypeInfo, type: import("typescript").Type, at: import("typescript").Node): string | undefined {
  const nonNull = info.checker.getNonNullableType(type);
  if (isAnyType(nonNull) || classify(info, nonNull)) return undefined;
  for (const key of SIGNAL_KEYS) {
    const prop = nonNull.getProperty(key);
    if (!prop || !receivedSignal(prop)) continue;
    const pt = classify(info, info.checker.getTypeOfSymbolAtLocation(prop, at));
    if (pt?.kind === "signal") return key;
  }
  return undefined;
}

/**
 * signalOf returns the AbortSignal `fn` receives, if any: a parameter typed (or annotated) `AbortSignal`, or
 * unannotated and named `signal`/`abortSignal`; a destructured `{ signal }`/`{ abortSignal }`; or an options
 * parameter whose `.signal`/`.abortSignal` the function reads. Optional signals count: forwarding `undefined`
 * is fine.
 */
export function signalOf(
  context: AnyContext,
  info: TypeInfo | undefined,
  fn: FunctionNode,
): SignalInfo | undefined {
  for (const param of realParams(fn.params)) {
    const p = paramIdentifier(param);
    if (p) {
      const kind = paramKind(context, info, param, { byName: false, contextual: false });
      if (kind?.kind === "signal") return { text: p.id.name, fn, id: p.id, viaOptions: false };
      if (!kind && SIGNAL_KEYS.includes(p.id.name) && !p.id.typeAnnotation && (!info || isAnyType(info.services.getTypeAtLocation(p.id)))) {
        return { text: p.id.name, fn, id: p.id, viaOptions: false };
      }
      continue;
    }
    const pattern = param.type === AST_NODE_TYPES.AssignmentPattern ? param.left : param;
    if (pattern.type !== AST_NODE_TYPES.ObjectPattern) continue;
    for (const { key, id } of patternBindings(pattern)) {
      if (SIGNAL_KEYS.includes(key)) return { text: id.name, fn, id, viaOptions: false };
    }
  }
  // An options parameter whose signal the function reads: `options.signal`, `opts?.abortSignal` — not a
  // `request: Request` or a `controller: AbortController`, whose signal is their own.
  for (const param of realParams(fn.params)) {
    const p = paramIdentifier(param);
    if (!p) continue;
    const ann = p.id.typeAnnotation?.typeAnnotation;
    if (ann?.type === AST_NODE_TYPES.TSTypeReference && ann.typeName.type === AST_NODE_TYPES.Identifier && OWN_SIGNAL_TYPES.has(ann.typeName.name)) {
      continue;
    }
    const variable = context.sourceCode.getDeclaredVariables(fn).find((v) => v.identifiers.includes(p.id));
    for (const ref of variable?.references ?? []) {
      const m = ref.identifier.parent;
      if (
        m?.type === AST_NODE_TYPES.MemberExpression &&
        m.object === ref.identifier &&
        !m.computed &&
        m.property.type === AST_NODE_TYPES.Identifier &&
        SIGNAL_KEYS.includes(m.property.name) &&
        !(m.parent?.type === AST_NODE_TYPES.AssignmentExpression && m.parent.left === m)
      ) {
        return { text: `${p.id.name}${m.optional ? "?." : "."}${m.property.name}`, fn, id: p.id, viaOptions: true };
      }
    }
  }
  // With types: an options parameter whose type holds a signal (`options?: RequestOptions`), read or not.
  if (info) {
    for (const param of realParams(fn.params)) {
      const p = paramIdentifier(param);
      const annotation = p?.id.typeAnnotation?.typeAnnotation;
      if (!p || !annotation || !mayAlias(annotation)) continue;
      const tsNode = info.services.esTreeNodeToTSNodeMap.get(p.id);
      const type = info.checker.getTypeAtLocation(tsNode);
      const key = signalKeyOf(info, type, tsNode);
      if (!key) continue;
      const optional = p.hasDefault || p.id.optional === true || info.checker.getNonNullableType(type) !== type;
      return { text: `${p.id.name}${optional ? "?." : "."}${key}`, fn, id: p.id, viaOptions: true };
    }
  }
  return undefined;
}

/** SignalScope answers "which AbortSignal does this code already have?", as {@link CtxScope} does for a ctx. */
export class SignalScope {
  readonly #context: AnyContext;
  readonly #info: TypeInfo | undefined;
  readonly #byFunction = new WeakMap<FunctionNode, SignalInfo | null>();

  constructor(context: AnyContext, info: TypeInfo | undefined) {
    this.#context = context;
    this.#info = info;
  }

  /** own returns the signal `fn` itself receives, or undefined. */
  own(fn: FunctionNode): SignalInfo | undefined {
    let found = this.#byFunction.get(fn);
    if (found === undefined) {
      found = signalOf(this.#context, this.#info, fn) ?? null;
      this.#byFunction.set(fn, found);
    }
    return found ?? undefined;
  }

  /** of returns the signal in scope at `node`, or undefined. */
  of(node: TSESTree.Node): SignalInfo | undefined {
    for (let n = node.parent; n; n = n.parent) {
      if (!isFunction(n)) continue;
      let found = this.#byFunction.get(n);
      if (found === undefined) {
        found = signalOf(this.#context, this.#info, n) ?? null;
        this.#byFunction.set(n, found);
      }
      if (found) return found;
    }
    return undefined;
  }
}

/**
 * ctxScope answers "which ctx does this function already have?": for a node, the nearest enclosing function
 * (closures included) that receives a Context parameter, and that parameter. Module-level code has none: a
 * program's top level is where `background()` belongs.
 */
export class CtxScope {
  readonly #context: AnyContext;
  readonly #info: TypeInfo | undefined;
  readonly #byFunction = new WeakMap<FunctionNode, ParamInfo | null>();

  constructor(context: AnyContext, info: TypeInfo | undefined) {
    this.#context = context;
    this.#info = info;
  }

  /** of returns the Context parameter in scope at `node`, or undefined. */
  of(node: TSESTree.Node): ParamInfo | undefined {
    for (let n = node.parent; n; n = n.parent) {
      if (!isFunction(n)) continue;
      let found = this.#byFunction.get(n);
      if (found === undefined) {
        found = contextParams(this.#context, this.#info, n.params, { byName: true })[0] ?? null;
        this.#byFunction.set(n, found);
      }
      if (found) return found;
    }
    return undefined;
  }
}
