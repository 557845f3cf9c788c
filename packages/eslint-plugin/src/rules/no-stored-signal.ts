import { AST_NODE_TYPES, ASTUtils, type TSESTree } from "@typescript-eslint/utils";
import { isFunction, signalOf, type FunctionNode } from "../internal/params.js";
import { createRule } from "../internal/rule.js";
import { SEED_NO_STORED_SIGNAL } from "../internal/seeds.js";
import { typeInfo } from "../internal/types.js";

/**
 * no-stored-signal reports an AbortSignal that a function receives (see forward-signal: a parameter typed
 * `AbortSignal`, a destructured `{ signal }`, `options.signal`) stored where it outlives the call:
 *
 * - `this.x = signal` in a method other than the constructor (the instance was there before the call and
 *   stays after it: the next call sees the previous caller's signal);
 * - `obj.x = signal` or `x = signal` where `obj`/`x` is module state.
 *
 * Not reported: a constructor that keeps the signal of the operation the object stands for (a per-request
 * object, a stream), a local object built for one call (`{ signal }` as options), a signal the object makes
 * itself (`this.controller.signal`). No fix: pass the signal to each call instead.
 */
export const noStoredSignal = createRule<"stored", []>({
  name: "no-stored-signal",
  meta: {
    type: "suggestion",
    docs: {
      description: "Disallow storing a received AbortSignal on a long-lived object or in module state",
      seed: SEED_NO_STORED_SIGNAL,
      recommended: true,
      requiresTypeChecking: false,
    },
    messages: {
      stored:
        "`{{target}}` keeps `{{signal}}`, the signal this call received, after the call returns: the next user of {{owner}} sees a signal that belongs to someone else. Pass it to each call instead. \"" +
        SEED_NO_STORED_SIGNAL +
        "\"",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    const info = typeInfo(context, "signal");
    const sourceCode = context.sourceCode;
    const signals = new WeakMap<FunctionNode, ReturnType<typeof signalOf> | null>();

    function enclosingFunction(node: TSESTree.Node): FunctionNode | undefined {
      for (let n = node.parent; n; n = n.parent) if (isFunction(n)) return n;
      return undefined;
    }

    function isConstructor(fn: FunctionNode): boolean {
      const parent = fn.parent;
      return parent?.type === AST_NODE_TYPES.MethodDefinition && parent.kind === "constructor";
    }

    function rootOf(node: TSESTree.Node): TSESTree.Node {
      let n = node;
      while (n.type === AST_NODE_TYPES.MemberExpression) n = n.object;
      return n;
    }

    function isModuleState(id: TSESTree.Identifier): boolean {
      const variable = ASTUtils.findVariable(sourceCode.getScope(id), id);
      if (!variable || variable.defs.length === 0) return false;
      const scope = variable.scope.variableScope.type;
      return scope === "module" || (scope === "global" && sourceCode.ast.sourceType !== "module");
    }

    return {
      AssignmentExpression(node) {
        if (node.operator !== "=") return;
        const fn = enclosingFunction(node);
        if (!fn) return;
        let signal = signals.get(fn);
        if (signal === undefined) signals.set(fn, (signal = signalOf(context, info, fn) ?? null));
        if (!signal) return;
        const value = sourceCode.getText(node.right).replace(/\?\./g, ".");
        if (value !== signal.text.replace(/\?\./g, ".")) return;
        const target = node.left;
        let owner: string | undefined;
        if (target.type === AST_NODE_TYPES.MemberExpression) {
          const root = rootOf(target);
          if (root.type === AST_NODE_TYPES.ThisExpression) {
            // Only `this` of the method itself (an arrow inside it shares it), not the constructor's.
            let method: FunctionNode | undefined = fn;
            while (method && method.type === AST_NODE_TYPES.ArrowFunctionExpression) method = enclosingFunction(method);
            if (!method || isConstructor(method) || method.parent?.type !== AST_NODE_TYPES.MethodDefinition) return;
            owner = "the instance";
          } else if (root.type === AST_NODE_TYPES.Identifier && isModuleState(root)) {
            owner = `the module's \`${root.name}\``;
          }
        } else if (target.type === AST_NODE_TYPES.Identifier && isModuleState(target)) {
          owner = "the module";
        }
        if (!owner) return;
        context.report({ node, messageId: "stored", data: { target: sourceCode.getText(target), signal: signal.text, owner } });
      },
    };
  },
});
