// Test support for the core suites: deferreds, settled-state tracking, waits, context assertions, a hand-written
// context, a task failure recorder, a seeded PRNG, a send/cancel race harness and child-process runners. No tests.
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { getEventListeners } from "node:events";
import {
  background,
  Canceled,
  cause,
  Channel,
  ChannelClosedError,
  DeadlineExceeded,
  setTaskFailureHandler,
  tasks,
  withCancel,
  withDeadline,
  type CancelFunc,
  type Context,
  type Key,
  type ReceiveChannel,
  type Task,
  type TaskError,
} from "@lifeline/core";

// ---- promises and waits -----------------------------------------------------------------------------------------

/** Deferred is a promise with its resolve and reject, as Promise.withResolvers gives them. */
export type Deferred<T> = { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void };

/** deferred is Promise.withResolvers, which Node 20 lacks. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** monoNow is the clock of Task's createdAt/since/ctxEndedAt: epoch ms on the monotonic clock. */
export function monoNow(): number {
  return performance.timeOrigin + performance.now();
}

/** State is how a tracked promise has settled so far. */
export type State<T> = { state: "pending" | "fulfilled" | "rejected"; value: T | undefined; error: unknown };

/** track records how a promise settles, so a test can assert "not yet" without awaiting it. */
export function track<T>(p: Promise<T>): State<T> {
  const s: State<T> = { state: "pending", value: undefined, error: undefined };
  p.then(
    (v) => {
      s.state = "fulfilled";
      s.value = v;
    },
    (e: unknown) => {
      s.state = "rejected";
      s.error = e;
    },
  );
  return s;
}

/** ticks lets `n` microtask turns pass. */
export async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

/** turn lets every queued microtask and the current macrotask finish: for asserting that something did NOT happen. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** delay is a short real pause, only to assert that something has NOT happened. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** keepAlive holds the event loop open until the test ends: deadline timers never do (withDeadline's TSDoc). */
export function keepAlive(t: TestContext): void {
  const timer = setInterval(() => {}, 1_000);
  t.after(() => clearInterval(timer));
}

// ---- contexts ---------------------------------------------------------------------------------------------------

/** cancellable returns a child of background() that is cancelled when the test ends, whatever happens. */
export function cancellable(t: TestContext): [Context, CancelFunc] {
  const [ctx, cancel] = withCancel(background());
  t.after(cancel);
  return [ctx, cancel];
}

/** cancelled returns a child of background() that has already been cancelled, and its cancel. */
export function cancelled(): [Context, CancelFunc] {
  const [ctx, cancel] = withCancel(background());
  cancel();
  return [ctx, cancel];
}

/** endedContexts are contexts that have already ended, each with the error it ended with. */
export const endedContexts: [name: string, make: () => Context, err: Error][] = [
  ["a cancelled ctx", () => cancelled()[0], Canceled],
  ["a ctx past its deadline", () => withDeadline(background(), Date.now() - 1)[0], DeadlineExceeded],
];

/** ended waits for ctx's done channel to close, its ref'd guard timer keeping the process alive (or failing). */
export async function ended(ctx: Context, limitMs = 2000): Promise<void> {
  let guard: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    guard = setTimeout(() => reject(new Error(`${String(ctx)} did not end within ${limitMs} ms`)), limitMs);
  });
  try {
    assert.deepEqual(await Promise.race([ctx.done().recv(background()), timeout]), [undefined, false]);
  } finally {
    clearTimeout(guard);
  }
}

/** isClosed reports whether a done channel is closed, without waiting. */
export function isClosed(ch: ReceiveChannel<never>): boolean {
  const r = ch.tryRecv();
  if (r === undefined) return false;
  assert.deepEqual(r, [undefined, false]);
  return true;
}

/** assertLive checks every way a context shows that it has not ended. */
export function assertLive(ctx: Context, what = "ctx"): void {
  assert.equal(ctx.err(), undefined, `${what}.err()`);
  assert.equal(cause(ctx), undefined, `cause(${what})`);
  assert.equal(ctx.signal.aborted, false, `${what}.signal.aborted`);
  assert.equal(isClosed(ctx.done()), false, `${what}.done() closed`);
}

/** assertEnded checks every way a context shows that it ended with `err` and `why`. */
export function assertEnded(ctx: Context, err: Error, why: unknown = err, what = "ctx"): void {
  assert.equal(ctx.err(), err, `${what}.err()`);
  assert.equal(cause(ctx), why, `cause(${what})`);
  assert.equal(ctx.signal.aborted, true, `${what}.signal.aborted`);
  assert.equal(ctx.signal.reason, err, `${what}.signal.reason`);
  assert.equal(isClosed(ctx.done()), true, `${what}.done() closed`);
}

/** abortListeners counts the abort listeners on a signal. */
export function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, "abort").length;
}

/** ManualContext implements Context from scratch: its own deadline, values, done channel and AbortController. */
export class ManualContext implements Context {
  readonly #controller = new AbortController();
  readonly #done = new Channel<never>(0);
  readonly #deadline: number | undefined;
  readonly #values: Map<unknown, unknown>;
  #err: Error | undefined = undefined;
  constructor(deadline?: number, values: [Key<unknown>, unknown][] = []) {
    this.#deadline = deadline;
    this.#values = new Map(values);
  }
  deadline(): number | undefined {
    return this.#deadline;
  }
  done(): ReceiveChannel<never> {
    return this.#done;
  }
  err(): Error | undefined {
    return this.#err;
  }
  value<T>(key: Key<T>): T | undefined {
    return this.#values.get(key) as T | undefined;
  }
  get signal(): AbortSignal {
    return this.#controller.signal;
  }
  end(err: Error): void {
    this.#err = err;
    this.#done.close();
    this.#controller.abort(err);
  }
}

// ---- errors -----------------------------------------------------------------------------------------------------

/** exactly validates a rejection by identity (Canceled and DeadlineExceeded are singletons). */
export function exactly(expected: unknown): (e: unknown) => true {
  return (e) => {
    assert.equal(e, expected);
    return true;
  };
}

/** closedError validates a ChannelClosedError with the given message. */
export function closedError(message: string): (e: unknown) => true {
  return (e) => {
    assert.ok(e instanceof ChannelClosedError, `expected ChannelClosedError, got ${String(e)}`);
    assert.equal(e.message, message);
    return true;
  };
}

/** typeErrorNaming validates a TypeError whose message starts with `name`. */
export function typeErrorNaming(name: string): (e: unknown) => true {
  return (e) => {
    assert.ok(e instanceof TypeError, `expected TypeError, got ${String(e)}`);
    assert.match(e.message, new RegExp(`^${name}\\b`));
    return true;
  };
}

// ---- tasks ------------------------------------------------------------------------------------------------------

/** Failure is one report to the task failure handler. */
export type Failure = { error: TaskError; task: Task<unknown> };

/** recordFailures records every task failure report until the test ends; `first` resolves with the first one. */
export function recordFailures(t: TestContext): { reports: Failure[]; first: Promise<Failure> } {
  const reports: Failure[] = [];
  const first = deferred<Failure>();
  const previous = setTaskFailureHandler((error, task) => {
    reports.push({ error, task });
    first.resolve({ error, task });
  });
  t.after(() => setTaskFailureHandler(previous));
  return { reports, first: first.promise };
}

/** assertNoTasks checks that every test let its tasks finish: nothing is left in the registry. */
export function assertNoTasks(): void {
  assert.deepEqual(
    tasks().map((x) => `${x.id} ${x.name}`),
    [],
  );
}

// ---- randomness -------------------------------------------------------------------------------------------------

/** prng is mulberry32, a small seeded generator: the same seed gives the same trees and interleavings every run. */
export function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

// ---- channels ---------------------------------------------------------------------------------------------------

/** loseNoValueToCancel races a send and a cancel of `take` (undefined: ctx won) 1000 times; no value may be lost. */
export async function loseNoValueToCancel(
  live: Context,
  seed: number,
  take: (ch: Channel<number>, ctx: Context) => Promise<number | undefined>,
): Promise<void> {
  const rand = prng(seed);
  const ch = new Channel<number>();
  const rounds = 1000;
  const received: number[] = [];
  let taken = 0;
  let drained = 0;
  for (let i = 0; i < rounds; i++) {
    const [ctx, cancel] = withCancel(background());
    const sendAfter = rand(4);
    const cancelAfter = rand(5) - 1; // -1: cancelled before take is called
    const sent = (async () => {
      await ticks(sendAfter);
      await ch.send(live, i);
    })();
    if (cancelAfter < 0) cancel();
    const got = take(ch, ctx);
    if (cancelAfter >= 0) {
      await ticks(cancelAfter);
      cancel();
    }
    const v = await got;
    if (v !== undefined) {
      taken++;
      received.push(v);
    } else {
      drained++;
      await turn(); // every microtask has run: the sender is parked by now
      const next = ch.tryRecv();
      assert.ok(next !== undefined, `round ${i}: the value was lost`);
      received.push(next[0] as number);
    }
    await sent;
    assert.equal(ch.tryRecv(), undefined, `round ${i}: nothing is left over`);
  }
  assert.deepEqual(received, Array.from({ length: rounds }, (_, i) => i), "every value exactly once, in order");
  assert.ok(taken > 0 && drained > 0, `both outcomes happened (${taken}/${drained})`);
}

// ---- child processes --------------------------------------------------------------------------------------------

/** ChildResult is how a child node process ended and what it printed. */
export type ChildResult = { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };

/** ScriptOptions: what @lifeline/core is bound to in the script (a name or a pattern), the kill timeout, the env. */
export type ScriptOptions = { as?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv };

// coreUrl is what a child imports; script prefixes `lines` with that import.
const coreUrl = import.meta.resolve("@lifeline/core");

function script(lines: string[], as: string): string {
  return [`const ${as} = await import(${JSON.stringify(coreUrl)});`, ...lines].join("\n");
}

// evalArgs runs `code` as an ES module in a child of this runtime. Node and Bun take `--input-type=module -e`; Deno's
// child_process turns `-e` into a classic script (no top-level await) but passes its own `eval` (a module) through.
function evalArgs(code: string): string[] {
  return "Deno" in globalThis ? ["eval", code] : ["--input-type=module", "-e", code];
}

/** runScriptSync runs `lines` as an ES module in a child node (core bound to `as`), blocking until it exits. */
export function runScriptSync(lines: string[], options: ScriptOptions = {}): ChildResult {
  const { as = "core", timeoutMs = 10_000, env = process.env } = options;
  const args = evalArgs(script(lines, as));
  const r = spawnSync(process.execPath, args, { encoding: "utf8", timeout: timeoutMs, env });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** runScript is runScriptSync without blocking the event loop while the child runs. */
export function runScript(lines: string[], options: ScriptOptions = {}): Promise<ChildResult> {
  const { as = "core", timeoutMs = 10_000, env = process.env } = options;
  const args = evalArgs(script(lines, as));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { timeout: timeoutMs, env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("close", (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}
