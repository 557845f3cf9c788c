import { AST_NODE_TYPES, ASTUtils, type TSESLint, type TSESTree } from "@typescript-eslint/utils";

/** The module whose API the rules know. More can be named in `settings.lifeline.packages`. */
export const CORE_MODULE = "@lifeline/core";

/** CANCEL_FUNCTIONS are @lifeline/core's functions that return `[ctx, cancel]`. */
export const CANCEL_FUNCTIONS = new Set([
  "withCancel",
  "withCancelCause",
  "withTimeout",
  "withTimeoutCause",
  "withDeadline",
  "withDeadlineCause",
  "withSignal",
]);

/** AnyContext is the rule context of any lifeline rule; the helpers need only its settings and source code. */
export type AnyContext = Readonly<TSESLint.RuleContext<string, readonly unknown[]>>;

/**
 * corePackages returns the module names that provide lifeline's API: `settings.lifeline.packages` when set
 * (for a fork or a re-exporting package), else `["@lifeline/core"]`.
 */
export function corePackages(context: AnyContext): readonly string[] {
  const settings = context.settings["lifeline"] as { packages?: unknown } | undefined;
  const packages = settings?.packages;
  if (Array.isArray(packages) && packages.every((p) => typeof p === "string")) return packages as string[];
  return [CORE_MODULE];
}

/** importsFrom reports whether the file has an import declaration from one of `modules`. */
export function importsFrom(context: AnyContext, modules: readonly string[]): boolean {
  return context.sourceCode.ast.body.some(
    (s) => s.type === AST_NODE_TYPES.ImportDeclaration && modules.includes(s.source.value),
  );
}

/** Origin says where a binding was imported from: the module and the exported name (`*` for a namespace). */
export interface Origin {
  module: string;
  name: string;
}

/**
 * originOf returns the import that `id` refers to, or undefined when it is a local binding, a global or
 * unresolved. Shadowing is respected: a parameter named `withCancel` is not the import.
 */
export function originOf(context: AnyContext, id: TSESTree.Identifier): Origin | undefined {
  const variable = ASTUtils.findVariable(context.sourceCode.getScope(id), id);
  if (!variable) return undefined;
  for (const def of variable.defs) {
    if (def.type !== "ImportBinding") continue;
    const decl = def.parent;
    if (decl.type !== AST_NODE_TYPES.ImportDeclaration) continue;
    const spec = def.node;
    if (spec.type !== AST_NODE_TYPES.ImportSpecifier && spec.type !== AST_NODE_TYPES.ImportNamespaceSpecifier && spec.type !== AST_NODE_TYPES.ImportDefaultSpecifier) continue;
    if (spec.type === AST_NODE_TYPES.ImportNamespaceSpecifier) return { module: decl.source.value, name: "*" };
    if (spec.type === AST_NODE_TYPES.ImportDefaultSpecifier) return { module: decl.source.value, name: "default" };
    const imported = spec.imported;
    return {
      module: decl.source.value,
      name: imported.type === AST_NODE_TYPES.Identifier ? imported.name : imported.value,
    };
  }
  return undefined;
}

/**
 * importedName returns the name under which `node` (an identifier, or `ns.name` on a namespace import) was
 * exported by one of `modules`, or undefined when it does not come from them.
 */
export function importedName(
  context: AnyContext,
  node: TSESTree.Node,
  modules: readonly string[],
): string | undefined {
  if (node.type === AST_NODE_TYPES.Identifier) {
    const origin = originOf(context, node);
    return origin && modules.includes(origin.module) && origin.name !== "*" ? origin.name : undefined;
  }
  if (
    node.type === AST_NODE_TYPES.MemberExpression &&
    !node.computed &&
    node.object.type === AST_NODE_TYPES.Identifier &&
    node.property.type === AST_NODE_TYPES.Identifier
  ) {
    const origin = originOf(context, node.object);
    return origin && modules.includes(origin.module) && origin.name === "*" ? node.property.name : undefined;
  }
  return undefined;
}

/** localNameOf returns the local name under which `name` from one of `modules` is imported in this file. */
export function localNameOf(context: AnyContext, name: string, modules: readonly string[]): string | undefined {
  for (const s of context.sourceCode.ast.body) {
    if (s.type !== AST_NODE_TYPES.ImportDeclaration || !modules.includes(s.source.value)) continue;
    for (const spec of s.specifiers) {
      if (spec.type !== AST_NODE_TYPES.ImportSpecifier) continue;
      const imported = spec.imported.type === AST_NODE_TYPES.Identifier ? spec.imported.name : spec.imported.value;
      if (imported === name && spec.importKind !== "type") return spec.local.name;
    }
  }
  return undefined;
}

/**
 * isGlobal reports whether `id` refers to a global (no local declaration shadows it): `fetch`, `setTimeout`,
 * `Promise`, `Symbol`.
 */
export function isGlobal(context: AnyContext, id: TSESTree.Identifier): boolean {
  const variable = ASTUtils.findVariable(context.sourceCode.getScope(id), id);
  return variable === null || variable.defs.length === 0;
}

/** isGlobalMember reports whether `node` is `Global.name` (e.g. `Promise.race`) with `Global` not shadowed. */
export function isGlobalMember(context: AnyContext, node: TSESTree.Node, object: string, names: readonly string[]): boolean {
  return (
    node.type === AST_NODE_TYPES.MemberExpression &&
    !node.computed &&
    node.object.type === AST_NODE_TYPES.Identifier &&
    node.object.name === object &&
    node.property.type === AST_NODE_TYPES.Identifier &&
    names.includes(node.property.name) &&
    isGlobal(context, node.object)
  );
}
