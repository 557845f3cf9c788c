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
    { name: "accepts a race of promises made in the iteration (they settle with it)", code: `export async function f(next: () => Promise<number>, ms: number) { for (;;) { const v = await Promise.race([next(), new Promise((r) => setTimeout(r, ms))]); if (v) return v; } }` },
    { name: "accepts a race over a pool of in-flight work (its members are not seen)", code: `export async function f(jobs: (() => Promise<void>)[], executing: Set<Promise<void>>) { for (const job of jobs) { executing.add(job()); if (executing.size > 4) await Promise.race(executing); } }` },
    { name: "accepts the for...of variable (new each iteration)", code: `export async function f(ps: Promise<number>[], t: () => Promise<void>) { for (const p of ps) await Promise.race([p, t()]); }` },
    { name: "ignores a local Promise", code: `export async function f(Promise: { race(x: unknown[]): unknown }, done: unknown) { for (;;) await Promise.race([done]); }` },
  ],
  invalid: [
    {
      name: "prescribes select only in a file that imports lifeline",
      code: `${I}export async function worker(ctx: Context, next: () => Promise<number>) { for (;;) { await Promise.race([ctx.done(), next()]); } }`,
      errors: [{ messageId: "raceInLoop", data: { method: "race", racer: "ctx.done()" } }],
    },
    {
      name: "reports this.closed, options.signal's abort wait and a property of module state",
      code: `import { once } from "node:events"; const state = { stop: new Promise<void>(() => {}) };
export class Reader { closed!: Promise<void>; async run(options: { signal: AbortSignal }, next: () => Promise<number>) {
  while (true) await Promise.race([next(), this.closed]);
  for (;;) await Promise.race([next(), once(options.signal, "abort")]);
  do { await Promise.race([next(), state.stop]); } while (Math.random());
} }`,
      errors: [
        { messageId: "raceInLoopPlatform", data: { method: "race", racer: "this.closed" }, line: 3 },
        { messageId: "raceInLoopPlatform", data: { method: "race", racer: 'once(options.signal, "abort")' }, line: 4 },
        { messageId: "raceInLoopPlatform", data: { method: "race", racer: "state.stop" }, line: 5 },
      ],
    },
    {
      name: "reports Promise.race against a done promise in a for loop (shared/PITFALLS.md)",
      code: `export async function worker(done: Promise<void>, next: () => Promise<number>) { for (;;) { const v = await Promise.race([done, next()]); if (v === undefined) return; } }`,
      errors: [{ messageId: "raceInLoopPlatform", data: { method: "race", racer: "done" } }],
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
        { messageId: "raceInLoopPlatform", line: 2 },
        { messageId: "raceInLoopPlatform", data: { method: "any", racer: "done" }, line: 3 },
        { messageId: "raceInLoopPlatform", line: 4 },
        { messageId: "raceInLoopPlatform", line: 5 },
      ],
    },
    {
      name: "reports a race in a loop inside a block and a try",
      code: `export async function f(done: Promise<void>) { for (let i = 0; i < 10; i++) { try { if (i) { await Promise.race([done]); } } finally { /* */ } } }`,
      errors: [{ messageId: "raceInLoopPlatform" }],
    },
  ],
});

after(() => assertNoLeaks());
