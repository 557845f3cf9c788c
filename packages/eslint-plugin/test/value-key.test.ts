import { after } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import { IMPORTS, typed, untyped } from "./rule-tester.js";

const I = IMPORTS;

untyped().run("value-key", {
  valid: [
    { name: "accepts a key made by createKey at module level (seed 001's fixed form)", code: `${I}const userKey = createKey<string>("user"); export function setUser(ctx: Context, id: string) { return withValue(ctx, userKey, id); }` },
    { name: "accepts a key imported from another module", code: `${I}import { userKey } from "./keys.js"; export function f(ctx: Context) { return withValue(ctx, userKey, 1); }` },
    { name: "accepts a key through a constant alias", code: `${I}const k = createKey<number>("n"); const alias = k; export function f(ctx: Context) { return withValue(ctx, alias, 1); }` },
    { name: "accepts a key from a parameter (unknown without types)", code: `${I}export function f<T>(ctx: Context, key: Key<T>, v: T) { return withValue(ctx, key, v); }` },
    { name: "ignores another module's withValue", code: `import { withValue } from "./store.js"; export const s = withValue({}, "user", 1);` },
  ],
  invalid: [
    {
      name: "reports a string key (seed 001: never use string or int keys)",
      code: `${I}export function setUser(ctx: Context, id: string) { return withValue(ctx, "user", id); }`,
      errors: [{ messageId: "badKey", data: { what: "is a string literal" } }],
    },
    {
      name: "reports number, template and negative number keys",
      code: `${I}export function f(ctx: Context) { return [withValue(ctx, 42, 1), withValue(ctx, \`user\`, 1), withValue(ctx, -1, 1)]; }`,
      errors: [
        { messageId: "badKey", data: { what: "is a number literal" } },
        { messageId: "badKey", data: { what: "is a string" } },
        { messageId: "badKey", data: { what: "is a number literal" } },
      ],
    },
    {
      name: "reports Symbol() and Symbol.for() keys",
      code: `${I}export function f(ctx: Context) { return [withValue(ctx, Symbol("user"), 1), withValue(ctx, Symbol.for("user"), 1)]; }`,
      errors: [
        { messageId: "badKey", data: { what: "is a Symbol()" } },
        { messageId: "badKey", data: { what: "is a Symbol.for() (shared by every package)" } },
      ],
    },
    {
      name: "sees through a type assertion",
      code: `${I}export function f(ctx: Context) { return withValue(ctx, "user" as unknown as Key<string>, "u"); }`,
      errors: [{ messageId: "badKey", data: { what: "is a string literal" } }],
    },
    {
      name: "reports a constant holding a string",
      code: `${I}const USER = "user"; export function f(ctx: Context) { return withValue(ctx, USER, 1); }`,
      errors: [{ messageId: "badKey", data: { what: "`USER` is a string literal" } }],
    },
    {
      name: "reports createKey written inline: the value can never be read back",
      code: `${I}export function f(ctx: Context) { return withValue(ctx, createKey("user"), 1); }`,
      errors: [{ messageId: "inlineKey" }],
    },
  ],
});

typed().run(
  "value-key",
  {
    valid: [
      { name: "accepts any expression of type Key", code: `${I}const keys = { user: createKey<string>("user") }; export function f(ctx: Context) { return withValue(ctx, keys.user, "u"); }` },
    ],
    invalid: [
      {
        name: "reports a key whose type is not Key",
        code: `${I}const keys = { user: "user" }; export function f(ctx: Context) { return withValue(ctx, keys.user as any as string, "u"); }`,
        errors: [{ messageId: "badKey", data: { what: "has type `string`" } }],
      },
      {
        name: "reports an object that is not a Key",
        code: `${I}class UserKey {} export function f(ctx: Context) { return withValue(ctx, new UserKey() as never, "u"); }`,
        errors: [{ messageId: "badKey", data: { what: "has type `UserKey`, not a Key from createKey" } }],
      },
    ],
  },
  "value-key (typed)",
);

after(() => assertNoLeaks());
