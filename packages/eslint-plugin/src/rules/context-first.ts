import { AST_NODE_TYPES, type TSESLint, type TSESTree } from "@typescript-eslint/utils";
import type ts from "typescript";
import { corePackages, importsFrom } from "../internal/imports.js";
import { paramIdentifier, paramKind, realParams } from "../internal/params.js";
import { createRule } from "../internal/rule.js";
import { SEED_CONTEXT_FIRST } from "../internal/seeds.js";
import { typeInfo } from "../internal/types.js";

type MessageIds = "notFirst" | "notNamed" | "suggestRename";
type Options = [{ namePattern?: string }];

type Signature =
  | TSESTree.FunctionDeclaration
  | TSESTree.FunctionExpression
  | TSESTree.ArrowFunctionExpression
  | TSESTree.TSDeclareFunction
  | TSESTree.TSEmptyBodyFunctionExpression
  | TSESTree.TSFunctionType
  | TSESTree.TSConstructorType
  | TSESTree.TSMethodSignature
  | TSESTree.TSCallSignatureDeclaration
  | TSESTree.TSConstructSignatureDeclaration;

/**
 * The default names a Context parameter may have: `ctx`, `parent` (the `with*` derivations, as in Go's
 * `WithCancel(parent Context)`), a name ending in `ctx`/`Ctx` (`jobCtx`, `wctx`), each optionally `_`-prefixed.
 */
export const DEFAULT_NAME_PATTERN = "^_?(?:parent|(?:[a-z][A-Za-z0-9]*)?[cC]tx)$";

/**
 * context-first reports a function whose Context parameter is not its first (TypeScript's `this` aside), or
 * whose first-parameter Context is not named `ctx` (see {@link DEFAULT_NAME_PATTERN}; option `namePattern`).
 *
 * A Context is recognised by type (lifeline's `Context`, seen through aliases) when type information is
 * there, else by an annotation naming the `Context` imported from `@lifeline/core`; optional Context
 * parameters (`ctx?: Context`, `ctx: Context | undefined`, a default) are left alone, since TypeScript wants
 * optional parameters last. Callbacks passed straight to a call are checked for the name only: their order is
 * the callee's to decide. Suggestion: rename to `ctx` (with every reference) when `ctx` is free.
 */
export const contextFirst = createRule<MessageIds, Options>({
  name: "context-first",
  meta: {
    type: "suggestion",
    docs: {
      description: "Require a Context parameter to be the first parameter, named ctx",
      seed: SEED_CONTEXT_FIRST,
      recommended: true,
      requiresTypeChecking: false,
      typeAware: "recognises Context through aliases and re-exports, not only a Context annotation imported from @lifeline/core",
    },
    hasSuggestions: true,
    messages: {
      notFirst:
        "`{{name}}` is a Context but it is parameter {{position}} of {{fn}}: make it the first parameter. \"" +
        SEED_CONTEXT_FIRST +
        "\"",
      notNamed:
        "The Context parameter of {{fn}} is named `{{name}}`: name it `ctx`. \"" + SEED_CONTEXT_FIRST + "\"",
      suggestRename: "Rename `{{name}}` to `ctx`.",
    },
    schema: [
      {
        type: "object",
        properties: {
          namePattern: {
            type: "string",
            description: "A regular expression the name of a first-parameter Context must match.",
          },
        },
        additionalProperties: false,
      },
    ],
  },
  defaultOptions: [{ namePattern: DEFAULT_NAME_PATTERN }],
  create(context, [options]) {
    const info = typeInfo(context);
    // Without types, a Context is only seen through an import from lifeline: none, nothing to look at.
    if (!info && !importsFrom(context, corePackages(context))) return {};
    const pattern = new RegExp(options.namePattern ?? DEFAULT_NAME_PATTERN, "u");
    const sourceCode = context.sourceCode;

    function describe(node: Signature): string {
      if ("id" in node && node.id?.type === AST_NODE_TYPES.Identifier) return `\`${node.id.name}\``;
      const parent = node.parent;
      if (parent?.type === AST_NODE_TYPES.MethodDefinition || parent?.type === AST_NODE_TYPES.PropertyDefinition) {
        if (parent.key.type === AST_NODE_TYPES.Identifier) return `\`${parent.key.name}\``;
        if (parent.key.type === AST_NODE_TYPES.PrivateIdentifier) return `\`#${parent.key.name}\``;
      }
      if (node.type === AST_NODE_TYPES.TSMethodSignature && node.key.type === AST_NODE_TYPES.Identifier) {
        return `\`${node.key.name}\``;
      }
      if (parent?.type === AST_NODE_TYPES.TSTypeAliasDeclaration) return `\`${parent.id.name}\``;
      if (parent?.type === AST_NODE_TYPES.VariableDeclarator && parent.id.type === AST_NODE_TYPES.Identifier) {
        return `\`${parent.id.name}\``;
      }
      return "this function";
    }

    function isCallback(node: Signature): boolean {
      const parent = node.parent;
      return (
        (parent?.type === AST_NODE_TYPES.CallExpression || parent?.type === AST_NODE_TYPES.NewExpression) &&
        parent.arguments.includes(node as TSESTree.Expression)
      );
    }

    /** renameSuggestion renames a parameter and its references to `ctx`, when that captures nothing. */
    function renameSuggestion(node: Signature, id: TSESTree.Identifier): TSESLint.ReportSuggestionArray<MessageIds> {
      const variable = sourceCode.getDeclaredVariables(node).find((v) => v.identifiers.includes(id));
      if (variable === undefined) {
        if (node.type === AST_NODE_TYPES.FunctionDeclaration || node.type === AST_NODE_TYPES.FunctionExpression || node.type === AST_NODE_TYPES.ArrowFunctionExpression) {
          return [];
        }
        // A signature without a body: only the name changes.
        return [{ messageId: "suggestRename", data: { name: id.name }, fix: (f) => f.replaceTextRange(nameRange(id), "ctx") }];
      }
      const scope = variable.scope;
      if (!nameIsFree(scope, "ctx")) return [];
      return [
        {
          messageId: "suggestRename",
          data: { name: id.name },
          fix: (fixer) => {
            const fixes = [fixer.replaceTextRange(nameRange(id), "ctx")];
            for (const ref of variable.references) {
              const rid = ref.identifier;
              if (rid === id) continue;
              const parent = rid.parent;
              if (parent?.type === AST_NODE_TYPES.Property && parent.shorthand && parent.value === rid) {
                fixes.push(fixer.replaceText(rid, `${id.name}: ctx`));
              } else {
                fixes.push(fixer.replaceTextRange(nameRange(rid as TSESTree.Identifier), "ctx"));
              }
            }
            return fixes;
          },
        },
      ];
    }

    /**
     * ambientOrCallbackType: a function type in a declaration (`declare`, a .d.ts file) describes someone else's
     * signature, and a function type that is a parameter's type describes the callback a callee will call:
     * neither is a signature whose order the author of this line chooses.
     */
    function ambientOrCallbackType(node: Signature): boolean {
      if (context.filename.endsWith(".d.ts") || context.filename.endsWith(".d.mts") || context.filename.endsWith(".d.cts")) return true;
      const isType =
        node.type === AST_NODE_TYPES.TSFunctionType ||
        node.type === AST_NODE_TYPES.TSConstructorType ||
        node.type === AST_NODE_TYPES.TSCallSignatureDeclaration ||
        node.type === AST_NODE_TYPES.TSConstructSignatureDeclaration;
      for (let n: TSESTree.Node | undefined = node.parent; n; n = n.parent) {
        if ("declare" in n && n.declare === true) return true;
        if (isType && n.type === AST_NODE_TYPES.TSTypeAnnotation && n.parent && isParameterLike(n.parent)) return true;
      }
      return false;
    }

    /**
     * passedByName reports whether a named function is handed, by name, to a callee (`app.get("/", handler)`):
     * then the callee's parameter type fixes the order. With types, only when that parameter is a function type
     * (the contextual type of the argument has a call signature); without, any such use counts.
     */
    function passedByName(node: Signature): boolean {
      let id: TSESTree.Identifier | undefined;
      let declared: TSESTree.Node = node;
      if (node.type === AST_NODE_TYPES.FunctionDeclaration && node.id) id = node.id;
      else if (
        (node.type === AST_NODE_TYPES.FunctionExpression || node.type === AST_NODE_TYPES.ArrowFunctionExpression) &&
        node.parent?.type === AST_NODE_TYPES.VariableDeclarator &&
        node.parent.id.type === AST_NODE_TYPES.Identifier
      ) {
        id = node.parent.id;
        declared = node.parent.parent;
      }
      if (!id) return false;
      const variable = sourceCode.getDeclaredVariables(declared).find((v) => v.identifiers.includes(id));
      for (const ref of variable?.references ?? []) {
        const parent = ref.identifier.parent;
        if (
          (parent?.type !== AST_NODE_TYPES.CallExpression && parent?.type !== AST_NODE_TYPES.NewExpression) ||
          !parent.arguments.includes(ref.identifier as TSESTree.Identifier)
        ) {
          continue;
        }
        if (!info) return true;
        const tsNode = info.services.esTreeNodeToTSNodeMap.get(ref.identifier);
        const contextual = info.checker.getContextualType(tsNode as ts.Expression);
        if (contextual && info.checker.getNonNullableType(contextual).getCallSignatures().length > 0) return true;
      }
      return false;
    }

    function check(node: Signature): void {
      if (ambientOrCallbackType(node)) return;
      const params = realParams(node.params);
      const index = params.findIndex((p) => {
        const kind = paramKind(context, info, p, { byName: false, contextual: false });
        return kind?.kind === "context" && !kind.optional;
      });
      if (index < 0) return;
      const p = paramIdentifier(params[index]!);
      if (!p) return;
      if (index > 0) {
        if (isCallback(node) || passedByName(node)) return;
        context.report({
          node: params[index]!,
          messageId: "notFirst",
          data: { name: p.id.name, position: String(index + 1), fn: describe(node) },
        });
        return;
      }
      if (pattern.test(p.id.name)) return;
      context.report({
        node: p.id,
        messageId: "notNamed",
        data: { name: p.id.name, fn: describe(node) },
        suggest: renameSuggestion(node, p.id),
      });
    }

    return {
      FunctionDeclaration: check,
      FunctionExpression: check,
      ArrowFunctionExpression: check,
      TSDeclareFunction: check,
      TSEmptyBodyFunctionExpression: check,
      TSFunctionType: check,
      TSConstructorType: check,
      TSMethodSignature: check,
      TSCallSignatureDeclaration: check,
      TSConstructSignatureDeclaration: check,
    };
  },
});

function isParameterLike(node: TSESTree.Node): boolean {
  return (
    node.type === AST_NODE_TYPES.Identifier ||
    node.type === AST_NODE_TYPES.ObjectPattern ||
    node.type === AST_NODE_TYPES.ArrayPattern ||
    node.type === AST_NODE_TYPES.RestElement
  ) && node.parent !== undefined && node.parent.type !== AST_NODE_TYPES.VariableDeclarator && isInParams(node);
}

function isInParams(node: TSESTree.Node): boolean {
  let n: TSESTree.Node = node;
  if (n.parent?.type === AST_NODE_TYPES.AssignmentPattern || n.parent?.type === AST_NODE_TYPES.TSParameterProperty) n = n.parent;
  const parent = n.parent;
  return parent !== undefined && "params" in parent && Array.isArray(parent.params) && (parent.params as TSESTree.Node[]).includes(n);
}

/** nameRange is the range of an identifier's name, without its `?` or type annotation. */
function nameRange(id: TSESTree.Identifier): [number, number] {
  return [id.range[0], id.range[0] + id.name.length];
}

/** nameIsFree reports whether no variable named `name` is declared, and no reference named `name` made, in `scope` or below. */
function nameIsFree(scope: TSESLint.Scope.Scope, name: string): boolean {
  if (scope.set.has(name)) return false;
  if (scope.references.some((r) => r.identifier.name === name)) return false;
  return scope.childScopes.every((s) => nameIsFree(s, name));
}
