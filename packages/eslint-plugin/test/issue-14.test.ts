// Issue 14: the idioms found in real code (ky, openai-node, hono, undici, node-fetch), each run with and without
// type information. A shape the issue names is quoted in the case's name.
import { after } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import { IMPORTS, suggestions, typed, untyped, type Tester } from "./rule-tester.js";

const I = IMPORTS;
const DECL = "declare function g(ctx: Context): Promise<void>;\n";

// The suggestion lost-cancel offers for a `continue` before cancel in a loop, applied: the rule accepts it.
const CONTINUE_BEFORE_CANCEL = `${I}${DECL}export async function f(p: Context, xs: number[]) {
  for (const x of xs) {
    const [ctx, cancel] = withCancel(p);
    if (x) continue;
    await g(ctx);
    cancel();
  }
}`;
const CONTINUE_BEFORE_CANCEL_FIXED = `${I}${DECL}export async function f(p: Context, xs: number[]) {
  for (const x of xs) {
    const [ctx, cancel] = withCancel(p);
    try {
      if (x) continue;
      await g(ctx);
      cancel();
    } finally {
      cancel();
    }
  }
}`;

for (const [label, tester] of [["untyped", untyped()], ["typed", typed()]] as [string, Tester][]) {
  tester.run(
    "lost-cancel",
    {
      valid: [
        {
          name: "accepts `continue`/`break` inside try { … } finally { cancel(); } in a loop",
          code: `${I}${DECL}export async function f(p: Context, xs: number[]) {
  for (const x of xs) {
    const [ctx, cancel] = withCancel(p);
    try {
      if (x === 0) continue;
      if (x < 0) break;
      await g(ctx);
    } finally {
      cancel();
    }
  }
}`,
        },
        {
          name: "accepts a labeled continue out of a nested loop through the finally",
          code: `${I}${DECL}export async function f(p: Context, xs: number[]) { outer: for (const x of xs) { for (const y of xs) { const [ctx, cancel] = withTimeout(p, y); try { if (x === y) continue outer; await g(ctx); } finally { cancel(); } } } }`,
        },
        {
          name: "accepts break out of a switch inside try/finally in a while loop",
          code: `${I}${DECL}export async function f(p: Context, x: number) { while (x-- > 0) { const [ctx, cancel] = withCancel(p); try { switch (x) { case 1: break; default: await g(ctx); } } finally { cancel(); } } }`,
        },
        {
          name: "accepts a break that runs an inner and an outer finally, the outer one cancelling",
          code: `${I}${DECL}export async function f(p: Context, xs: number[]) { for (const x of xs) { const [ctx, cancel] = withCancel(p); try { try { if (x) break; await g(ctx); } finally { console.log(x); } } finally { cancel(); } } }`,
        },
        { name: "accepts its own suggestion applied (the suggestion converges)", code: CONTINUE_BEFORE_CANCEL_FIXED },
      ],
      invalid: [
        {
          name: "reports `continue` before cancel in a loop, suggesting a finally the rule then accepts",
          code: CONTINUE_BEFORE_CANCEL,
          errors: [
            {
              messageId: "notCalled",
              data: { name: "cancel", fn: "withCancel", exit: "the next iteration of the loop" },
              suggestions: [{ messageId: "suggestFinally", data: { name: "cancel" }, output: CONTINUE_BEFORE_CANCEL_FIXED }],
            },
          ],
        },
        {
          name: "reports a break whose finally does not use cancel",
          code: `${I}${DECL}export async function f(p: Context, xs: number[]) { for (const x of xs) { const [ctx, cancel] = withCancel(p); try { if (x) break; await g(ctx); } finally { console.log(x); } cancel(); } }`,
          errors: [{ messageId: "notCalled", data: { name: "cancel", fn: "withCancel", exit: "the end of the function" }, suggestions: suggestions(1) }],
        },
        {
          name: "reports a continue through a finally that cancels only sometimes",
          code: `${I}${DECL}export async function f(p: Context, xs: number[]) { for (const x of xs) { const [ctx, cancel] = withCancel(p); try { if (x) continue; await g(ctx); } finally { if (x > 1) cancel(); } } }`,
          errors: [{ messageId: "notCalled", data: { name: "cancel", fn: "withCancel", exit: "the next iteration of the loop" }, suggestions: suggestions(1) }],
        },
      ],
    },
    `lost-cancel (${label}, issue 14)`,
  );
}

after(() => assertNoLeaks());
