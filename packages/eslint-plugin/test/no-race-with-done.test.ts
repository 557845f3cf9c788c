import { after } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import { IMPORTS, untyped } from "./rule-tester.js";

const I = IMPORTS;

untyped().run("no-race-with-done", {
  valid: [
    { name: "accepts select with recv(ctx.done()) in a loop (the fixed form)", code: `${I}export async function worker(ctx: Context, jobs: Channel<number>) { for (;;) { const r = await select([recv(ctx.done()), recv(jobs)]); if (r.index === 0) return; } }` },
    { name: "accepts Promise.race outside a loop", code: `export async function f(a: Promise<1>, b: Promise<2>) { return Promise.race([a, b]); }` },
    { name: "accepts a race in a function defined in a loop (its own call)", code: `export function f(xs: Promise<number>[]) { const fs = []; for (const x of xs) fs.push(() => Promise.race([x])); return fs; }` },
    { name: "accepts the iterable of for...of, evaluated once", code: `export async function f(a: Promise<number[]>) { for (const x of await Promise.race([a])) console.log(x); }` },
    { name: "ignores a local Promise", code: `export async function f(Promise: { race(x: unknown[]): unknown }, done: unknown) { for (;;) await Promise.race([done]); }` },
  ],
  invalid: [
    {
      name: "reports Promise.race against a done promise in a for loop (shared/PITFALLS.md)",
      code: `export async function worker(done: Promise<void>, next: () => Promise<number>) { for (;;) { const v = await Promise.race([done, next()]); if (v === undefined) return; } }`,
      errors: [{ messageId: "raceInLoop", data: { method: "race" } }],
    },
    {
      name: "reports while, do, for await and the loop's test",
      code: `export async function f(done: Promise<void>, it: AsyncIterable<number>) {
  while (true) await Promise.race([done]);
  do { await Promise.any([done]); } while (Math.random() > 0.5);
  for await (const x of it) await Promise.race([done, x]);
  while (await Promise.race([done, true])) {}
}`,
      errors: [
        { messageId: "raceInLoop", line: 2 },
        { messageId: "raceInLoop", data: { method: "any" }, line: 3 },
        { messageId: "raceInLoop", line: 4 },
        { messageId: "raceInLoop", line: 5 },
      ],
    },
    {
      name: "reports a race in a loop inside a block and a try",
      code: `export async function f(done: Promise<void>) { for (let i = 0; i < 10; i++) { try { if (i) { await Promise.race([done]); } } finally { /* */ } } }`,
      errors: [{ messageId: "raceInLoop" }],
    },
  ],
});

after(() => assertNoLeaks());
