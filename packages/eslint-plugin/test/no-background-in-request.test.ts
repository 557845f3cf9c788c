import { after } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import { IMPORTS, typed, untyped } from "./rule-tester.js";

const I = IMPORTS;

untyped().run("no-background-in-request", {
  valid: [
    { name: "accepts background() at the program's top (seed 002: the entry point)", code: `${I}const [ctx, cancel] = withCancel(background()); try { await sleep(ctx, 1); } finally { cancel(); }` },
    { name: "accepts background() in a function without a ctx", code: `${I}export function main() { return withTimeout(background(), 1_000); }` },
    { name: "accepts deriving from the ctx it receives", code: `${I}export function handle(ctx: Context) { return withTimeout(ctx, 1_000); }` },
    { name: "ignores another module's background()", code: `import { background } from "./jobs.js"; export function handle(ctx) { return background(); }` },
    { name: "ignores a JS parameter named ctx in a file that does not import lifeline", code: `export function handle(ctx) { return background(); }` },
  ],
  invalid: [
    {
      name: "reports background() in a handler that receives ctx, and suggests ctx or withoutCancel(ctx)",
      code: `${I}export function report(ctx: Context) { return go(background(), async () => {}); }`,
      errors: [
        {
          messageId: "background",
          data: { fn: "background", ctx: "ctx" },
          suggestions: [
            { messageId: "suggestCtx", output: `${I}export function report(ctx: Context) { return go(ctx, async () => {}); }` },
            { messageId: "suggestWithoutCancel", output: `${I}export function report(ctx: Context) { return go(withoutCancel(ctx), async () => {}); }` },
          ],
        },
      ],
    },
    {
      name: "reports todo() in a closure inside such a function",
      code: `import { todo, sleep } from "@lifeline/core";\nexport function f(ctx) { return () => sleep(todo(), 5); }`,
      errors: [
        {
          messageId: "background",
          data: { fn: "todo", ctx: "ctx" },
          suggestions: [{ messageId: "suggestCtx", output: `import { todo, sleep } from "@lifeline/core";\nexport function f(ctx) { return () => sleep(ctx, 5); }` }],
        },
      ],
    },
    {
      name: "reports through a namespace import",
      code: `import * as ll from "@lifeline/core"; export function f(parent: ll.Context) { return ll.background(); }`,
      errors: [{ messageId: "background", data: { fn: "background", ctx: "parent" }, suggestions: [{ messageId: "suggestCtx", output: `import * as ll from "@lifeline/core"; export function f(parent: ll.Context) { return parent; }` }] }],
    },
  ],
});

typed().run(
  "no-background-in-request",
  {
    valid: [{ name: "accepts background() where no parameter is a Context", code: `${I}export function f(c: { x: number }) { return [c, background()]; }` }],
    invalid: [
      {
        name: "finds the ctx by type, whatever its annotation",
        code: `${I}type Ctx = Context; export function f(req: Ctx) { return todo() ?? req; }`,
        errors: [{ messageId: "background", data: { fn: "todo", ctx: "req" }, suggestions: [{ messageId: "suggestCtx", output: `${I}type Ctx = Context; export function f(req: Ctx) { return req ?? req; }` }, { messageId: "suggestWithoutCancel", output: `${I}type Ctx = Context; export function f(req: Ctx) { return withoutCancel(req) ?? req; }` }] }],
      },
    ],
  },
  "no-background-in-request (typed)",
);

after(() => assertNoLeaks());
