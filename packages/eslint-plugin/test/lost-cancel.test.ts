import { after } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import { IMPORTS, suggestions, typed, untyped } from "./rule-tester.js";

const I = IMPORTS;

untyped().run("lost-cancel", {
  valid: [
    // Seed 002's fixed form: cancel deferred right after creation (a finally covers every path).
    { name: "accepts cancel deferred in a finally right after creation (seed 002's fixed form)", code: `${I}export async function get(p: Context, url: string) {
      const [ctx, cancel] = withTimeout(p, 2_000);
      try {
        if (!url) return;
        if (url === "x") throw new Error("bad url");
        await fetch(url, { signal: ctx.signal });
      } finally {
        cancel();
      }
    }` },
    // Called on the straight path.
    { name: "accepts cancel called on the straight path", code: `${I}export function f(p: Context) { const [ctx, cancel] = withCancel(p); console.log(ctx); cancel(); }` },
    // Called on every branch, and the switch covers every case.
    { name: "accepts cancel called on every branch and every switch case", code: `${I}export function f(p: Context, x: number) {
      const [ctx, cancel] = withCancelCause(p);
      if (x > 0) { cancel(new Error("positive")); return ctx; } else { cancel(); }
      switch (x) { case 0: cancel(); break; default: cancel(); }
      return undefined;
    }` },
    // Returned: the caller owns it.
    { name: "accepts cancel returned to the caller", code: `${I}export function f(p: Context) { const [ctx, cancel] = withTimeout(p, 10); return [ctx, cancel] as const; }` },
    { name: "accepts the tuple returned whole", code: `${I}export function f(p: Context) { return withCancel(p); }` },
    { name: "accepts the tuple returned from an arrow", code: `${I}export const f = (p: Context) => withDeadline(p, Date.now() + 10);` },
    // Passed to a callback or another call: handed on.
    { name: "accepts cancel handed to afterFunc", code: `${I}export function f(p: Context) { const [ctx, cancel] = withTimeout(p, 10); afterFunc(ctx, cancel); }` },
    { name: "accepts cancel handed to setTimeout", code: `${I}export function f(p: Context) { const [ctx, cancel] = withTimeout(p, 10); setTimeout(cancel, 5); return ctx; }` },
    { name: "accepts cancel called in a task's closure", code: `${I}export function f(p: Context) { const [ctx, cancel] = withCancel(p); go(ctx, async () => { cancel(); }); }` },
    { name: "accepts cancel called in a signal handler", code: `${I}export function f(p: Context) { const [ctx, cancel] = withCancel(p); process.once("SIGINT", () => cancel()); return ctx; }` },
    // Stored: whoever holds it calls it.
    { name: "accepts cancel stored in a field", code: `${I}export class Job { cancel?: () => void; start(p: Context) { const [ctx, c] = withCancel(p); this.cancel = c; return ctx; } }` },
    { name: "accepts the tuple destructured into fields", code: `${I}export class Job { ctx?: Context; cancel?: () => void; start(p: Context) { [this.ctx, this.cancel] = withCancel(p); } }` },
    { name: "accepts the tuple kept whole in a variable", code: `${I}export function f(p: Context) { const pair = withCancel(p); return pair; }` },
    { name: "accepts cancel kept in a rest element", code: `${I}export function f(p: Context) { const [ctx, ...rest] = withCancel(p); return [ctx, rest]; }` },
    // An infinite loop never reaches a return (go vet's case too).
    { name: "accepts an infinite loop that never returns", code: `${I}export async function f(p: Context) { const [ctx, cancel] = withCancel(p); if (ctx.err()) { cancel(); return; } for (;;) { await sleep(ctx, 10); } }` },
    // Called in catch and after the try.
    { name: "accepts cancel in catch and after the try", code: `${I}export async function f(p: Context) { const [ctx, cancel] = withCancel(p); try { await sleep(ctx, 1); } catch (e) { cancel(); throw e; } cancel(); }` },
    // A cancel declared in the enclosing function (golang/go#31856): the outer function calls it.
    { name: "accepts a cancel declared in the enclosing function (golang/go#31856)", code: `${I}export function f(p: Context) { let cancel = () => {}; (() => { [, cancel] = withCancel(p); })(); cancel(); }` },
    // A hoisted function declaration that calls cancel may run at any time: counts as used.
    { name: "accepts cancel used in a hoisted function declaration", code: `${I}export function f(p: Context) { const [ctx, cancel] = withCancel(p); return stop; function stop() { cancel(); return ctx; } }` },
    // In a loop: called at the end of each iteration; or the previous one cancelled before the next.
    { name: "accepts cancel called at the end of each loop iteration", code: `${I}export async function f(p: Context, xs: number[]) { for (const x of xs) { const [ctx, cancel] = withTimeout(p, x); await sleep(ctx, x); cancel(); } }` },
    { name: "accepts the previous cancel called before the next context is made", code: `${I}export async function f(p: Context, xs: number[]) { let cancel: (() => void) | undefined; let ctx = p; for (const x of xs) { cancel?.(); [ctx, cancel] = withTimeout(p, x); await sleep(ctx, x); } cancel?.(); }` },
    // Module level, as in examples/worker.mjs.
    { name: "accepts module-level code with cancel in finally (examples/worker.mjs)", code: `${I}const [ctx, cancel] = withCancel(background()); try { await sleep(ctx, 1); } finally { cancel(); }` },
    // Exported: other modules call it.
    { name: "accepts an exported cancel", code: `${I}export const [rootCtx, stopAll] = withCancel(background());` },
    // @lifeline/node's notifyContext: stop in finally.
    { name: "accepts notifyContext's stop in finally", code: `import { background } from "@lifeline/core"; import { notifyContext } from "@lifeline/node";
     const [ctx, stop] = notifyContext(background()); try { await ctx.done().recv(background()); } finally { stop(); }` },
    // Not lifeline's: another module's withCancel, or a local one.
    { name: "ignores another module's withCancel", code: `import { withCancel } from "./mine.js"; export function f(p: unknown) { const [c] = withCancel(p); return c; }` },
    { name: "ignores a local function named withCancel", code: `${I}export function f(p: Context) { const withCancel = (x: Context) => [x] as const; const [c] = withCancel(p); return c; }` },
    // \`using\`: core has no dispose support, but the rule must not trip on it.
    { name: "does not trip on using declarations", code: `${I}export function f(p: Context) { const [ctx, cancel] = withCancel(p); { using _res = { [Symbol.dispose]: cancel }; console.log(ctx); } }` },
    // A namespace import, called.
    { name: "follows a namespace import", code: `import * as ll from "@lifeline/core"; export function f(p: ll.Context) { const [ctx, cancel] = ll.withCancel(p); try { return ctx.err(); } finally { cancel(); } }` },
  ],
  invalid: [
    // Discarded: the result is not used at all.
    {
      name: "reports a withTimeout whose result is unused",
      code: `${I}export function f(p: Context) { withTimeout(p, 10); }`,
      errors: [{ messageId: "discarded", data: { fn: "withTimeout" } }],
    },
    {
      name: "reports a voided withCancel",
      code: `${I}export function f(p: Context) { void withCancel(p); }`,
      errors: [{ messageId: "discarded" }],
    },
    // Discarded: only the context is kept.
    {
      name: "reports withDeadline(...)[0]",
      code: `${I}export function f(p: Context) { const ctx = withDeadline(p, 0)[0]; return ctx; }`,
      errors: [{ messageId: "discarded", data: { fn: "withDeadline" } }],
    },
    {
      name: "reports const [ctx] = withTimeout(...) and suggests a finally",
      code: `${I}export async function f(p: Context) {
  const [ctx] = withTimeout(p, 100);
  await sleep(ctx, 10);
}`,
      errors: [
        {
          messageId: "discarded",
          line: 3,
          suggestions: [
            {
              messageId: "suggestFinally",
              data: { name: "cancel" },
              output: `${I}export async function f(p: Context) {
  const [ctx, cancel] = withTimeout(p, 100);
  try {
    await sleep(ctx, 10);
  } finally {
    cancel();
  }
}`,
            },
          ],
        },
      ],
    },
    {
      name: "reports a cancel bound to _",
      code: `${I}export function f(p: Context) {
  const [ctx, _] = withCancelCause(p);
  return ctx.err();
}`,
      errors: [
        {
          messageId: "discarded",
          suggestions: [
            {
              messageId: "suggestFinally",
              output: `${I}export function f(p: Context) {
  const [ctx, cancel] = withCancelCause(p);
  try {
    return ctx.err();
  } finally {
    cancel();
  }
}`,
            },
          ],
        },
      ],
    },
    // Early return before cancel (go vet's "this return statement may be reached without using the cancel var").
    {
      name: "reports an early return before cancel",
      code: `${I}export async function f(p: Context, url: string) {
  const [ctx, cancel] = withTimeout(p, 2_000);
  if (!url) return;
  await fetch(url, { signal: ctx.signal });
  cancel();
}`,
      errors: [
        {
          messageId: "notCalled",
          data: { name: "cancel", fn: "withTimeout", exit: "the return on line 4" },
          line: 3,
          suggestions: [
            {
              messageId: "suggestFinally",
              data: { name: "cancel" },
              output: `${I}export async function f(p: Context, url: string) {
  const [ctx, cancel] = withTimeout(p, 2_000);
  try {
    if (!url) return;
    await fetch(url, { signal: ctx.signal });
    cancel();
  } finally {
    cancel();
  }
}`,
            },
          ],
        },
      ],
    },
    // Cancel in one branch only.
    {
      name: "reports cancel in one branch of an if, at the return",
      code: `${I}export function f(p: Context, x: boolean) {
  const [ctx, cancel] = withCancel(p);
  if (x) cancel();
  return ctx;
}`,
      errors: [{ messageId: "notCalled", data: { name: "cancel", fn: "withCancel", exit: "the return on line 5" }, suggestions: suggestions(1) }],
    },
    {
      name: "reports cancel in one branch of an if, at the end of the function",
      code: `${I}export function f(p: Context, x: boolean) { const [ctx, cancel] = withCancel(p); if (x) { cancel(); } console.log(ctx); }`,
      errors: [{ messageId: "notCalled", data: { name: "cancel", fn: "withCancel", exit: "the end of the function" }, suggestions: suggestions(1) }],
    },
    // A throw is a way out too (Go's `return err`).
    {
      name: "reports a throw before cancel",
      code: `${I}export function f(p: Context, x: number) { const [ctx, cancel] = withSignal(p, AbortSignal.timeout(5)); if (x < 0) throw new RangeError("x"); cancel(); return ctx; }`,
      errors: [{ messageId: "notCalled", data: { name: "cancel", fn: "withSignal", exit: "the throw on line 2" }, suggestions: suggestions(1) }],
    },
    // Never called.
    {
      name: "reports a cancel never called",
      code: `${I}export async function f(p: Context) { const [ctx, cancel] = withTimeoutCause(p, 5, new Error("slow")); await sleep(ctx, 1); }`,
      errors: [{ messageId: "notCalled", data: { name: "cancel", fn: "withTimeoutCause", exit: "the end of the function" }, suggestions: suggestions(1) }],
    },
    // A switch case that falls out without cancel.
    {
      name: "reports a switch case that leaves without cancel",
      code: `${I}export function f(p: Context, x: number) { const [, cancel] = withDeadlineCause(p, 0, "late"); switch (x) { case 0: cancel(); break; case 1: console.log(x); break; default: cancel(); } }`,
      errors: [{ messageId: "notCalled", data: { name: "cancel", fn: "withDeadlineCause", exit: "the end of the function" }, suggestions: suggestions(1) }],
    },
    // The closure that calls cancel is created on one branch only.
    {
      name: "reports a closure that calls cancel made on one branch only",
      code: `${I}export function f(p: Context, x: boolean) { const [ctx, cancel] = withCancel(p); if (x) setTimeout(() => cancel(), 5); return ctx; }`,
      errors: [{ messageId: "notCalled", data: { exit: "the return on line 2", name: "cancel", fn: "withCancel" }, suggestions: suggestions(1) }],
    },
    // In a loop: `continue` skips the cancel, and the next iteration makes a new context.
    {
      name: "reports a continue that skips cancel in a loop",
      code: `${I}export async function f(p: Context, xs: number[]) { for (const x of xs) { const [ctx, cancel] = withTimeout(p, x); if (x === 0) continue; await sleep(ctx, x); cancel(); } }`,
      errors: [{ messageId: "notCalled", data: { exit: "the next iteration of the loop", name: "cancel", fn: "withTimeout" }, suggestions: suggestions(1) }],
    },
    // Inside a task's function.
    {
      name: "reports inside a task's function",
      code: `${I}export function f(ctx: Context) { return go(ctx, async (ctx) => { const [c, cancel] = withTimeout(ctx, 5); if (c.err()) return; cancel(); }); }`,
      errors: [{ messageId: "notCalled", data: { exit: "the return on line 2", name: "cancel", fn: "withTimeout" }, suggestions: suggestions(1) }],
    },
    // Assigned, not declared.
    {
      name: "reports an assigned (not declared) cancel",
      code: `${I}export function f(p: Context, x: boolean) { let ctx: Context, cancel: () => void; [ctx, cancel] = withCancel(p); if (x) return ctx; cancel(); return p; }`,
      errors: [{ messageId: "notCalled", data: { exit: "the return on line 2", name: "cancel", fn: "withCancel" }, suggestions: suggestions(1) }],
    },
    // Module level: the program ends without cancel.
    {
      name: "reports module-level code that ends without cancel",
      code: `${I}const [ctx, cancel] = withCancel(background());\nawait sleep(ctx, 1);`,
      errors: [{ messageId: "notCalled", data: { exit: "the end of the module", name: "cancel", fn: "withCancel" } }],
    },
    // Through a namespace import and a type assertion.
    {
      name: "reports through a namespace import and a type assertion",
      code: `import * as ll from "@lifeline/core"; export function f(p: ll.Context) { const [ctx] = ll.withCancel(p) as [ll.Context, () => void]; return ctx; }`,
      errors: [{ messageId: "discarded", data: { fn: "withCancel" }, suggestions: suggestions(1) }],
    },
    // @lifeline/node's notifyContext.
    {
      name: "reports notifyContext's stop discarded",
      code: `import { background } from "@lifeline/core"; import { notifyContext } from "@lifeline/node"; const [ctx] = notifyContext(background()); console.log(ctx);`,
      errors: [{ messageId: "discarded", data: { fn: "notifyContext" } }],
    },
  ],
});

// The rule needs no types; with them it behaves the same (the typed parser builds a different AST map).
typed().run(
  "lost-cancel",
  {
  valid: [
      {
        name: "accepts a finally with type information too",
        code: `${I}export function f(p: Context) { const [ctx, cancel] = withCancel(p); try { return ctx.err(); } finally { cancel(); } }`,
      },
    ],
  invalid: [
    {
      name: "reports an early return with type information too",
      code: `${I}export function f(p: Context) { const [ctx, cancel] = withCancel(p); if (ctx.err()) return; cancel(); }`,
      errors: [{ messageId: "notCalled", suggestions: suggestions(1) }],
    },
  ],
},
  "lost-cancel (typed)",
);

after(() => assertNoLeaks());
