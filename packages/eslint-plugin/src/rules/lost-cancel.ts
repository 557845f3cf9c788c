import { AST_NODE_TYPES, ASTUtils, type TSESLint, type TSESTree } from "@typescript-eslint/utils";
import { CANCEL_FUNCTIONS, corePackages, importedName, importsFrom } from "../internal/imports.js";
import { isFunction } from "../internal/params.js";
import { createRule } from "../internal/rule.js";
import { SEED_LOST_CANCEL } from "../internal/seeds.js";

type CodePath = TSESLint.CodePath;
type Segment = TSESLint.CodePathSegment;
type Scope = TSESLint.Scope.Scope;
type Variable = TSESLint.Scope.Variable;

/** @lifeline/node's notifyContext returns `[ctx, stop]`; stop must be called as well (Go's NotifyContext). */
const NODE_MODULE = "@lifeline/node";
const NODE_FUNCTIONS = new Set(["notifyContext"]);

/** Position is where a node sits in its function's code path: the segments it is in and its visit order. */
interface Position {
  segments: Segment[];
  order: number;
}

/** CancelDef is one `[ctx, cancel] = withX(...)` whose cancel variable must be used on every path. */
interface CancelDef {
  id: TSESTree.Identifier;
  variable: Variable;
  fn: string;
  at: Position;
  statement: TSESTree.Node;
}

interface PathState {
  codePath: CodePath;
  node: TSESTree.Node;
  current: Set<Segment>;
  defs: CancelDef[];
}

type MessageIds = "discarded" | "notCalled" | "suggestFinally";

/**
 * lost-cancel reports a cancel function from `withCancel`, `withTimeout`, `withDeadline`, `withSignal` (and their
 * `*Cause` variants, and `@lifeline/node`'s `notifyContext`) that is discarded, or that a path out of the
 * function never uses — go vet's lostcancel.
 *
 * The analysis is go vet's: any reference to the cancel variable other than the assignment counts as a use
 * (calling it, returning it, passing it on, storing it, capturing it in a closure), and the rule searches
 * ESLint's code-path graph for a path from the definition to a `return`, a `throw` that leaves the function,
 * the end of the function, or back to the definition in a loop, on which there is none. A `finally` that calls
 * cancel covers every path through it. What the rule does not see: calls that throw without a `throw`
 * statement (as go vet ignores panics), `process.exit`, and a cancel held in a tuple variable
 * (`const pair = withCancel(p)`), which counts as handed on. A cancel referenced from a hoisted function
 * declaration counts as used everywhere.
 */
export const lostCancel = createRule<MessageIds, []>({
  name: "lost-cancel",
  meta: {
    type: "problem",
    docs: {
      description:
        "Require the cancel function of withCancel/withTimeout/withDeadline/withSignal (and *Cause) to be called on every path",
      seed: SEED_LOST_CANCEL,
      recommended: true,
      requiresTypeChecking: false,
    },
    hasSuggestions: true,
    messages: {
      discarded:
        "The cancel function returned by {{fn}} is discarded, so the context lives until its parent ends (possible context leak). Bind it and call it when the work is done. \"" +
        SEED_LOST_CANCEL +
        "\"",
      notCalled:
        "`{{name}}` from {{fn}} is not called on every path: {{exit}} leaves without it (possible context leak). Call it in a finally block. \"" +
        SEED_LOST_CANCEL +
        "\"",
      suggestFinally: "Call `{{name}}()` in a finally block that covers the rest of the block.",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    const sourceCode = context.sourceCode;
    const core = corePackages(context);
    // Fast path, as go vet's: a file that imports neither package cannot call them.
    if (!importsFrom(context, [...core, NODE_MODULE])) return {};

    const stack: PathState[] = [];
    const positions = new Map<TSESTree.Node, Position>(); // identifiers, in their own function's code path
    const originPositions = new Map<TSESTree.Node, Position>(); // functions, where they appear in the enclosing path
    const exits = new Map<Segment, TSESTree.Node>(); // the return/throw statement that ends a segment
    // The break/continue statements in a segment, with their visit order. ESLint's code-path graph sends them
    // straight to their target, past any `finally` in between, so the rule routes them through it itself.
    const jumps = new Map<Segment, { node: TSESTree.BreakStatement | TSESTree.ContinueStatement; order: number }[]>();
    let order = 0;

    function here(): Position {
      const top = stack[stack.length - 1];
      return { segments: top ? [...top.current] : [], order: ++order };
    }

    function cancelFunctionName(callee: TSESTree.Node): string | undefined {
      const fromCore = importedName(context, callee, core);
      if (fromCore && CANCEL_FUNCTIONS.has(fromCore)) return fromCore;
      const fromNode = importedName(context, callee, [NODE_MODULE]);
      if (fromNode && NODE_FUNCTIONS.has(fromNode)) return fromNode;
      return undefined;
    }

    /** consumer skips the wrappers that pass a value through unchanged and returns what receives the call's result. */
    function consumer(call: TSESTree.CallExpression): { child: TSESTree.Node; parent: TSESTree.Node } {
      let child: TSESTree.Node = call;
      let parent = call.parent;
      for (;;) {
        if (
          parent.type === AST_NODE_TYPES.TSAsExpression ||
          parent.type === AST_NODE_TYPES.TSSatisfiesExpression ||
          parent.type === AST_NODE_TYPES.TSNonNullExpression ||
          parent.type === AST_NODE_TYPES.TSTypeAssertion ||
          (parent.type === AST_NODE_TYPES.ConditionalExpression && parent.test !== child) ||
          (parent.type === AST_NODE_TYPES.SequenceExpression && parent.expressions.at(-1) === child)
        ) {
          child = parent;
          parent = parent.parent;
          continue;
        }
        return { child, parent };
      }
    }

    function reportDiscarded(node: TSESTree.Node, fn: string, suggest?: TSESLint.ReportSuggestionArray<MessageIds>): void {
      context.report({ node, messageId: "discarded", data: { fn }, ...(suggest ? { suggest } : {}) });
    }

    function onCall(call: TSESTree.CallExpression): void {
      const fn = cancelFunctionName(call.callee);
      if (!fn) return;
      const { child, parent } = consumer(call);
      switch (parent.type) {
        case AST_NODE_TYPES.ExpressionStatement:
          return reportDiscarded(call, fn);
        case AST_NODE_TYPES.UnaryExpression:
          if (parent.operator === "void") reportDiscarded(call, fn);
          return;
        case AST_NODE_TYPES.MemberExpression:
          // withCancel(p)[0] keeps the context and drops the cancel function.
          if (
            parent.object === child &&
            parent.computed &&
            parent.property.type === AST_NODE_TYPES.Literal &&
            parent.property.value === 0
          ) {
            reportDiscarded(call, fn);
          }
          return;
        case AST_NODE_TYPES.VariableDeclarator:
          if (parent.init === child && parent.id.type === AST_NODE_TYPES.ArrayPattern) {
            onPattern(parent.id, fn, parent.parent, call);
          }
          return;
        case AST_NODE_TYPES.AssignmentExpression:
          if (parent.right === child && parent.operator === "=" && parent.left.type === AST_NODE_TYPES.ArrayPattern) {
            onPattern(parent.left, fn, parent.parent.type === AST_NODE_TYPES.ExpressionStatement ? parent.parent : parent, call);
          }
          return;
        default:
          // Returned, passed to a call, stored in an array or object, yielded: handed on to someone else.
          return;
      }
    }

    function onPattern(pattern: TSESTree.ArrayPattern, fn: string, statement: TSESTree.Node, call: TSESTree.CallExpression): void {
      let element: TSESTree.Node | null | undefined = pattern.elements[1];
      if (element?.type === AST_NODE_TYPES.AssignmentPattern) element = element.left;
      if (!element || (element.type === AST_NODE_TYPES.Identifier && element.name === "_")) {
        return reportDiscarded(element ?? pattern, fn, bindSuggestion(pattern, element, statement));
      }
      // `...rest`, `this.cancel`, a nested pattern: stored somewhere else.
      if (element.type !== AST_NODE_TYPES.Identifier) return;
      const variable = variableOf(element, statement);
      if (!variable) return;
      const top = stack[stack.length - 1];
      if (!top) return;
      // Declared in an enclosing function (go vet: golang/go#31856), or exported: it escapes this function.
      if (variable.scope.variableScope.block !== top.node) return;
      if (isExported(variable)) return;
      const at = positions.get(call) ?? here();
      top.defs.push({ id: element, variable, fn, at, statement });
    }

    function variableOf(id: TSESTree.Identifier, statement: TSESTree.Node): Variable | undefined {
      if (statement.type === AST_NODE_TYPES.VariableDeclaration) {
        return sourceCode.getDeclaredVariables(statement).find((v) => v.identifiers.includes(id));
      }
      return ASTUtils.findVariable(sourceCode.getScope(id), id) ?? undefined;
    }

    function isExported(variable: Variable): boolean {
      return variable.defs.some((d) => d.parent?.parent?.type === AST_NODE_TYPES.ExportNamedDeclaration);
    }

    /** anchor returns the node that stands for a reference in `fn`'s code path: itself, or the closure holding it. */
    function anchor(id: TSESTree.Node, fn: TSESTree.Node): TSESTree.Node {
      let a: TSESTree.Node = id;
      for (let n: TSESTree.Node | undefined = id.parent; n && n !== fn; n = n.parent) {
        if (originPositions.has(n)) a = n;
      }
      return a;
    }

    function describeExit(node: TSESTree.Node | undefined, state: PathState): string {
      if (node?.type === AST_NODE_TYPES.ReturnStatement) return `the return on line ${node.loc.start.line}`;
      if (node?.type === AST_NODE_TYPES.ThrowStatement) return `the throw on line ${node.loc.start.line}`;
      return state.node.type === AST_NODE_TYPES.Program ? "the end of the module" : "the end of the function";
    }

    /** jumpTarget returns the statement a break/continue leaves: its label's statement, or the nearest loop (or switch). */
    function jumpTarget(jump: TSESTree.BreakStatement | TSESTree.ContinueStatement): TSESTree.Node | undefined {
      for (let n: TSESTree.Node | undefined = jump.parent; n && !isFunction(n); n = n.parent) {
        if (jump.label) {
          if (n.type === AST_NODE_TYPES.LabeledStatement && n.label.name === jump.label.name) return n;
          continue;
        }
        switch (n.type) {
          case AST_NODE_TYPES.ForStatement:
          case AST_NODE_TYPES.ForInStatement:
          case AST_NODE_TYPES.ForOfStatement:
          case AST_NODE_TYPES.WhileStatement:
          case AST_NODE_TYPES.DoWhileStatement:
            return n;
          case AST_NODE_TYPES.SwitchStatement:
            if (jump.type === AST_NODE_TYPES.BreakStatement) return n;
            break;
          default:
            break;
        }
      }
      return undefined;
    }

    /**
     * finallyUses reports whether a break/continue runs, on its way to its target, a `finally` block that
     * references `variable` (go vet's rule: any reference is a use).
     */
    function finallyUses(jump: TSESTree.BreakStatement | TSESTree.ContinueStatement, variable: Variable): boolean {
      const target = jumpTarget(jump);
      if (!target) return false;
      let child: TSESTree.Node = jump;
      for (let n: TSESTree.Node | undefined = jump.parent; n && n !== target; child = n, n = n.parent) {
        if (n.type !== AST_NODE_TYPES.TryStatement || !n.finalizer || child === n.finalizer) continue;
        const [from, to] = n.finalizer.range;
        if (variable.references.some((r) => r.identifier.range[0] >= from && r.identifier.range[1] <= to)) return true;
      }
      return false;
    }

    /** lostPath returns how a path leaves without using the cancel variable, or undefined if none does. */
    function lostPath(def: CancelDef, state: PathState): string | undefined {
      const uses = new Map<Segment, number[]>();
      for (const ref of def.variable.references) {
        if (!ref.isRead() || ref.identifier === def.id) continue;
        const a = anchor(ref.identifier, state.node);
        // A hoisted function declaration can run at any time after the definition: the cancel escapes.
        if (a !== ref.identifier && a.type === AST_NODE_TYPES.FunctionDeclaration) return undefined;
        const p = a === ref.identifier ? positions.get(a) : originPositions.get(a);
        if (!p) continue;
        for (const s of p.segments) {
          const list = uses.get(s);
          if (list) list.push(p.order);
          else uses.set(s, [p.order]);
        }
      }
      // A segment that ends in a break/continue whose way out runs a finally that uses cancel: a use.
      for (const [segment, list] of jumps) {
        for (const j of list) {
          if (!finallyUses(j.node, def.variable)) continue;
          const l = uses.get(segment);
          if (l) l.push(j.order);
          else uses.set(segment, [j.order]);
        }
      }
      const finals = new Set(state.codePath.finalSegments.filter((s) => s.reachable));
      for (const start of def.at.segments) {
        if (!start.reachable) continue;
        if (uses.get(start)?.some((o) => o > def.at.order)) continue;
        if (finals.has(start)) return describeExit(exits.get(start), state);
        const seen = new Set<Segment>([start]);
        const search = (segments: Segment[]): string | undefined => {
          for (const s of segments) {
            if (s === start) {
              // Back at the definition (a loop) before any use: the old cancel is overwritten or dropped.
              if (uses.get(s)?.some((o) => o < def.at.order)) continue;
              return "the next iteration of the loop";
            }
            if (seen.has(s)) continue;
            seen.add(s);
            if (uses.has(s)) continue;
            if (finals.has(s)) return describeExit(exits.get(s), state);
            const found = search(s.nextSegments);
            if (found) return found;
          }
          return undefined;
        };
        const found = search(start.nextSegments);
        if (found) return found;
      }
      return undefined;
    }

    function finallySuggestion(
      def: Pick<CancelDef, "statement">,
      name: string,
      extra?: (fixer: TSESLint.RuleFixer) => TSESLint.RuleFix,
    ): TSESLint.ReportSuggestionArray<MessageIds> | undefined {
      const statement = def.statement;
      const block = statement.parent;
      if (!block || block.type !== AST_NODE_TYPES.BlockStatement) return undefined;
      const index = block.body.indexOf(statement as TSESTree.Statement);
      const rest = block.body.slice(index + 1);
      const last = rest.at(-1);
      if (index < 0 || !last) return undefined;
      // Moving declarations into the try block changes what is hoisted where.
      if (rest.some((s) => s.type === AST_NODE_TYPES.FunctionDeclaration || s.type === AST_NODE_TYPES.ClassDeclaration)) {
        return undefined;
      }
      const line = sourceCode.lines[statement.loc.start.line - 1] ?? "";
      const indent = /^\s*/.exec(line)?.[0] ?? "";
      const range: [number, number] = [statement.range[1], last.range[1]];
      // Indent the statements moved into the try block, unless that would change a multi-line template literal.
      const multilineTemplate = sourceCode.ast.tokens.some(
        (t) => t.type === "Template" && t.range[0] >= range[0] && t.range[1] <= range[1] && t.loc.start.line !== t.loc.end.line,
      );
      const body = sourceCode.text.slice(range[0], range[1]);
      const moved = multilineTemplate ? body : body.replace(/\n(?=[^\n])/g, "\n  ");
      return [
        {
          messageId: "suggestFinally",
          data: { name },
          fix: (fixer) => {
            const fixes: TSESLint.RuleFix[] = extra ? [extra(fixer)] : [];
            fixes.push(
              fixer.replaceTextRange(range, `\n${indent}try {${moved}\n${indent}} finally {\n${indent}  ${name}();\n${indent}}`),
            );
            return fixes;
          },
        },
      ];
    }

    function bindSuggestion(
      pattern: TSESTree.ArrayPattern,
      element: TSESTree.Node | null | undefined,
      statement: TSESTree.Node,
    ): TSESLint.ReportSuggestionArray<MessageIds> | undefined {
      if (statement.type !== AST_NODE_TYPES.VariableDeclaration) return undefined;
      const scope: Scope = sourceCode.getScope(statement);
      if (ASTUtils.findVariable(scope, "cancel")) return undefined;
      const first = pattern.elements[0];
      const def = { statement };
      if (element) {
        if (element.type !== AST_NODE_TYPES.Identifier) return undefined;
        const variable = variableOf(element, statement);
        if (variable && variable.references.some((r) => r.isRead())) return undefined;
        return finallySuggestion(def, "cancel", (fixer) => fixer.replaceText(element, "cancel"));
      }
      if (pattern.elements.length > 1) return undefined;
      return finallySuggestion(def, "cancel", (fixer) =>
        first ? fixer.insertTextAfter(first, ", cancel") : fixer.insertTextAfterRange([pattern.range[0], pattern.range[0] + 1], ", cancel"),
      );
    }

    return {
      onCodePathStart(codePath: CodePath, node: TSESTree.Node) {
        if (stack.length > 0) originPositions.set(node, here());
        stack.push({ codePath, node, current: new Set(), defs: [] });
      },
      onCodePathEnd(codePath: CodePath) {
        const state = stack.pop();
        if (!state || state.codePath !== codePath) return;
        for (const def of state.defs) {
          const exit = lostPath(def, state);
          if (!exit) continue;
          context.report({
            node: def.id,
            messageId: "notCalled",
            data: { name: def.id.name, fn: def.fn, exit },
            suggest: finallySuggestion(def, def.id.name) ?? [],
          });
        }
      },
      onCodePathSegmentStart(segment: Segment) {
        stack[stack.length - 1]?.current.add(segment);
      },
      onCodePathSegmentEnd(segment: Segment) {
        stack[stack.length - 1]?.current.delete(segment);
      },
      onUnreachableCodePathSegmentStart(segment: Segment) {
        stack[stack.length - 1]?.current.add(segment);
      },
      onUnreachableCodePathSegmentEnd(segment: Segment) {
        stack[stack.length - 1]?.current.delete(segment);
      },
      Identifier(node: TSESTree.Identifier) {
        positions.set(node, here());
      },
      ReturnStatement(node: TSESTree.ReturnStatement) {
        for (const s of stack[stack.length - 1]?.current ?? []) exits.set(s, node);
      },
      ThrowStatement(node: TSESTree.ThrowStatement) {
        for (const s of stack[stack.length - 1]?.current ?? []) exits.set(s, node);
      },
      "BreakStatement, ContinueStatement"(node: TSESTree.BreakStatement | TSESTree.ContinueStatement) {
        const at = ++order;
        for (const s of stack[stack.length - 1]?.current ?? []) {
          const list = jumps.get(s);
          if (list) list.push({ node, order: at });
          else jumps.set(s, [{ node, order: at }]);
        }
      },
      CallExpression(node: TSESTree.CallExpression) {
        positions.set(node, here());
        onCall(node);
      },
    } as unknown as TSESLint.RuleListener;
  },
});
