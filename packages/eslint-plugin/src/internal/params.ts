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
  if (info) {
    const type = info.services.getTypeAtLocation(id);
    kind = classify(info, type);
    untyped = untyped && isAnyType(type);
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
  });
  return out;
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
