import { createForward, type ForwardMessageIds } from "../internal/forward.js";
import { createRule } from "../internal/rule.js";
import { SEED_FORWARD_SIGNAL } from "../internal/seeds.js";

/**
 * forward-signal is forward-context for code that carries cancellation as an AbortSignal, with or without
 * lifeline. In a function that receives a signal — a parameter typed `AbortSignal` (or unannotated and named
 * `signal`/`abortSignal`), a destructured `{ signal }`/`{ abortSignal }`, or an options parameter whose
 * `.signal`/`.abortSignal` it reads — it reports:
 *
 * - `fetch(url)` / `fetch(url, init)` whose init (followed through variables, spreads and `new Request`) has no
 *   `signal`;
 * - a timer wait (`new Promise((r) => setTimeout(r, ms))`, `setTimeout(ms)` from `node:timers/promises`
 *   without `{ signal }`);
 * - with type information: a call whose first parameter is an AbortSignal given nothing, `undefined`, a
 *   module-level signal or a fresh one; and a promise-returning call with a `signal`/`abortSignal` option
 *   given none.
 *
 * In an `'abort'` listener or a `finally` after `controller.abort()` there is nothing to forward; a call given
 * the signal that already aborted there is reported (it fails at once). Suggestion: pass the signal.
 */
export const forwardSignal = createRule<ForwardMessageIds, []>({
  name: "forward-signal",
  meta: {
    type: "problem",
    docs: {
      description: "Require a function that receives an AbortSignal to pass it to the fetches, timers and signal-accepting calls it starts",
      seed: SEED_FORWARD_SIGNAL,
      recommended: true,
      requiresTypeChecking: false,
      typeAware: "checks every call against its signature: an AbortSignal first parameter, or a `signal` option of a promise-returning call",
    },
    hasSuggestions: true,
    messages: {
      fetchWithoutSignal:
        "fetch() ignores `{{signal}}`, which this function receives: pass `signal: {{signal}}` so the request stops when the caller aborts. \"" +
        SEED_FORWARD_SIGNAL +
        "\"",
      timerWait:
        "This timer wait ignores `{{signal}}`, which this function receives: use `setTimeout(ms, value, { signal: {{signal}} })` from node:timers/promises, or reject on its 'abort' event. \"" +
        SEED_FORWARD_SIGNAL +
        "\"",
      notForwarded:
        "`{{callee}}` takes an AbortSignal first but gets {{what}}, in a function that receives `{{ctx}}`: pass `{{arg}}`. \"" +
        SEED_FORWARD_SIGNAL +
        "\"",
      signalOption:
        "`{{callee}}` accepts a `{{key}}` but gets none, in a function that receives `{{signal}}`: pass `{{key}}: {{signal}}`. \"" +
        SEED_FORWARD_SIGNAL +
        "\"",
      afterEnd: "This call runs after `{{ctx}}` ended ({{why}}). \"" + SEED_FORWARD_SIGNAL + "\"",
      endedSignal:
        "`{{value}}` has already aborted here ({{why}}), so this call fails at once: give it its own signal (e.g. `AbortSignal.timeout(ms)`). \"" +
        SEED_FORWARD_SIGNAL +
        "\"",
      unused:
        "`{{signal}}` is received but never read or passed on, in a function that waits: the caller's abort does not stop it. Pass it to what the function awaits (or prefix the parameter with `_` if the wait cannot be cancelled). \"" +
        SEED_FORWARD_SIGNAL +
        "\"",
      suggestSignal: "Pass `signal: {{signal}}`.",
      suggestSleep: "Use `{{sleep}}({{ctx}}, …)`.",
      suggestCtx: "Pass `{{arg}}`.",
      suggestWithoutCancel: "Use `{{replacement}}`.",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    return createForward(context, "signal");
  },
});
