import { AST_NODE_TYPES, type TSESTree } from "@typescript-eslint/utils";
import { corePackages, importedName, importsFrom, isGlobalMember } from "../internal/imports.js";
import { createRule } from "../internal/rule.js";
import { SEED_NO_AWAIT_CASE } from "../internal/seeds.js";
import { isCoreType, typeInfo, type TypeInfo } from "../internal/types.js";

type MessageIds = "awaitCase";

/** The Promise statics that settle on their array's elements: a case among them counts as a settled value. */
const COMBINATORS = ["all", "allSettled", "any", "race"];

/** What a case found in an expression is: made by lifeline's `recv`/`send` (seen in the code) or typed as one. */
interface Found {
  /** The case expression as written. */
  node: TSESTree.Node;
  /** "recv" or "send" when the call is written there; undefined when only its type says it is a case. */
  op?: "recv" | "send";
  /** The call, when written there. */
  call?: TSESTree.CallExpression;
}

/**
 * no-await-case reports a select case used as a promise. `recv(ch)` and `send(ch, v)` from `@lifeline/core` make a
 * case for `select([…])` — Go's `case v := <-ch` — and do nothing by themselves; a case is a plain object, not a
 * thenable. So `await recv(ctx.done())`, what a Go user types for `<-ctx.Done()`, returns the case at once and
 * waits for nothing, in TypeScript (which allows awaiting any value) and in JS alike. Reported, with `recv`/`send`
 * bound to lifeline's exports (named imports, aliases, `ns.recv` on a namespace import; a local function named
 * `recv` is not lifeline's):
 *
 * - `await recv(…)` / `await send(…)`, also as `return await` and through `as`/`!`/`satisfies`;
 * - a case written as an element of `Promise.all/allSettled/any/race([…])` (it counts as already settled);
 * - `.then`/`.catch`/`.finally` called on a case (a case has none: it throws a TypeError).
 *
 * The message says what to write: `await select([recv(ctx.done())])` for a done channel, `await select([recv(ch)])`
 * or `await ch.recv(ctx)` / `await ch.send(ctx, v)` for one channel.
 *
 * With type information it also reports `await x` (and `x` among a combinator's elements) for any `x` whose type
 * is lifeline's `RecvCase`/`SendCase`: a case kept in a variable, made by a wrapper function, or imported through a
 * re-exporting module. It does not see, without types: a case held in a variable (`const c = recv(ch); await c`), a
 * case made by a wrapper, `recv`/`send` reached through `require`, `import()` or destructuring a namespace, a case
 * returned from an async function (`return recv(ch)` — it may be meant as a value), or a case in an array built
 * elsewhere (`Promise.all(cases)`), or a case wrapped by `Promise.resolve(recv(ch))`; nor a case that is never
 * used at all (`recv(ch);` as a statement).
 */
export const noAwaitCase = createRule<MessageIds, []>({
  name: "no-await-case",
  meta: {
    type: "problem",
    docs: {
      description: "Disallow awaiting a select case (recv()/send()): it is not a promise, so the await does not wait",
      seed: SEED_NO_AWAIT_CASE,
      recommended: true,
      requiresTypeChecking: false,
      typeAware: "reports any awaited expression whose type is a RecvCase/SendCase: a case in a variable, from a wrapper or a re-export",
    },
    messages: {
      awaitCase:
        "`{{case}}` is a select case, not a promise: {{effect}}. Wait with {{instead}}. \"" + SEED_NO_AWAIT_CASE + "\"",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    const core = corePackages(context);
    const imports = importsFrom(context, core);
    // Type information adds cases the code does not spell out; a file that does not import lifeline can hold one
    // only through another module, which only the checker sees.
    const info = typeInfo(context);
    if (!imports && !info) return {};
    const sourceCode = context.sourceCode;

    /** caseIn returns the case `node` is (through `as`, `!`, `satisfies`), or undefined. */
    function caseIn(node: TSESTree.Node): Found | undefined {
      let inner = node;
      while (
        inner.type === AST_NODE_TYPES.TSAsExpression ||
        inner.type === AST_NODE_TYPES.TSTypeAssertion ||
        inner.type === AST_NODE_TYPES.TSNonNullExpression ||
        inner.type === AST_NODE_TYPES.TSSatisfiesExpression
      ) {
        inner = inner.expression;
      }
      if (inner.type === AST_NODE_TYPES.CallExpression && imports) {
        const fn = importedName(context, inner.callee, core);
        if (fn === "recv" || fn === "send") return { node: inner, op: fn, call: inner };
      }
      if (info && isCase(info, inner)) return { node: inner };
      return undefined;
    }

    function report(found: Found, effect: string): void {
      context.report({
        node: found.node,
        messageId: "awaitCase",
        data: { case: short(sourceCode.getText(found.node), 60), effect, instead: instead(found) },
      });
    }

    /** instead returns the code to write instead, in the message's words. */
    function instead(found: Found): string {
      const written = sourceCode.getText(found.node).replace(/\s+/g, " ");
      const text = written.length <= 40 ? written : `${found.op ?? "recv"}(ch)`;
      const channel = found.call?.arguments[0];
      if (found.op === "recv" && channel && isDoneCall(channel)) {
        return `\`await select([${text}])\` (Go's \`<-ctx.Done()\`)`;
      }
      const ch = channel && isName(channel) ? sourceCode.getText(channel) : "ch";
      if (found.op === "recv") return `\`await select([${text}])\`, or \`await ${ch}.recv(ctx)\` for one channel`;
      if (found.op === "send") return `\`await select([${text}])\`, or \`await ${ch}.send(ctx, v)\` for one channel`;
      return `\`await select([${text}])\`, or \`await ch.recv(ctx)\` / \`await ch.send(ctx, v)\` for one channel`;
    }

    return {
      AwaitExpression(node) {
        const found = caseIn(node.argument);
        if (found) report(found, "`await` returns it at once and waits for nothing");
      },
      CallExpression(node) {
        if (isGlobalMember(context, node.callee, "Promise", COMBINATORS)) {
          const list = node.arguments[0];
          if (list?.type !== AST_NODE_TYPES.ArrayExpression) return;
          const method = ((node.callee as TSESTree.MemberExpression).property as TSESTree.Identifier).name;
          for (const element of list.elements) {
            if (!element || element.type === AST_NODE_TYPES.SpreadElement) continue;
            const found = caseIn(element);
            if (found) report(found, `Promise.${method} takes it as a value already settled and waits for nothing`);
          }
          return;
        }
        const callee = node.callee;
        if (
          callee.type === AST_NODE_TYPES.MemberExpression &&
          !callee.computed &&
          callee.property.type === AST_NODE_TYPES.Identifier &&
          ["then", "catch", "finally"].includes(callee.property.name)
        ) {
          // Only a case written there: with types, TypeScript itself rejects `.then` on a case.
          const found = caseIn(callee.object);
          if (found?.call) report(found, `it has no \`.${callee.property.name}\`: the call throws a TypeError`);
        }
      },
    };
  },
});

/** isCase reports whether `node`'s type is lifeline's RecvCase or SendCase (each member of a union, null aside). */
function isCase(info: TypeInfo, node: TSESTree.Node): boolean {
  const type = info.checker.getNonNullableType(info.services.getTypeAtLocation(node));
  const parts = type.isUnion() ? type.types : [type];
  return parts.length > 0 && parts.every((t) => isCoreType(info, t, "RecvCase") || isCoreType(info, t, "SendCase"));
}

/** isDoneCall reports whether `node` is `x.done()`: a context's done channel. */
function isDoneCall(node: TSESTree.Node): boolean {
  return (
    node.type === AST_NODE_TYPES.CallExpression &&
    node.arguments.length === 0 &&
    node.callee.type === AST_NODE_TYPES.MemberExpression &&
    !node.callee.computed &&
    node.callee.property.type === AST_NODE_TYPES.Identifier &&
    node.callee.property.name === "done"
  );
}

/** isName reports whether `node` is a name or a chain of property names (`jobs`, `this.jobs`). */
function isName(node: TSESTree.Node): boolean {
  if (node.type === AST_NODE_TYPES.Identifier || node.type === AST_NODE_TYPES.ThisExpression) return true;
  return node.type === AST_NODE_TYPES.MemberExpression && !node.computed && isName(node.object);
}

function short(text: string, max: number): string {
  const one = text.replace(/\s+/g, " ");
  return one.length > max ? `${one.slice(0, max - 3)}...` : one;
}
