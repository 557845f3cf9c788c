// What runs once per iteration, and which values outlive the iteration: shared by no-race-with-done and
// no-signal-any-in-loop.
import { AST_NODE_TYPES, ASTUtils, type TSESTree } from "@typescript-eslint/utils";
import type { AnyContext } from "./imports.js";
import { isFunction } from "./params.js";

/** LoopNode is a statement that repeats its body. */
export type LoopNode =
  | TSESTree.ForStatement
  | TSESTree.ForInStatement
  | TSESTree.ForOfStatement
  | TSESTree.WhileStatement
  | TSESTree.DoWhileStatement;

/**
 * loopOf returns the innermost loop of its own function in which `node` runs once per iteration: in a loop's
 * body, test or update, not in a `for` initialiser or the iterable of `for…of`/`for…in` (evaluated once).
 */
export function loopOf(node: TSESTree.Node): LoopNode | undefined {
  let child: TSESTree.Node = node;
  for (let n = node.parent; n; child = n, n = n.parent) {
    if (isFunction(n)) return undefined;
    switch (n.type) {
      case AST_NODE_TYPES.ForStatement:
        if (child !== n.init) return n;
        break;
      case AST_NODE_TYPES.ForOfStatement:
      case AST_NODE_TYPES.ForInStatement:
        if (child !== n.right) return n;
        break;
      case AST_NODE_TYPES.WhileStatement:
      case AST_NODE_TYPES.DoWhileStatement:
        return n;
      default:
        break;
    }
  }
  return undefined;
}

function inside(node: TSESTree.Node, outer: TSESTree.Node): boolean {
  return node.range[0] >= outer.range[0] && node.range[1] <= outer.range[1];
}

/** declaredOutside reports whether `id` names a variable declared outside `loop` (a parameter, a global, …). */
function declaredOutside(context: AnyContext, id: TSESTree.Identifier, loop: LoopNode): boolean {
  const variable = ASTUtils.findVariable(context.sourceCode.getScope(id), id);
  if (!variable || variable.defs.length === 0) return true;
  // The loop variable of for…of/for…in is declared in the loop's head but is new each iteration.
  return variable.defs.every((d) => !inside(d.name, loop));
}

/**
 * longLived returns the text of an element of `Promise.race([…])`/`AbortSignal.any([…])` that outlives one
 * iteration of `loop`, or undefined: a variable or property declared outside the loop (`done`, `this.closed`,
 * `options.signal`), `x.done()`, or an `'abort'` wait (`once(signal, "abort")`) — each registers on something that
 * lives on. A call that makes a new promise each iteration (`next()`, `sleep(ms)`) does not.
 */
export function longLived(context: AnyContext, element: TSESTree.Node, loop: LoopNode): string | undefined {
  let e: TSESTree.Node = element;
  while (e.type === AST_NODE_TYPES.TSAsExpression || e.type === AST_NODE_TYPES.TSNonNullExpression || e.type === AST_NODE_TYPES.ChainExpression) {
    e = e.expression;
  }
  const text = context.sourceCode.getText(element);
  if (e.type === AST_NODE_TYPES.Identifier) return e.name !== "undefined" && declaredOutside(context, e, loop) ? text : undefined;
  if (e.type === AST_NODE_TYPES.MemberExpression) {
    let root: TSESTree.Node = e;
    while (root.type === AST_NODE_TYPES.MemberExpression) root = root.object;
    if (root.type === AST_NODE_TYPES.ThisExpression) return text;
    if (root.type === AST_NODE_TYPES.Identifier && declaredOutside(context, root, loop)) return text;
    return undefined;
  }
  if (e.type === AST_NODE_TYPES.CallExpression) {
    const callee = e.callee;
    if (
      callee.type === AST_NODE_TYPES.MemberExpression &&
      !callee.computed &&
      callee.property.type === AST_NODE_TYPES.Identifier &&
      callee.property.name === "done" &&
      e.arguments.length === 0 &&
      longLived(context, callee.object, loop)
    ) {
      return text;
    }
    const abortWait = e.arguments.some((a) => a.type === AST_NODE_TYPES.Literal && a.value === "abort");
    const source = e.arguments[0];
    if (abortWait && source && longLived(context, source, loop)) return text;
  }
  return undefined;
}

/** racers returns the elements of an array literal argument, or the argument itself when it is not one. */
export function racers(arg: TSESTree.Node | undefined): TSESTree.Node[] {
  if (!arg) return [];
  if (arg.type === AST_NODE_TYPES.ArrayExpression) {
    return arg.elements.filter((e): e is TSESTree.Expression => e !== null && e.type !== AST_NODE_TYPES.SpreadElement);
  }
  return [];
}
