import { createForward, type ForwardMessageIds } from "../internal/forward.js";
import { createRule } from "../internal/rule.js";
import { SEED_FORWARD_CONTEXT, SEED_FORWARD_SLEEP } from "../internal/seeds.js";

/**
 * forward-context reports, inside a function that receives a ctx (a Context parameter, or a destructured
 * `{ ctx }`, in that function or an enclosing one), a wait or an I/O call that does not get it:
 *
 * - `fetch(url)` / `fetch(url, { … })` without `signal` (the global fetch; `@lifeline/http`'s `fetch(ctx, …)`
 *   is a different function). The signal is followed through variables, spreads and `new Request(url, init)`:
 *   `fetch(request)` with `request = new Request(url, { signal: ctx.signal })` forwards it;
 * - a timer wait: `new Promise((r) => setTimeout(r, ms))`, or `setTimeout(ms)` from `node:timers/promises`
 *   without `{ signal }`;
 * - with type information: a call whose callee's first parameter is a Context or an AbortSignal but gets
 *   nothing, `undefined`/`null`, a module-level context or signal, or `new AbortController().signal`; and a
 *   promise-returning call with an options parameter that accepts `signal`, given none.
 *
 * Code that runs after the context ended — `afterFunc(ctx, fn)`'s fn, an `'abort'` listener, a `finally` after
 * the cancel — is not asked to forward `ctx.signal` (it is already aborted there): a call given it is reported,
 * and the suggestion is `withoutCancel(ctx)`, which keeps the values and drops the cancellation.
 * `background()`/`todo()` passed as the ctx are no-background-in-request's. Suggestions (not fixes: the call
 * then ends when ctx does): add `signal: ctx.signal`, use `sleep(ctx, ms)` when `sleep` is imported, pass ctx.
 */
export const forwardContext = createRule<ForwardMessageIds, []>({
  name: "forward-context",
  meta: {
    type: "problem",
    docs: {
      description: "Require a function that receives a ctx to pass it (or ctx.signal) to the waits and I/O it starts",
      seed: SEED_FORWARD_CONTEXT,
      recommended: true,
      requiresTypeChecking: false,
      typeAware:
        "checks every call against its signature: a Context/AbortSignal first parameter, or a `signal` option of a promise-returning call",
    },
    hasSuggestions: true,
    messages: {
      fetchWithoutSignal:
        "fetch() ignores `{{ctx}}`: pass `signal: {{ctx}}.signal` so the request aborts when the context ends. \"" +
        SEED_FORWARD_CONTEXT +
        "\"",
      timerWait:
        "This timer wait ignores `{{ctx}}`: use `sleep({{ctx}}, ms)` or pass `{ signal: {{ctx}}.signal }`. \"" + SEED_FORWARD_SLEEP + "\"",
      notForwarded:
        "`{{callee}}` takes a {{kind}} first but gets {{what}}, in a function that has `{{ctx}}`: pass `{{arg}}`. \"" +
        SEED_FORWARD_CONTEXT +
        "\"",
      signalOption:
        "`{{callee}}` accepts a `{{key}}` but gets none, in a function that has `{{ctx}}`: pass `{{key}}: {{ctx}}.signal`. \"" +
        SEED_FORWARD_CONTEXT +
        "\"",
      afterEnd:
        "This fetch runs after `{{ctx}}` ended ({{why}}), so it has no live signal to forward: give it one from `withoutCancel({{ctx}})`, bounded with `withTimeout`, so that cleanup cannot hang. \"" +
        SEED_FORWARD_CONTEXT +
        "\"",
      endedSignal:
        "`{{value}}` has already aborted here ({{why}}), so this call fails at once: use `withoutCancel({{ctx}})` (keeps the values, not the cancellation), bounded with `withTimeout`. \"" +
        SEED_FORWARD_CONTEXT +
        "\"",
      unused:
        "`{{ctx}}` is received but never used, in a function that waits: nothing it awaits ends when the context does. Pass `{{ctx}}` (or `{{ctx}}.signal`) to what it awaits, or name it `_{{ctx}}` if the wait cannot be cancelled. \"" +
        SEED_FORWARD_CONTEXT +
        "\"",
      suggestSignal: "Pass `signal: {{ctx}}.signal`.",
      suggestSleep: "Use `{{sleep}}({{ctx}}, …)` (it rejects when the context ends).",
      suggestCtx: "Pass `{{arg}}`.",
      suggestWithoutCancel: "Use `{{replacement}}`.",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    return createForward(context, "context");
  },
});
