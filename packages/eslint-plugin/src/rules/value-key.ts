import { AST_NODE_TYPES, ASTUtils, type TSESTree } from "@typescript-eslint/utils";
import ts from "typescript";
import { corePackages, importedName, importsFrom, isGlobal, isGlobalMember } from "../internal/imports.js";
import { createRule } from "../internal/rule.js";
import { SEED_VALUE_KEY } from "../internal/seeds.js";
import { isAnyType, isCoreType, typeInfo } from "../internal/types.js";

type MessageIds = "badKey" | "inlineKey";

const PRIMITIVE = ts.TypeFlags.StringLike | ts.TypeFlags.NumberLike | ts.TypeFlags.BigIntLike | ts.TypeFlags.BooleanLike |
  ts.TypeFlags.ESSymbolLike | ts.TypeFlags.Null | ts.TypeFlags.Undefined;

/**
 * value-key reports a `withValue(parent, key, value)` whose key does not come from `createKey`: a string,
 * number or template literal, `Symbol(…)`/`Symbol.for(…)`, a constant initialised with one of those, or (with
 * type information) any expression whose type is not lifeline's `Key`. A `createKey(…)` written inline is
 * reported too: keys compare by identity, so a key made per call can never be read back. No fix: the key
 * belongs at module level, exported with its accessors, which is a design decision.
 */
export const valueKey = createRule<MessageIds, []>({
  name: "value-key",
  meta: {
    type: "problem",
    docs: {
      description: "Require withValue keys to come from createKey",
      seed: SEED_VALUE_KEY,
      recommended: true,
      requiresTypeChecking: false,
      typeAware: "checks that any key expression has type Key<T>, not only literals and constants it can see",
    },
    messages: {
      badKey:
        "withValue key {{what}}: make the key once with `createKey<T>(name)` at module level and export it (or accessors). \"" +
        SEED_VALUE_KEY +
        "\"",
      inlineKey:
        "withValue key made inline by createKey: keys compare by identity, so this value can never be read back. Make the key once, at module level. \"" +
        SEED_VALUE_KEY +
        "\"",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    const core = corePackages(context);
    if (!importsFrom(context, core)) return {};
    const info = typeInfo(context);
    const sourceCode = context.sourceCode;

    /** problem says what is wrong with a key expression, "inline" for an inline createKey, or undefined. */
    function problem(key: TSESTree.Node, depth: number): string | undefined {
      switch (key.type) {
        case AST_NODE_TYPES.TSAsExpression:
        case AST_NODE_TYPES.TSTypeAssertion:
        case AST_NODE_TYPES.TSNonNullExpression:
        case AST_NODE_TYPES.TSSatisfiesExpression:
          // `"user" as never` is still a string key.
          return problem(key.expression, depth);
        case AST_NODE_TYPES.Literal:
          return `is a ${key.value === null ? "null" : typeof key.value} literal`;
        case AST_NODE_TYPES.TemplateLiteral:
          return "is a string";
        case AST_NODE_TYPES.UnaryExpression:
          return key.argument.type === AST_NODE_TYPES.Literal ? `is a ${typeof key.argument.value} literal` : typed(key);
        case AST_NODE_TYPES.CallExpression: {
          if (key.callee.type === AST_NODE_TYPES.Identifier && key.callee.name === "Symbol" && isGlobal(context, key.callee)) {
            return "is a Symbol()";
          }
          if (isGlobalMember(context, key.callee, "Symbol", ["for"])) return "is a Symbol.for() (shared by every package)";
          if (importedName(context, key.callee, core) === "createKey") return depth === 0 ? "inline" : undefined;
          return typed(key);
        }
        case AST_NODE_TYPES.Identifier: {
          if (key.name === "undefined") return "is undefined";
          const variable = ASTUtils.findVariable(sourceCode.getScope(key), key);
          const def = variable?.defs.length === 1 ? variable.defs[0] : undefined;
          if (
            depth < 3 &&
            def?.type === "Variable" &&
            def.parent.kind === "const" &&
            def.node.id.type === AST_NODE_TYPES.Identifier &&
            def.node.init
          ) {
            const inner = problem(def.node.init, depth + 1);
            if (inner !== undefined) return `\`${key.name}\` ${inner}`;
            if (isCreateKey(def.node.init)) return undefined;
          }
          return typed(key);
        }
        default:
          return typed(key);
      }
    }

    function isCreateKey(node: TSESTree.Node): boolean {
      return node.type === AST_NODE_TYPES.CallExpression && importedName(context, node.callee, core) === "createKey";
    }

    function typed(node: TSESTree.Node): string | undefined {
      if (!info) return undefined;
      const type = info.services.getTypeAtLocation(node);
      if (isAnyType(type) || isCoreType(info, info.checker.getNonNullableType(type), "Key")) return undefined;
      if (type.flags & PRIMITIVE) return `has type \`${info.checker.typeToString(type)}\``;
      return `has type \`${info.checker.typeToString(type)}\`, not a Key from createKey`;
    }

    return {
      CallExpression(node) {
        if (importedName(context, node.callee, core) !== "withValue") return;
        const key = node.arguments[1];
        if (!key || key.type === AST_NODE_TYPES.SpreadElement) return;
        const what = problem(key, 0);
        if (what === undefined) return;
        if (what === "inline") context.report({ node: key, messageId: "inlineKey" });
        else context.report({ node: key, messageId: "badKey", data: { what } });
      },
    };
  },
});
