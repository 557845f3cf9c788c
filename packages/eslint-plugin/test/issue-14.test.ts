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

  tester.run(
    "forward-context",
    {
      valid: [
        {
          name: "accepts `fetch(request)` where `request = new Request(url, { signal: ctx.signal })` (ky's pattern)",
          code: `${I}export async function get(ctx: Context, url: string) { const request = new Request(url, { method: "GET", signal: ctx.signal }); return fetch(request); }`,
        },
        {
          name: "accepts an init object built beforehand, and a spread of one that has the signal",
          code: `${I}export async function get(ctx: Context, url: string, extra: RequestInit) { const init = { ...extra, signal: ctx.signal }; const base = { signal: ctx.signal }; await fetch(url, init); return fetch(new Request(url, { ...base, method: "POST" })); }`,
        },
        {
          name: "accepts a Request parameter (it carries its own signal)",
          code: `${I}export async function send(ctx: Context, request: Request) { return fetch(request); }`,
        },
        {
          name: "accepts a destructured { ctx } that forwards its signal",
          code: `${I}export async function get({ ctx, url }: { ctx: Context; url: string }) { return fetch(url, { signal: ctx.signal }); }`,
        },
        {
          name: "accepts a cleanup fetch in afterFunc(ctx, …) given withoutCancel(ctx)'s signal",
          code: `${I}export function watch(ctx: Context, url: string) { afterFunc(ctx, () => { void fetch(url, { method: "DELETE", signal: withoutCancel(ctx).signal }); }); }`,
        },
      ],
      invalid: [
        {
          name: "reports `fetch(url)` with a destructured `{ ctx }` parameter in scope",
          code: `${I}export async function get({ ctx, url }: { ctx: Context; url: string }) { return fetch(url); }`,
          errors: [
            {
              messageId: "fetchWithoutSignal",
              data: { ctx: "ctx" },
              suggestions: [{ messageId: "suggestSignal", output: `${I}export async function get({ ctx, url }: { ctx: Context; url: string }) { return fetch(url, { signal: ctx.signal }); }` }],
            },
          ],
        },
        {
          name: "reports `fetch(request)` where the Request was built without the signal",
          code: `${I}export async function get(ctx: Context, url: string) { const request = new Request(url, { method: "GET" }); return fetch(request); }`,
          errors: [{ messageId: "fetchWithoutSignal", suggestions: [{ messageId: "suggestSignal", output: `${I}export async function get(ctx: Context, url: string) { const request = new Request(url, { method: "GET" }); return fetch(request, { signal: ctx.signal }); }` }] }],
        },
        {
          name: "reports an init variable without a signal (no suggestion: the object is elsewhere)",
          code: `${I}export async function get(ctx: Context, url: string) { const init = { method: "GET" }; return fetch(url, init); }`,
          errors: [{ messageId: "fetchWithoutSignal", suggestions: [] }],
        },
        {
          name: "reports a cleanup fetch inside `afterFunc(ctx, …)` and suggests withoutCancel(ctx), not ctx.signal",
          code: `${I}export function watch(ctx: Context, url: string) { afterFunc(ctx, () => { void fetch(url, { method: "DELETE" }); }); }`,
          errors: [
            {
              messageId: "afterEnd",
              data: { ctx: "ctx", why: "`afterFunc` runs it once `ctx` is done" },
              suggestions: [
                {
                  messageId: "suggestWithoutCancel",
                  output: `${I}export function watch(ctx: Context, url: string) { afterFunc(ctx, () => { void fetch(url, { method: "DELETE", signal: withoutCancel(ctx).signal }); }); }`,
                },
              ],
            },
          ],
        },
        {
          name: "reports ctx.signal forwarded in an 'abort' listener (already aborted) and suggests withoutCancel",
          code: `${I}export function watch(ctx: Context, url: string) { ctx.signal.addEventListener("abort", () => { void fetch(url, { signal: ctx.signal }); }); }`,
          errors: [
            {
              messageId: "endedSignal",
              data: { value: "ctx.signal", ctx: "ctx", why: "an 'abort' listener runs once `ctx.signal` aborted" },
              suggestions: [
                {
                  messageId: "suggestWithoutCancel",
                  output: `${I}export function watch(ctx: Context, url: string) { ctx.signal.addEventListener("abort", () => { void fetch(url, { signal: withoutCancel(ctx).signal }); }); }`,
                },
              ],
            },
          ],
        },
        {
          name: "reports the derived ctx's signal used in the finally after its cancel",
          code: `${I}export async function f(p: Context, url: string) { const [ctx, cancel] = withTimeout(p, 10); try { await sleep(ctx, 1); } finally { cancel(); await fetch(url, { signal: ctx.signal }); } }`,
          errors: [{ messageId: "endedSignal", data: { value: "ctx.signal", ctx: "ctx", why: "`cancel()` ended `ctx`" }, suggestions: suggestions(1) }],
        },
      ],
    },
    `forward-context (${label}, issue 14)`,
  );

  tester.run(
    "context-first",
    {
      valid: [
        {
          name: "accepts a `(req, res, ctx)` handler passed by name to a callee that fixes the order",
          code: `${I}declare function route(path: string, handler: (req: Request, res: Response, ctx: Context) => void): void;
function handler(req: Request, res: Response, ctx: Context) { return [req, res, ctx]; }
const onError = (err: Error, ctx: Context) => [err, ctx];
declare function onFailure(cb: (err: Error, ctx: Context) => unknown): void;
route("/", handler); onFailure(onError);`,
        },
        {
          name: "accepts function types in ambient declarations and callback parameter types",
          code: `${I}declare module "framework" { export type Handler = (req: Request, ctx: Context) => void; export function use(fn: (req: Request, ctx: Context) => void): void; }
export function register(fn: (req: Request, ctx: Context) => void) { return fn; }`,
        },
      ],
      invalid: [
        {
          name: "still reports a handler the author calls directly",
          code: `${I}export function handler(req: Request, ctx: Context) { return [req, ctx]; } handler(new Request("http://x"), {} as Context);`,
          errors: [{ messageId: "notFirst", data: { name: "ctx", position: "2", fn: "`handler`" } }],
        },
      ],
    },
    `context-first (${label}, issue 14)`,
  );

  // --- AbortSignal mode (configs.signals): code that does not use lifeline ----------------------------------

  tester.run(
    "forward-signal",
    {
      valid: [
        { name: "accepts a signal parameter forwarded to fetch", code: `export async function get(url: string, signal: AbortSignal) { return fetch(url, { signal }); }` },
        { name: "accepts `{ signal }` forwarded through an init built beforehand", code: `export async function get(url: string, { signal }: { signal?: AbortSignal } = {}) { const init: RequestInit = { method: "GET", signal }; return fetch(url, init); }` },
        { name: "accepts `options.signal` forwarded through new Request", code: `export async function get(url: string, options: { signal?: AbortSignal; retries: number }) { const request = new Request(url, { signal: options.signal }); return fetch(request); }` },
        { name: "accepts `{ abortSignal }` forwarded to timers/promises", code: `import { setTimeout as delay } from "node:timers/promises"; export async function wait({ abortSignal }: { abortSignal: AbortSignal }, ms: number) { await delay(ms, undefined, { signal: abortSignal }); }` },
        { name: "accepts a function without a signal", code: `export async function get(url: string) { return fetch(url); }` },
        { name: "accepts a signal combined with a timeout", code: `export async function get(url: string, signal: AbortSignal) { return fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(5_000)]) }); }` },
        { name: "accepts a cleanup fetch in an 'abort' listener (nothing left to forward)", code: `export function watch(url: string, signal: AbortSignal) { signal.addEventListener("abort", () => { void fetch(url, { method: "DELETE" }); }); }` },
        { name: "accepts a signal the function never waits with", code: `export function label(name: string, signal: AbortSignal) { return signal.aborted ? name + " (aborted)" : name; }` },
        { name: "accepts a Request or an AbortController parameter whose signal is read (their own, not received)", code: `export async function f(request: Request, controller: AbortController, url: string) { if (request.signal.aborted || controller.signal.aborted) return; await fetch(url, { method: "HEAD" }); }` },
        { name: "accepts an _-prefixed signal that cannot be used", code: `export async function f(_signal: AbortSignal, p: Promise<void>) { await p; }` },
      ],
      invalid: [
        {
          name: "reports a received signal not forwarded to fetch, and suggests it",
          code: `export async function get(url: string, signal: AbortSignal) { return fetch(url); }`,
          errors: [{ messageId: "fetchWithoutSignal", data: { signal: "signal" }, suggestions: [{ messageId: "suggestSignal", output: `export async function get(url: string, signal: AbortSignal) { return fetch(url, { signal: signal }); }` }] }],
        },
        {
          name: "reports `options.signal` read but not given to fetch",
          code: `export async function get(url: string, options: { signal?: AbortSignal }) { options.signal?.throwIfAborted(); return fetch(url, { method: "GET" }); }`,
          errors: [{ messageId: "fetchWithoutSignal", data: { signal: "options.signal" }, suggestions: [{ messageId: "suggestSignal", output: `export async function get(url: string, options: { signal?: AbortSignal }) { options.signal?.throwIfAborted(); return fetch(url, { method: "GET", signal: options.signal }); }` }] }],
        },
        {
          name: "reports `{ abortSignal }` not given to a timer wait",
          code: `export async function poll({ abortSignal }: { abortSignal?: AbortSignal }, check: () => Promise<boolean>) { while (!(await check())) await new Promise((r) => setTimeout(r, 100)); return abortSignal; }`,
          errors: [{ messageId: "timerWait", data: { signal: "abortSignal" }, suggestions: [] }],
        },
        {
          name: "reports a signal received and never used in a function that waits",
          code: `export async function poll(check: () => Promise<boolean>, signal?: AbortSignal) { while (!(await check())) { /* spin */ } }`,
          errors: [{ messageId: "unused", data: { signal: "signal" } }],
        },
        {
          name: "reports a signal that already aborted given to a fetch in its 'abort' listener",
          code: `export function watch(url: string, signal: AbortSignal) { signal.addEventListener("abort", () => { void fetch(url, { method: "DELETE", signal }); }); }`,
          errors: [{ messageId: "endedSignal", data: { value: "signal", why: "an 'abort' listener runs once `signal` aborted" }, suggestions: [] }],
        },
        {
          name: "reports controller.signal given to a fetch in the finally after controller.abort()",
          code: `export async function run(url: string) { const controller = new AbortController(); try { await fetch(url, { signal: controller.signal }); } finally { controller.abort(); await fetch(url + "/done", { signal: controller.signal }); } }`,
          errors: [{ messageId: "endedSignal", data: { value: "controller.signal", why: "`controller.abort()` aborted it" }, suggestions: [] }],
        },
      ],
    },
    `forward-signal (${label}, issue 14)`,
  );

  tester.run(
    "no-stored-signal",
    {
      valid: [
        { name: "accepts a constructor keeping the signal of the operation the object stands for", code: `export class Stream { #signal: AbortSignal; constructor(signal: AbortSignal) { this.#signal = signal; } get aborted() { return this.#signal.aborted; } }` },
        { name: "accepts a signal the object makes itself", code: `export class Job { controller = new AbortController(); signal?: AbortSignal; start() { this.signal = this.controller.signal; } }` },
        { name: "accepts a local options object", code: `export async function get(url: string, signal: AbortSignal) { const init: RequestInit = {}; init.signal = signal; return fetch(url, init); }` },
      ],
      invalid: [
        {
          name: "reports a method storing the caller's signal on the instance",
          code: `export class Client { lastSignal?: AbortSignal; async get(url: string, options: { signal?: AbortSignal }) { this.lastSignal = options.signal; return fetch(url, { signal: options.signal }); } }`,
          errors: [{ messageId: "stored", data: { target: "this.lastSignal", signal: "options.signal", owner: "the instance" } }],
        },
        {
          name: "reports a signal stored in module state",
          code: `const state: { signal?: AbortSignal } = {}; let current: AbortSignal | undefined; export function track(signal: AbortSignal) { state.signal = signal; current = signal; return current; }`,
          errors: [
            { messageId: "stored", data: { target: "state.signal", signal: "signal", owner: "the module's `state`" } },
            { messageId: "stored", data: { target: "current", signal: "signal", owner: "the module" } },
          ],
        },
      ],
    },
    `no-stored-signal (${label}, issue 14)`,
  );

  tester.run(
    "no-signal-any-in-loop",
    {
      valid: [
        { name: "accepts AbortSignal.any outside the loop", code: `export async function f(signal: AbortSignal, urls: string[]) { const s = AbortSignal.any([signal, AbortSignal.timeout(60_000)]); for (const u of urls) await fetch(u, { signal: s }); }` },
        { name: "accepts sources made in the iteration", code: `export async function f(urls: string[]) { for (const u of urls) { const c = new AbortController(); await fetch(u, { signal: AbortSignal.any([c.signal, AbortSignal.timeout(1_000)]) }); } }` },
      ],
      invalid: [
        {
          name: "reports `AbortSignal.any` with a long-lived source in a loop (the platform leak)",
          code: `export async function f(signal: AbortSignal, urls: string[]) { for (const u of urls) await fetch(u, { signal: AbortSignal.any([signal, AbortSignal.timeout(1_000)]) }); }`,
          errors: [{ messageId: "anyInLoop", data: { source: "signal" } }],
        },
        {
          name: "reports options.signal and this.controller.signal as sources",
          code: `export class P { controller = new AbortController(); async run(options: { signal: AbortSignal }, n: number) { while (n-- > 0) { AbortSignal.any([options.signal]); AbortSignal.any([AbortSignal.timeout(1), this.controller.signal]); } } }`,
          errors: [
            { messageId: "anyInLoop", data: { source: "options.signal" } },
            { messageId: "anyInLoop", data: { source: "this.controller.signal" } },
          ],
        },
      ],
    },
    `no-signal-any-in-loop (${label}, issue 14)`,
  );

  tester.run(
    "no-race-with-done",
    {
      valid: [
        { name: "accepts a race of per-iteration promises (openai-node's retry timeout shape)", code: `export async function f(attempts: number, once: () => Promise<Response>) { for (let i = 0; i < attempts; i++) { const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timeout")), 1_000)); await Promise.race([once(), timeout]); } }` },
      ],
      invalid: [
        {
          name: "reports `Promise.race` against a long-lived promise in a loop, with a message for non-users",
          code: `export async function pump(signal: AbortSignal, next: () => Promise<number>) { const aborted = new Promise<void>((r) => signal.addEventListener("abort", () => r(), { once: true })); for (;;) { const v = await Promise.race([next(), aborted]); if (v === undefined) return; } }`,
          errors: [{ messageId: "raceInLoopPlatform", data: { method: "race", racer: "aborted" } }],
        },
      ],
    },
    `no-race-with-done (${label}, issue 14)`,
  );
}

// With types only: a signal-taking callee given the ended ctx's signal, and a call given the ctx whole (its values).
typed().run(
  "forward-context",
  {
    valid: [
      {
        name: "accepts an ended ctx passed for its values (a logger) in afterFunc's callback",
        code: `${I}declare function log(ctx: Context, msg: string): void;\nexport function watch(ctx: Context) { afterFunc(ctx, () => log(ctx, "done")); }`,
      },
    ],
    invalid: [
      {
        name: "reports ctx.signal given to a signal-first callee in afterFunc's callback, suggesting withoutCancel",
        code: `${I}declare function query(signal: AbortSignal): Promise<void>;\nexport function watch(ctx: Context) { afterFunc(ctx, () => { void query(ctx.signal); }); }`,
        errors: [
          {
            messageId: "endedSignal",
            data: { value: "ctx.signal", ctx: "ctx", why: "`afterFunc` runs it once `ctx` is done" },
            suggestions: [
              {
                messageId: "suggestWithoutCancel",
                output: `${I}declare function query(signal: AbortSignal): Promise<void>;\nexport function watch(ctx: Context) { afterFunc(ctx, () => { void query(withoutCancel(ctx).signal); }); }`,
              },
            ],
          },
        ],
      },
    ],
  },
  "forward-context (typed only, issue 14)",
);

after(() => assertNoLeaks());
