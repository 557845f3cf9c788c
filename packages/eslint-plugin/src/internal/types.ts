import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ParserServicesWithTypeInformation, TSESTree } from "@typescript-eslint/utils";
import { AST_NODE_TYPES } from "@typescript-eslint/utils";
import ts from "typescript";
import { corePackages, importedName, originOf, type AnyContext } from "./imports.js";

/** TypeInfo is what a rule needs to ask the type checker; it exists only when the file was parsed with types. */
export interface TypeInfo {
  services: ParserServicesWithTypeInformation;
  checker: ts.TypeChecker;
  packages: readonly string[];
}

// Per file (its SourceCode object) and need: the answer of typeInfo, computed once for all rules.
const typeInfoCache = new WeakMap<object, { context?: TypeInfo | null; signal?: TypeInfo | null }>();
let warnedUnresolved = false;

/** Need says what a rule looks for with types: lifeline's Context (and Key), or an AbortSignal. */
export type Need = "context" | "signal";

const IN_SIGHT: Record<Need, RegExp> = {
  context: /Context|[cC]tx\b/,
  signal: /AbortSignal|AbortController|[sS]ignal\b/,
};

/**
 * inSight reports whether a file's text mentions what a rule looks for: one of lifeline's packages or a
 * Context/ctx (`need: "context"`), an AbortSignal or a signal (`"signal"`). A file that mentions none cannot
 * hold one except through an inferred type (`const c = makeThing()`), which the rules then do not see: the price
 * paid so that type-checked linting of code that never touches cancellation costs next to nothing.
 */
export function inSight(text: string, packages: readonly string[], need: Need): boolean {
  return (need === "context" && packages.some((p) => text.includes(p))) || IN_SIGHT[need].test(text);
}

/**
 * typeInfo returns the type checker for this file, or undefined when ESLint runs without type information
 * (no `parserOptions.projectService`/`project`, or a parser other than typescript-eslint's), when the file has
 * nothing the rule looks for in sight ({@link inSight}), or when the file imports lifeline but its types do not
 * resolve (package not built or not installed): then the rules fall back to annotations and imports, and the
 * first such file prints one warning to stderr rather than the rules falling silent. Every rule works without it.
 */
export function typeInfo(context: AnyContext, need: Need = "context"): TypeInfo | undefined {
  const sourceCode = context.sourceCode;
  let cached = typeInfoCache.get(sourceCode);
  if (!cached) typeInfoCache.set(sourceCode, (cached = {}));
  const hit = cached[need];
  if (hit !== undefined) return hit ?? undefined;
  const info = computeTypeInfo(context, need);
  cached[need] = info ?? null;
  return info;
}

function computeTypeInfo(context: AnyContext, need: Need): TypeInfo | undefined {
  const sourceCode = context.sourceCode;
  const services = sourceCode.parserServices as Partial<ParserServicesWithTypeInformation> | undefined;
  if (!services?.program || !services.esTreeNodeToTSNodeMap) return undefined;
  const packages = corePackages(context);
  if (!inSight(sourceCode.text, packages, need)) return undefined;
  const info: TypeInfo = {
    services: services as ParserServicesWithTypeInformation,
    checker: services.program.getTypeChecker(),
    packages,
  };
  for (const statement of sourceCode.ast.body) {
    if (statement.type !== AST_NODE_TYPES.ImportDeclaration || !packages.includes(statement.source.value)) continue;
    const tsNode = info.services.esTreeNodeToTSNodeMap.get(statement) as ts.ImportDeclaration;
    if (info.checker.getSymbolAtLocation(tsNode.moduleSpecifier) !== undefined) continue;
    if (!warnedUnresolved) {
      warnedUnresolved = true;
      console.warn(
        `@lifeline/eslint-plugin: the types of "${statement.source.value}" do not resolve from ${context.filename} ` +
          "(is the package installed and built?). Its rules fall back to annotations and imports in such files; " +
          "context-first, no-stored-context and forward-context see less. This warning is printed once.",
      );
    }
    return undefined;
  }
  // No Context can exist in a program that contains none of lifeline's packages: skip the checker entirely.
  if (need === "context" && !programHasCore(services.program, packages)) return undefined;
  return info;
}

const programsWithCore = new WeakMap<ts.Program, boolean>();

function programHasCore(program: ts.Program, packages: readonly string[]): boolean {
  let answer = programsWithCore.get(program);
  if (answer === undefined) {
    const dirs = new Set(program.getSourceFiles().map((f) => dirname(f.fileName)));
    answer = false;
    for (const dir of dirs) {
      const name = packageNameOf(join(dir, "x.ts"));
      if (name !== null && packages.includes(name)) {
        answer = true;
        break;
      }
    }
    programsWithCore.set(program, answer);
  }
  return answer;
}

/** resetUnresolvedWarning lets a test see the one-time warning again. Not part of the public API. */
export function resetUnresolvedWarning(): void {
  warnedUnresolved = false;
}

// Package names by directory: the nearest package.json's "name", or null when there is none.
const packageNames = new Map<string, string | null>();

function packageNameOf(file: string): string | null {
  const seen: string[] = [];
  let dir = dirname(file);
  let name: string | null = null;
  for (;;) {
    const cached = packageNames.get(dir);
    if (cached !== undefined) {
      name = cached;
      break;
    }
    seen.push(dir);
    let json: string | undefined;
    try {
      json = readFileSync(join(dir, "package.json"), "utf8");
    } catch {
      json = undefined;
    }
    if (json !== undefined) {
      try {
        const parsed = JSON.parse(json) as { name?: unknown };
        name = typeof parsed.name === "string" ? parsed.name : null;
      } catch {
        name = null;
      }
      if (name !== null) break;
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  for (const d of seen) packageNames.set(d, name);
  return name;
}

function declaredInCore(symbol: ts.Symbol, packages: readonly string[]): boolean {
  return (symbol.declarations ?? []).some((d) => {
    const name = packageNameOf(d.getSourceFile().fileName);
    return name !== null && packages.includes(name);
  });
}

/**
 * isCoreType reports whether `type` is lifeline's type `name` (`Context`, `Key`): a type of that name declared
 * in a package listed in `settings.lifeline.packages` (by default `@lifeline/core`), through aliases and
 * intersections. A Koa or Hono `Context` is not one.
 */
export function isCoreType(info: TypeInfo, type: ts.Type, name: string): boolean {
  const parts = type.isIntersection() ? type.types : [type];
  for (const part of parts) {
    for (const symbol of [part.aliasSymbol, part.getSymbol()]) {
      if (symbol && symbol.getName() === name && declaredInCore(symbol, info.packages)) return true;
    }
  }
  return false;
}

/** isAbortSignalType reports whether `type` is the platform's AbortSignal. */
export function isAbortSignalType(type: ts.Type): boolean {
  return type.getSymbol()?.getName() === "AbortSignal";
}

/** ContextKind classifies a value: a Context or an AbortSignal, and whether it may be absent. */
export interface ContextKind {
  kind: "context" | "signal";
  optional: boolean;
}

/** classify returns what `type` is, seen through `undefined`/`null`: a Context, an AbortSignal, or neither. */
export function classify(info: TypeInfo, type: ts.Type): ContextKind | undefined {
  const nonNull = info.checker.getNonNullableType(type);
  const optional = nonNull !== type;
  const parts = nonNull.isUnion() ? nonNull.types : [nonNull];
  if (parts.length !== 1) return undefined;
  const t = parts[0]!;
  if (isCoreType(info, t, "Context")) return { kind: "context", optional };
  if (isAbortSignalType(t)) return { kind: "signal", optional };
  return undefined;
}

/** isAnyType reports whether `type` is `any` or `unknown` (an untyped value, as in a JS file). */
export function isAnyType(type: ts.Type): boolean {
  return (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) !== 0;
}

/**
 * annotationKind classifies a type annotation without the type checker: `Context` (or `ns.Context`) imported
 * from lifeline, optionally in a union with `undefined`/`null`; `AbortSignal` likewise.
 */
export function annotationKind(context: AnyContext, node: TSESTree.TypeNode | undefined): ContextKind | undefined {
  if (!node) return undefined;
  let optional = false;
  let core: TSESTree.TypeNode | undefined = node;
  if (node.type === AST_NODE_TYPES.TSUnionType) {
    const rest = node.types.filter(
      (t) => t.type !== AST_NODE_TYPES.TSUndefinedKeyword && t.type !== AST_NODE_TYPES.TSNullKeyword,
    );
    if (rest.length !== 1) return undefined;
    optional = rest.length !== node.types.length;
    core = rest[0];
  }
  if (core?.type !== AST_NODE_TYPES.TSTypeReference) return undefined;
  const name = core.typeName;
  const packages = corePackages(context);
  if (name.type === AST_NODE_TYPES.Identifier) {
    if (name.name === "AbortSignal" && !originOf(context, name)) return { kind: "signal", optional };
    if (importedName(context, name, packages) === "Context") return { kind: "context", optional };
    return undefined;
  }
  if (
    name.type === AST_NODE_TYPES.TSQualifiedName &&
    name.left.type === AST_NODE_TYPES.Identifier &&
    name.right.name === "Context"
  ) {
    const origin = originOf(context, name.left);
    if (origin && origin.name === "*" && packages.includes(origin.module)) return { kind: "context", optional };
  }
  return undefined;
}

/** expressionKind classifies the value of an expression with the type checker. */
export function expressionKind(info: TypeInfo, node: TSESTree.Node): ContextKind | undefined {
  return classify(info, info.services.getTypeAtLocation(node));
}

/**
 * hasContextMembers reports whether `type` looks like a Context itself (`deadline`, `done`, `err`, `value`,
 * `signal`): a class that implements Context may hold its parent.
 */
export function hasContextMembers(type: ts.Type): boolean {
  return ["deadline", "done", "err", "value", "signal"].every((p) => type.getProperty(p) !== undefined);
}
