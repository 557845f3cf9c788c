import { AST_NODE_TYPES, ASTUtils, type TSESTree } from "@typescript-eslint/utils";
import { corePackages, importedName, importsFrom } from "../internal/imports.js";
import { isFunction, paramKind } from "../internal/params.js";
import { createRule } from "../internal/rule.js";
import { SEED_NO_STORED_CONTEXT } from "../internal/seeds.js";
import { annotationKind, expressionKind, hasContextMembers, typeInfo, type TypeInfo } from "../internal/types.js";

type MessageIds = "field" | "assignment";

/** Core functions whose result is a Context (for the untyped check of `#ctx = background()`). */
const CONTEXT_RETURNING = new Set(["background", "todo", "withValue", "withoutCancel"]);

type ClassNode = TSESTree.ClassDeclaration | TSESTree.ClassExpression;

/**
 * no-stored-context reports a Context kept in a long-lived place: a class field or constructor parameter
 * property typed Context, `this.x = ctx`, or `obj.x = ctx` where `obj` lives outside the function (module
 * state). Object literals built for a call (`{ ctx }` as options) are not reported; neither is a class that
 * is itself a Context (it has `deadline`, `done`, `err`, `value` and `signal`, or `implements Context`): a
 * context node holds its parent. No fix: the change is to pass ctx to each method instead.
 */
export const noStoredContext = createRule<MessageIds, []>({
  name: "no-stored-context",
  meta: {
    type: "suggestion",
    docs: {
      description: "Disallow storing a Context in a class field or a long-lived object",
      seed: SEED_NO_STORED_CONTEXT,
      recommended: true,
      requiresTypeChecking: false,
      typeAware: "sees the type of any assigned expression and field, not only Context annotations and parameters",
    },
    messages: {
      field:
        "{{what}} stores a Context: pass ctx as the first parameter of each method instead. \"" +
        SEED_NO_STORED_CONTEXT +
        "\"",
      assignment:
        "`{{target}}` stores a Context in a long-lived object: pass ctx as a parameter instead. \"" +
        SEED_NO_STORED_CONTEXT +
        "\"",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    const info = typeInfo(context);
    const sourceCode = context.sourceCode;
    const core = corePackages(context);
    // Without types, a Context is only seen through an import from lifeline: none, nothing to look at.
    if (!info && !importsFrom(context, core)) return {};
    const contextClasses = new WeakMap<ClassNode, boolean>();

    function enclosingClass(node: TSESTree.Node): ClassNode | undefined {
      for (let n = node.parent; n; n = n.parent) {
        if (n.type === AST_NODE_TYPES.ClassDeclaration || n.type === AST_NODE_TYPES.ClassExpression) return n;
      }
      return undefined;
    }

    function isContextClass(cls: ClassNode): boolean {
      let answer = contextClasses.get(cls);
      if (answer !== undefined) return answer;
      answer = false;
      if (info) {
        const type = info.checker.getTypeAtLocation(info.services.esTreeNodeToTSNodeMap.get(cls));
        answer = hasContextMembers(type);
      }
      if (!answer) {
        answer = cls.implements.some(
          (i) => i.expression.type === AST_NODE_TYPES.Identifier && importedName(context, i.expression, core) === "Context",
        );
      }
      if (!answer) {
        const names = new Set(
          cls.body.body.flatMap((m) =>
            (m.type === AST_NODE_TYPES.MethodDefinition || m.type === AST_NODE_TYPES.TSAbstractMethodDefinition) &&
            m.key.type === AST_NODE_TYPES.Identifier
              ? [m.key.name]
              : [],
          ),
        );
        answer = ["deadline", "done", "err"].every((n) => names.has(n));
      }
      contextClasses.set(cls, answer);
      return answer;
    }

    /** holdsContext reports whether an expression's value is a Context. */
    function holdsContext(node: TSESTree.Expression, typed: TypeInfo | undefined): boolean {
      if (typed) return expressionKind(typed, node)?.kind === "context";
      if (node.type === AST_NODE_TYPES.CallExpression) {
        const name = importedName(context, node.callee, core);
        return name !== undefined && CONTEXT_RETURNING.has(name);
      }
      if (node.type === AST_NODE_TYPES.Identifier) {
        const variable = ASTUtils.findVariable(sourceCode.getScope(node), node);
        const def = variable?.defs[0];
        if (def?.type === "Parameter" && def.name.type === AST_NODE_TYPES.Identifier) {
          return annotationKind(context, def.name.typeAnnotation?.typeAnnotation)?.kind === "context";
        }
        if (def?.type === "Variable" && def.node.id.type === AST_NODE_TYPES.Identifier) {
          const init = def.node.init;
          return (
            annotationKind(context, def.node.id.typeAnnotation?.typeAnnotation)?.kind === "context" ||
            (init?.type === AST_NODE_TYPES.CallExpression && holdsContext(init, undefined))
          );
        }
      }
      return false;
    }

    function fieldStores(
      node: TSESTree.PropertyDefinition | TSESTree.AccessorProperty | TSESTree.TSAbstractPropertyDefinition | TSESTree.TSAbstractAccessorProperty,
    ): boolean {
      if (info) return expressionKind(info, node.key)?.kind === "context";
      return (
        annotationKind(context, node.typeAnnotation?.typeAnnotation)?.kind === "context" ||
        (node.value !== null && holdsContext(node.value, undefined))
      );
    }

    function declaresContextField(cls: ClassNode, property: TSESTree.Node): boolean {
      const name = keyText(property);
      return cls.body.body.some((m) => {
        if (
          m.type === AST_NODE_TYPES.PropertyDefinition ||
          m.type === AST_NODE_TYPES.AccessorProperty ||
          m.type === AST_NODE_TYPES.TSAbstractPropertyDefinition ||
          m.type === AST_NODE_TYPES.TSAbstractAccessorProperty
        ) {
          return !m.static && keyText(m.key) === name && fieldStores(m);
        }
        if (m.type === AST_NODE_TYPES.MethodDefinition && m.kind === "constructor") {
          return m.value.params.some(
            (p) =>
              p.type === AST_NODE_TYPES.TSParameterProperty &&
              p.parameter.type === AST_NODE_TYPES.Identifier &&
              p.parameter.name === name &&
              paramKind(context, info, p, { byName: false })?.kind === "context",
          );
        }
        return false;
      });
    }

    function keyText(key: TSESTree.Node): string {
      return sourceCode.getText(key);
    }

    function checkField(
      node: TSESTree.PropertyDefinition | TSESTree.AccessorProperty | TSESTree.TSAbstractPropertyDefinition | TSESTree.TSAbstractAccessorProperty,
    ): void {
      if (node.static) return checkStatic(node);
      const cls = enclosingClass(node);
      if (!cls || isContextClass(cls)) return;
      if (fieldStores(node)) context.report({ node, messageId: "field", data: { what: `Field \`${keyText(node.key)}\`` } });
    }

    function checkStatic(
      node: TSESTree.PropertyDefinition | TSESTree.AccessorProperty | TSESTree.TSAbstractPropertyDefinition | TSESTree.TSAbstractAccessorProperty,
    ): void {
      const stores = info
        ? expressionKind(info, node.key)?.kind === "context"
        : annotationKind(context, node.typeAnnotation?.typeAnnotation)?.kind === "context";
      if (stores) context.report({ node, messageId: "field", data: { what: `Static field \`${keyText(node.key)}\`` } });
    }

    function checkParameterProperty(node: TSESTree.TSParameterProperty): void {
      const cls = enclosingClass(node);
      if (!cls || isContextClass(cls)) return;
      const kind = paramKind(context, info, node, { byName: false });
      if (kind?.kind !== "context") return;
      const name = node.parameter.type === AST_NODE_TYPES.Identifier ? node.parameter.name : "parameter";
      context.report({ node, messageId: "field", data: { what: `Parameter property \`${name}\`` } });
    }

    /** rootObject returns the object at the root of a member chain: `this` in `this.a.b`, `state` in `state.x`. */
    function rootObject(node: TSESTree.MemberExpression): TSESTree.Node {
      let n: TSESTree.Node = node;
      while (
        n.type === AST_NODE_TYPES.MemberExpression ||
        n.type === AST_NODE_TYPES.TSAsExpression ||
        n.type === AST_NODE_TYPES.TSNonNullExpression ||
        n.type === AST_NODE_TYPES.TSTypeAssertion ||
        n.type === AST_NODE_TYPES.TSSatisfiesExpression
      ) {
        n = n.type === AST_NODE_TYPES.MemberExpression ? n.object : n.expression;
      }
      return n;
    }

    /** isLongLived reports whether the object at `root` outlives the current call: `this`, or a variable from outside every function. */
    function isLongLived(root: TSESTree.Node, at: TSESTree.Node): boolean {
      if (root.type === AST_NODE_TYPES.ThisExpression) return true;
      if (root.type !== AST_NODE_TYPES.Identifier) return false;
      const variable = ASTUtils.findVariable(sourceCode.getScope(at), root);
      if (!variable) return false;
      if (variable.defs.length === 0) return true; // globalThis, window
      const scopeType = variable.scope.variableScope.type;
      return scopeType === "module" || scopeType === "global";
    }

    function checkAssignment(node: TSESTree.AssignmentExpression): void {
      if (node.left.type !== AST_NODE_TYPES.MemberExpression) return;
      const root = rootObject(node.left);
      if (!isLongLived(root, node)) return;
      // Module-level code that sets up module state is the program's top, not a request.
      let inFunction = false;
      for (let n: TSESTree.Node | undefined = node.parent; n; n = n.parent) if (isFunction(n)) inFunction = true;
      if (!inFunction && root.type !== AST_NODE_TYPES.ThisExpression) return;
      const cls = root.type === AST_NODE_TYPES.ThisExpression ? enclosingClass(node) : undefined;
      if (cls && isContextClass(cls)) return;
      // `this.ctx = ctx` for a field already reported as typed Context: one finding per field, at the field.
      if (cls && node.left.object === root && declaresContextField(cls, node.left.property)) return;
      if (!holdsContext(node.right, info)) return;
      context.report({ node, messageId: "assignment", data: { target: sourceCode.getText(node.left) } });
    }

    return {
      PropertyDefinition: checkField,
      AccessorProperty: checkField,
      TSAbstractPropertyDefinition: checkField,
      TSAbstractAccessorProperty: checkField,
      TSParameterProperty: checkParameterProperty,
      AssignmentExpression: checkAssignment,
    };
  },
});
