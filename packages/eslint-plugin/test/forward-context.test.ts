import { after } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import { IMPORTS, typed, untyped } from "./rule-tester.js";

const I = IMPORTS;

untyped().run("forward-context", {
  valid: [
    { name: "accepts fetch with the ctx's signal (the README's tour)", code: `${I}export async function get(ctx: Context, url: string) { return fetch(url, { signal: ctx.signal }); }` },
    { name: "accepts fetch init spread from elsewhere", code: `${I}export async function get(ctx: Context, url: string, init: RequestInit) { return fetch(url, { ...init }); }` },
    { name: "accepts fetch in a function without a ctx", code: `${I}export async function get(url: string) { return fetch(url); }` },
    { name: "accepts fetch at the program's top", code: `${I}await fetch("http://127.0.0.1:1/");` },
    { name: "accepts an integration's fetch that takes ctx first", code: `import { fetch } from "@lifeline/http"; import type { Context } from "@lifeline/core"; export async function get(ctx: Context, url: string) { return fetch(ctx, url); }` },
    { name: "accepts sleep(ctx, ms)", code: `${I}export async function poll(ctx: Context) { await sleep(ctx, 500); }` },
    { name: "accepts a timer wait in a function without a ctx", code: `${I}export async function pause(ms: number) { await new Promise((r) => setTimeout(r, ms)); }` },
    { name: "accepts timers/promises setTimeout with a signal", code: `${I}import { setTimeout as wait } from "node:timers/promises"; export async function f(ctx: Context) { await wait(10, undefined, { signal: ctx.signal }); }` },
    { name: "accepts a setTimeout that does not resolve a promise", code: `${I}export function f(ctx: Context) { setTimeout(() => console.log(ctx), 10); }` },
    { name: "ignores a JS parameter named ctx when the file does not import lifeline", code: `export async function draw(ctx) { await new Promise((r) => setTimeout(r, 16)); return ctx; }` },
  ],
  invalid: [
    {
      name: "reports fetch without init and suggests the ctx's signal",
      code: `${I}export async function get(ctx: Context, url: string) { return fetch(url); }`,
      errors: [
        {
          messageId: "fetchWithoutSignal",
          data: { ctx: "ctx" },
          suggestions: [{ messageId: "suggestSignal", output: `${I}export async function get(ctx: Context, url: string) { return fetch(url, { signal: ctx.signal }); }` }],
        },
      ],
    },
    {
      name: "reports fetch whose init has no signal",
      code: `${I}export async function post(ctx: Context, url: string) { return [await fetch(url, { method: "POST" }), await globalThis.fetch(url, {})]; }`,
      errors: [
        { messageId: "fetchWithoutSignal", suggestions: [{ messageId: "suggestSignal", output: `${I}export async function post(ctx: Context, url: string) { return [await fetch(url, { method: "POST", signal: ctx.signal }), await globalThis.fetch(url, {})]; }` }] },
        { messageId: "fetchWithoutSignal", suggestions: [{ messageId: "suggestSignal", output: `${I}export async function post(ctx: Context, url: string) { return [await fetch(url, { method: "POST" }), await globalThis.fetch(url, { signal: ctx.signal })]; }` }] },
      ],
    },
    {
      name: "reports a setTimeout promise (seed 000: time.Sleep ignores the abort signal) and suggests sleep",
      code: `${I}export async function work(ctx: Context) { await new Promise((resolve) => setTimeout(resolve, 200)); }`,
      errors: [
        {
          messageId: "timerWait",
          data: { ctx: "ctx" },
          suggestions: [{ messageId: "suggestSleep", output: `${I}export async function work(ctx: Context) { await sleep(ctx, 200); }` }],
        },
      ],
    },
    {
      name: "reports a setTimeout promise written with a block and a closure",
      code: `${I}export async function work(ctx: Context, ms: number) { await new Promise<void>((resolve) => { setTimeout(() => resolve(), ms); }); }`,
      errors: [{ messageId: "timerWait", suggestions: [{ messageId: "suggestSleep", output: `${I}export async function work(ctx: Context, ms: number) { await sleep(ctx, ms); }` }] }],
    },
    {
      name: "reports the wait in a JS worker that receives ctx (examples/jobs.mjs's shape), with no sleep to suggest",
      code: `import { select, recv } from "@lifeline/core";\nexport async function processJobs(ctx, jobs) { for (;;) { await select([recv(ctx.done()), recv(jobs)]); await new Promise((resolve) => setTimeout(resolve, 200)); } }`,
      errors: [{ messageId: "timerWait", suggestions: [] }],
    },
    {
      name: "reports timers/promises setTimeout without a signal",
      code: `${I}import { setTimeout as wait } from "node:timers/promises"; export async function f(ctx: Context) { await wait(10); }`,
      errors: [
        {
          messageId: "timerWait",
          suggestions: [{ messageId: "suggestSignal", output: `${I}import { setTimeout as wait } from "node:timers/promises"; export async function f(ctx: Context) { await wait(10, undefined, { signal: ctx.signal }); }` }],
        },
      ],
    },
    {
      name: "reports a wait in a closure of a function that has ctx",
      code: `${I}export function start(ctx: Context, urls: string[]) { return urls.map(async (u) => fetch(u)); }`,
      errors: [{ messageId: "fetchWithoutSignal", suggestions: [{ messageId: "suggestSignal", output: `${I}export function start(ctx: Context, urls: string[]) { return urls.map(async (u) => fetch(u, { signal: ctx.signal })); }` }] }],
    },
  ],
});

const DECLS = `declare function query(signal?: AbortSignal): Promise<string>;\ndeclare function lookup(ctx: Context | undefined, id: string): Promise<string>;\n`;

typed().run(
  "forward-context",
  {
    valid: [
      { name: "accepts a callee given the ctx's signal", code: `${I}${DECLS}export async function f(ctx: Context) { return query(ctx.signal); }` },
      { name: "accepts a derived context", code: `${I}${DECLS}export async function f(ctx: Context) { const [c, cancel] = withTimeout(ctx, 5); try { return await lookup(c, "x"); } finally { cancel(); } }` },
      { name: "leaves background() to no-background-in-request", code: `${I}export async function f(ctx: Context) { await sleep(background(), 1); return ctx; }` },
      { name: "accepts an events.once with a signal", code: `${I}import { once, EventEmitter } from "node:events"; export async function f(ctx: Context, e: EventEmitter) { return once(e, "x", { signal: ctx.signal }); }` },
      { name: "ignores calls outside a function with a ctx", code: `${I}${DECLS}export async function f() { return [await query(), await lookup(undefined, "x")]; }` },
    ],
    invalid: [
      {
        name: "reports a callee whose optional signal comes first, given nothing",
        code: `${I}${DECLS}export async function f(ctx: Context) { return query(); }`,
        errors: [
          {
            messageId: "notForwarded",
            data: { callee: "query", kind: "AbortSignal", what: "nothing", ctx: "ctx", arg: "ctx.signal" },
            suggestions: [{ messageId: "suggestCtx", output: `${I}${DECLS}export async function f(ctx: Context) { return query(ctx.signal); }` }],
          },
        ],
      },
      {
        name: "reports undefined passed as the Context",
        code: `${I}${DECLS}export async function f(ctx: Context) { return lookup(undefined, "id"); }`,
        errors: [{ messageId: "notForwarded", data: { callee: "lookup", kind: "Context", what: "`undefined`", ctx: "ctx", arg: "ctx" }, suggestions: [{ messageId: "suggestCtx", output: `${I}${DECLS}export async function f(ctx: Context) { return lookup(ctx, "id"); }` }] }],
      },
      {
        name: "reports a module-level context passed instead of the one received",
        code: `${I}const root = withValue(background(), createKey<number>("n"), 1);\nexport async function f(ctx: Context) { await sleep(root, 5); }`,
        errors: [{ messageId: "notForwarded", data: { callee: "sleep", kind: "Context", what: "the module-level `root`", ctx: "ctx", arg: "ctx" }, suggestions: [{ messageId: "suggestCtx", output: `${I}const root = withValue(background(), createKey<number>("n"), 1);\nexport async function f(ctx: Context) { await sleep(ctx, 5); }` }] }],
      },
      {
        name: "reports a fresh signal that nothing aborts",
        code: `${I}${DECLS}export async function f(ctx: Context) { return query(new AbortController().signal); }`,
        errors: [{ messageId: "notForwarded", data: { callee: "query", kind: "AbortSignal", what: "a fresh signal that nothing aborts", ctx: "ctx", arg: "ctx.signal" }, suggestions: [{ messageId: "suggestCtx", output: `${I}${DECLS}export async function f(ctx: Context) { return query(ctx.signal); }` }] }],
      },
      {
        name: "reports a promise-returning call whose options accept a signal, given none",
        code: `${I}import { once, EventEmitter } from "node:events"; export async function f(ctx: Context, e: EventEmitter) { return once(e, "x"); }`,
        errors: [{ messageId: "signalOption", data: { callee: "once", ctx: "ctx", key: "signal" }, suggestions: [{ messageId: "suggestSignal", output: `${I}import { once, EventEmitter } from "node:events"; export async function f(ctx: Context, e: EventEmitter) { return once(e, "x", { signal: ctx.signal }); }` }] }],
      },
      {
        name: "reports fetch given an init object typed without a signal",
        code: `${I}export async function f(ctx: Context, url: string) { const init = { method: "GET" }; return fetch(url, init); }`,
        errors: [{ messageId: "fetchWithoutSignal", suggestions: [] }],
      },
    ],
  },
  "forward-context (typed)",
);

after(() => assertNoLeaks());
