import { after } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import { IMPORTS, typed, untyped } from "./rule-tester.js";

const I = IMPORTS;

untyped().run("context-first", {
  valid: [
    { name: "accepts ctx first (seed 001: func Fetch(ctx context.Context, url string))", code: `${I}export async function fetchUser(ctx: Context, url: string) { return [ctx, url]; }` },
    { name: "accepts parent for a derivation, as Go's WithCancel(parent Context)", code: `${I}export function withUser(parent: Context, id: string) { return withValue(parent, createKey<string>("user"), id); }` },
    { name: "accepts names ending in Ctx or ctx", code: `${I}export function a(jobCtx: Context) { return jobCtx; } export function b(wctx: Context) { return wctx; } export function c(_ctx: Context) {}` },
    { name: "ignores TypeScript's this parameter", code: `${I}export function f(this: unknown, ctx: Context, n: number) { return [this, ctx, n]; }` },
    { name: "ignores an optional Context, which TypeScript wants last", code: `${I}export function f(url: string, ctx?: Context) { return [url, ctx]; } export function g(url: string, ctx: Context | undefined) { return [url, ctx]; } export function h(url: string, ctx: Context = background()) { return [url, ctx]; }` },
    { name: "ignores the order of a callback's parameters: the callee decides it", code: `${I}import { route } from "./router.js"; route((req: Request, ctx: Context) => { console.log(req, ctx); });` },
    { name: "ignores a Context type from another module (Koa, Hono)", code: `import type { Context } from "koa"; export function mw(next: () => void, ctx: Context) { return [next, ctx]; }` },
    { name: "ignores an unannotated parameter named ctx", code: `${I}export function draw(x: number, ctx) { return [x, ctx]; }` },
    { name: "accepts a custom name pattern", code: `${I}export function f(context: Context) { return context; }`, options: [{ namePattern: "^context$" }] },
    { name: "accepts a namespace-qualified Context first", code: `import * as ll from "@lifeline/core"; export function f(ctx: ll.Context, n: number) { return [ctx, n]; }` },
  ],
  invalid: [
    {
      name: "reports a Context buried as the third argument (seed 001)",
      code: `${I}export async function fetchUser(url: string, retries: number, ctx: Context) { return [url, retries, ctx]; }`,
      errors: [{ messageId: "notFirst", data: { name: "ctx", position: "3", fn: "`fetchUser`" } }],
    },
    {
      name: "reports a method, an arrow and a function type",
      code: `${I}export class Store { get(key: string, ctx: Context) { return [key, ctx]; } #put(key: string, ctx: Context) { return [key, ctx]; } }
export const load = (id: number, ctx: Context) => [id, ctx];
export type Handler = (req: Request, ctx: Context) => Promise<void>;
export interface Repo { find(id: string, ctx: Context): Promise<unknown>; }
export declare function query(sql: string, ctx: Context): Promise<unknown>;`,
      errors: [
        { messageId: "notFirst", data: { name: "ctx", position: "2", fn: "`get`" }, line: 2 },
        { messageId: "notFirst", data: { name: "ctx", position: "2", fn: "`#put`" }, line: 2 },
        { messageId: "notFirst", data: { name: "ctx", position: "2", fn: "`load`" }, line: 3 },
        { messageId: "notFirst", data: { name: "ctx", position: "2", fn: "`Handler`" }, line: 4 },
        { messageId: "notFirst", data: { name: "ctx", position: "2", fn: "`find`" }, line: 5 },
        { messageId: "notFirst", data: { name: "ctx", position: "2", fn: "`query`" }, line: 6 },
      ],
    },
    {
      name: "reports a first-parameter Context not named ctx, and suggests renaming every use",
      code: `${I}export function f(context: Context, n: number) { const o = { context }; return [context.err(), o, n]; }`,
      errors: [
        {
          messageId: "notNamed",
          data: { name: "context", fn: "`f`" },
          suggestions: [
            {
              messageId: "suggestRename",
              data: { name: "context" },
              output: `${I}export function f(ctx: Context, n: number) { const o = { context: ctx }; return [ctx.err(), o, n]; }`,
            },
          ],
        },
      ],
    },
    {
      name: "offers no rename when ctx is already taken",
      code: `${I}const ctx = 1; export function f(c: Context) { return [c, ctx]; }`,
      errors: [{ messageId: "notNamed", suggestions: [] }],
    },
    {
      name: "reports a namespace-qualified Context that is not first",
      code: `import * as ll from "@lifeline/core"; export function f(n: number, ctx: ll.Context) { return [ctx, n]; }`,
      errors: [{ messageId: "notFirst" }],
    },
  ],
});

typed().run(
  "context-first",
  {
    valid: [
      { name: "accepts ctx first with type information", code: `${I}export function f(ctx: Context, n: number) { return [ctx, n]; }` },
      { name: "ignores a Context from another declaration", code: `interface Context { x: number } export function f(n: number, ctx: Context) { return [ctx, n]; }` },
    ],
    invalid: [
      {
        name: "sees a Context through a local alias",
        code: `${I}type Ctx = Context; export function f(n: number, ctx: Ctx) { return [ctx, n]; }`,
        errors: [{ messageId: "notFirst", data: { name: "ctx", position: "2", fn: "`f`" } }],
      },
      {
        name: "sees a Context given by inference, without an annotation",
        code: `${I}export class S { run(n: number, ctx = background()) { return [n, ctx]; } pick(n: number, c: ReturnType<typeof background>) { return [n, c]; } }`,
        errors: [{ messageId: "notFirst", data: { name: "c", position: "2", fn: "`pick`" } }],
      },
    ],
  },
  "context-first (typed)",
);

after(() => assertNoLeaks());
