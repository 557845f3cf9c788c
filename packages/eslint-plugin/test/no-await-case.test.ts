import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { Linter } from "eslint";
import lifeline from "@lifeline/eslint-plugin";
import { typed, untyped } from "./rule-tester.js";

const I = 'import { recv, send, select, type Channel, type Context } from "@lifeline/core";\n';
const AWAIT = "`await` returns it at once and waits for nothing";
const DONE = "`await select([recv(ctx.done())])` (Go's `<-ctx.Done()`)";

untyped().run("no-await-case", {
  valid: [
    { name: "accepts select over the done channel (the fix of commit 1670e25)", code: `${I}export async function untilDone(ctx: Context) { await select([recv(ctx.done())]); }` },
    { name: "accepts a channel's own recv and send, which are promises", code: `${I}export async function f(ctx: Context, ch: Channel<number>) { await ch.send(ctx, 1); return await ch.recv(ctx); }` },
    { name: "accepts cases built into an array for select", code: `${I}export async function f(ctx: Context, a: Channel<number>, b: Channel<number>) { const cases = [recv(a), send(b, 1), recv(ctx.done())]; return await select(cases); }` },
    { name: "accepts Promise.all over select and ch.recv", code: `${I}export async function f(ctx: Context, a: Channel<number>) { return Promise.all([select([recv(a)]), a.recv(ctx)]); }` },
    { name: "accepts .then on a select", code: `${I}export function f(ctx: Context) { return select([recv(ctx.done())]).then((r) => r.index); }` },
    { name: "ignores a local function named recv in a file that imports lifeline", code: `import { select, type Context } from "@lifeline/core";\nasync function recv(ch: unknown) { return ch; }\nexport async function f(ctx: Context) { await recv(ctx); await Promise.all([recv(ctx)]); recv(ctx).then(() => {}); await select([]); }` },
    { name: "ignores a nested function named recv that shadows the import", code: `${I}export async function f(ctx: Context) { async function recv(x: unknown) { return x; } await recv(ctx.done()); }` },
    { name: "ignores a parameter named recv that shadows the import", code: `${I}export async function f(recv: (x: unknown) => Promise<void>, ch: unknown) { await recv(ch); }` },
    { name: "ignores recv and send from another module", code: `import { recv, send } from "./mailbox.js"; export async function f(box: unknown) { await recv(box); await send(box, 1); await Promise.all([recv(box)]); recv(box).then(() => {}); }` },
    { name: "ignores a local Promise", code: `${I}export function f(Promise: { all(x: unknown[]): unknown }, ch: Channel<number>) { return Promise.all([recv(ch)]); }` },
    { name: "does not report a case returned as a value (documented: not seen)", code: `${I}export async function doneCase(ctx: Context) { return recv(ctx.done()); }` },
    { name: "does not see a case held in a variable without types (documented)", code: `${I}export async function f(ctx: Context) { const c = recv(ctx.done()); await c; }` },
  ],
  invalid: [
    {
      name: "reports await recv(ctx.done()), Go's <-ctx.Done() (the bug of commit 1670e25)",
      code: `${I}export async function untilDone(ctx: Context) { await recv(ctx.done()); }`,
      errors: [{ messageId: "awaitCase", data: { case: "recv(ctx.done())", effect: AWAIT, instead: DONE } }],
    },
    {
      name: "reports await recv(ch) and await send(ch, v), naming the channel's own methods",
      code: `${I}export async function f(jobs: Channel<number>, out: Channel<number>) {\n  const v = await recv(jobs);\n  await send(this.out, v);\n}`,
      errors: [
        { messageId: "awaitCase", line: 3, data: { case: "recv(jobs)", effect: AWAIT, instead: "`await select([recv(jobs)])`, or `await jobs.recv(ctx)` for one channel" } },
        { messageId: "awaitCase", line: 4, data: { case: "send(this.out, v)", effect: AWAIT, instead: "`await select([send(this.out, v)])`, or `await this.out.send(ctx, v)` for one channel" } },
      ],
    },
    {
      name: "reports return await, and an await through a type assertion",
      code: `${I}export async function f(ctx: Context, ch: Channel<number>) {\n  if (ch) return await recv(ctx.done());\n  await (recv(ch) as unknown as Promise<void>);\n  await recv(ch)!;\n}`,
      errors: [
        { messageId: "awaitCase", line: 3 },
        { messageId: "awaitCase", line: 4, data: { case: "recv(ch)", effect: AWAIT, instead: "`await select([recv(ch)])`, or `await ch.recv(ctx)` for one channel" } },
        { messageId: "awaitCase", line: 5 },
      ],
    },
    {
      name: "reports an aliased import",
      code: `import { recv as when, send as put, type Context } from "@lifeline/core";\nexport async function f(ctx: Context, ch: never) { await when(ctx.done()); await put(ch, 1); }`,
      errors: [
        { messageId: "awaitCase", data: { case: "when(ctx.done())", effect: AWAIT, instead: "`await select([when(ctx.done())])` (Go's `<-ctx.Done()`)" } },
        { messageId: "awaitCase" },
      ],
    },
    {
      name: "reports a namespace import",
      code: `import * as core from "@lifeline/core";\nexport async function f(ctx: core.Context) { await core.recv(ctx.done()); }`,
      errors: [{ messageId: "awaitCase", data: { case: "core.recv(ctx.done())", effect: AWAIT, instead: "`await select([core.recv(ctx.done())])` (Go's `<-ctx.Done()`)" } }],
    },
    {
      name: "reports a case among the elements of Promise.all/race/any/allSettled",
      code: `${I}export async function f(ctx: Context, ch: Channel<number>, work: () => Promise<void>) {\n  await Promise.race([recv(ctx.done()), work()]);\n  await Promise.all([work(), send(ch, 1)]);\n  await Promise.any([recv(ch)]);\n  await Promise.allSettled([work(), recv(ch)]);\n}`,
      errors: [
        { messageId: "awaitCase", line: 3, data: { case: "recv(ctx.done())", effect: "Promise.race takes it as a value already settled and waits for nothing", instead: DONE } },
        { messageId: "awaitCase", line: 4 },
        { messageId: "awaitCase", line: 5 },
        { messageId: "awaitCase", line: 6 },
      ],
    },
    {
      name: "reports .then, .catch and .finally on a case (a case has none: the call throws)",
      code: `${I}export function f(ctx: Context) {\n  recv(ctx.done()).then(() => {});\n  recv(ctx.done()).catch(() => {});\n  recv(ctx.done()).finally(() => {});\n}`,
      errors: [
        { messageId: "awaitCase", line: 3, data: { case: "recv(ctx.done())", effect: "it has no `.then`: the call throws a TypeError", instead: DONE } },
        { messageId: "awaitCase", line: 4 },
        { messageId: "awaitCase", line: 5 },
      ],
    },
    {
      name: "knows a re-exporting package named in settings.lifeline.packages",
      code: `import { recv } from "@acme/lifeline";\nexport async function f(ctx: { done(): never }) { await recv(ctx.done()); }`,
      settings: { lifeline: { packages: ["@acme/lifeline"] } },
      errors: [{ messageId: "awaitCase" }],
    },
  ],
});

typed().run(
  "no-await-case",
  {
    valid: [
      { name: "accepts select over the done channel", code: `${I}export async function f(ctx: Context) { await select([recv(ctx.done())]); }` },
      { name: "accepts a wrapper that returns a promise", code: `${I}function untilDone(ctx: Context) { return select([recv(ctx.done())]); } export async function f(ctx: Context) { await untilDone(ctx); }` },
      { name: "ignores a type named RecvCase that is not lifeline's", code: `interface RecvCase { op: "recv" } export async function f(ctx: unknown, c: RecvCase) { await c; return ctx; }` },
      { name: "does not report a value that may be a case or a promise", code: `${I}export async function f(ctx: Context, p: Promise<void>) { await (Math.random() ? recv(ctx.done()).channel : p); await (Math.random() ? select([recv(ctx.done())]) : 1); }` },
    ],
    invalid: [
      {
        name: "reports a case held in a variable, by its type",
        code: `${I}export async function f(ctx: Context) { const done = recv(ctx.done()); await done; await Promise.all([done]); }`,
        errors: [
          { messageId: "awaitCase", data: { case: "done", effect: AWAIT, instead: "`await select([done])`, or `await ch.recv(ctx)` / `await ch.send(ctx, v)` for one channel" } },
          { messageId: "awaitCase" },
        ],
      },
      {
        name: "reports a case made by a wrapper, and one that may be undefined",
        code: `${I}function doneCase(ctx: Context) { return recv(ctx.done()); }\nexport async function f(ctx: Context, c?: ReturnType<typeof send<number>>) { await doneCase(ctx); await c; }`,
        errors: [{ messageId: "awaitCase", data: { case: "doneCase(ctx)", effect: AWAIT, instead: "`await select([doneCase(ctx)])`, or `await ch.recv(ctx)` / `await ch.send(ctx, v)` for one channel" } }, { messageId: "awaitCase" }],
      },
      {
        name: "still reports the written call once",
        code: `${I}export async function f(ctx: Context) { await recv(ctx.done()); }`,
        errors: [{ messageId: "awaitCase", data: { case: "recv(ctx.done())", effect: AWAIT, instead: DONE } }],
      },
    ],
  },
  "no-await-case (typed)",
);

describe("no-await-case in JavaScript (no types, ESLint's default parser)", () => {
  const linter = new Linter({ configType: "flat" });
  const config = [{ files: ["**/*.mjs"], ...(lifeline.configs.recommended as Linter.Config) }];
  function found(code: string): string[] {
    return linter
      .verify(code, config, "worker.mjs")
      .map((m) => {
        assert.equal(m.fatal, undefined, m.message);
        return m.ruleId === "lifeline/no-await-case" ? `${m.line}: ${m.message}` : "";
      })
      .filter((m) => m !== "");
  }

  it("reports await recv(ctx.done()), an alias and a namespace import", () => {
    const messages = found(
      'import { recv, recv as when } from "@lifeline/core";\nimport * as L from "@lifeline/core";\n' +
        "export async function a(ctx) { await recv(ctx.done()); }\nexport async function b(ctx) { await when(ctx.done()); }\nexport async function c(ctx, ch) { await Promise.all([L.send(ch, 1)]); return L.recv(ch).then(String); }\n",
    );
    assert.deepEqual(
      messages.map((m) => m.slice(0, m.indexOf(":"))),
      ["3", "4", "5", "5"],
    );
    assert.match(messages[0] ?? "", /`recv\(ctx\.done\(\)\)` is a select case, not a promise: `await` returns it at once and waits for nothing\. Wait with `await select\(\[recv\(ctx\.done\(\)\)\]\)`/);
    assert.match(messages[2] ?? "", /or `await ch\.send\(ctx, v\)` for one channel/);
  });

  it("ignores a local function named recv, and the fixed form", () => {
    assert.deepEqual(
      found(
        'import { select, recv as caseOf } from "@lifeline/core";\nasync function recv(ch) { return ch; }\n' +
          "export async function a(ctx) { await recv(ctx); await select([caseOf(ctx.done())]); }\n",
      ),
      [],
    );
  });
});

after(() => assertNoLeaks());
