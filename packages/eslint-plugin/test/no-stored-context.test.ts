import { after } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import { IMPORTS, typed, untyped } from "./rule-tester.js";

const I = IMPORTS;

untyped().run("no-stored-context", {
  valid: [
    { name: "accepts ctx passed to each method (seed 002's fixed form)", code: `${I}export class Reporter { constructor(readonly name: string) {} async run(ctx: Context) { await sleep(ctx, 1); } }` },
    { name: "accepts an options object built for one call", code: `${I}export function f(ctx: Context) { return go(ctx, async () => {}, { name: "x" }) && { ctx }; }` },
    { name: "accepts a local object that dies with the call", code: `${I}export function f(ctx: Context) { const job = { ctx: undefined as Context | undefined }; job.ctx = ctx; return job; }` },
    { name: "accepts a class that is itself a Context: a node holds its parent", code: `${I}export class Traced implements Context {
      constructor(readonly parent: Context) {}
      deadline() { return this.parent.deadline(); } done() { return this.parent.done(); } err() { return this.parent.err(); }
      value<T>(key: Key<T>) { return this.parent.value(key); } get signal() { return this.parent.signal; }
    }` },
    { name: "accepts module setup at the top level", code: `${I}export const state: { root?: Context } = {}; state.root = background();` },
    { name: "ignores fields of other types", code: `${I}export class C { #cancel?: () => void; n = 1; start(ctx: Context) { [, this.#cancel] = withCancel(ctx); } }` },
  ],
  invalid: [
    {
      name: "reports a field typed Context (seed 002: storing context in a struct)",
      code: `${I}export class Reporter {
  ctx: Context;
  constructor(ctx: Context) { this.ctx = ctx; }
}`,
      errors: [{ messageId: "field", data: { what: "Field `ctx`" }, line: 3 }],
    },
    {
      name: "reports a private field initialised with background()",
      code: `${I}export class Group { #ctx = background(); }`,
      errors: [{ messageId: "field", data: { what: "Field `#ctx`" } }],
    },
    {
      name: "reports a constructor parameter property",
      code: `${I}export class Client { constructor(private readonly ctx: Context, readonly url: string) {} }`,
      errors: [{ messageId: "field", data: { what: "Parameter property `ctx`" } }],
    },
    {
      name: "reports this.x = ctx for an undeclared field",
      code: `${I}export class Job { start(ctx: Context) { (this as any).ctx = ctx; } }`,
      errors: [{ messageId: "assignment", data: { target: "(this as any).ctx" } }],
    },
    {
      name: "reports a Context put into module state from a function",
      code: `${I}const cache = new Map<string, unknown>(); const state: Record<string, unknown> = {}; export function remember(ctx: Context) { state.last = ctx; return cache; }`,
      errors: [{ messageId: "assignment", data: { target: "state.last" } }],
    },
    {
      name: "reports a static field",
      code: `${I}export class App { static root: Context = background(); }`,
      errors: [{ messageId: "field", data: { what: "Static field `root`" } }],
    },
  ],
});

typed().run(
  "no-stored-context",
  {
    valid: [
      { name: "accepts a subclass of a class that implements Context", code: `${I}abstract class Base implements Context { abstract deadline(): number | undefined; abstract done(): ReturnType<Context["done"]>; abstract err(): Error | undefined; value<T>(_k: Key<T>): T | undefined { return undefined; } abstract get signal(): AbortSignal; }
export abstract class Child extends Base { constructor(readonly parent: Context) { super(); } }` },
    ],
    invalid: [
      {
        name: "reports a field whose type is inferred as Context",
        code: `${I}export class Server { root = withValue(background(), createKey<number>("n"), 1); }`,
        errors: [{ messageId: "field", data: { what: "Field `root`" } }],
      },
      {
        name: "reports this.x = an expression of type Context",
        code: `${I}export class Job { other: unknown; start(ctx: Context) { this.other = withoutCancel(ctx); } }`,
        errors: [{ messageId: "assignment", data: { target: "this.other" } }],
      },
    ],
  },
  "no-stored-context (typed)",
);

after(() => assertNoLeaks());
