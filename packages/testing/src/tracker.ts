// The tracker: hears of every cancellable context, task, parked wait and ticker that lifeline makes, from the
// moment this module is imported (the package's one side effect), and remembers the ones that have not ended.
import { AsyncLocalStorage } from "node:async_hooks";
import { createRequire } from "node:module";
import { dirname, join, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { setTracker, type Tracker, type TrackKind } from "@lifeline/core";

/**
 * TestScope attributes what is made inside {@link TestScope.run} to one test, across every async hop (tasks,
 * timers, promise callbacks), so that tests running at the same time each see only their own leaks.
 * `leakCheck` makes one per test; make your own to check a piece of code with {@link findLeaks}.
 */
export class TestScope {
  /** name is the test's name, printed in leak reports. */
  readonly name: string;
  constructor(name: string) {
    if (typeof name !== "string") throw new TypeError(`TestScope: name must be a string, got ${typeof name}`);
    this.name = name;
  }

  /**
   * run calls `fn` inside this scope and returns what it returns (a promise stays in the scope until it
   * settles, and so does everything it starts). It does not wait for anything and checks nothing.
   */
  run<T>(fn: () => T): T {
    return scopes.run(this, fn);
  }
}

/** @internal Entry is what the tracker knows of one subject. It never holds the subject strongly for long. */
export class Entry {
  /** seq orders entries by creation; a Snapshot is a seq. */
  readonly seq: number;
  readonly kind: TrackKind;
  readonly what: string;
  readonly createdAt: number;
  readonly scope: TestScope | undefined;
  readonly ref: WeakRef<object>;
  /** owner is, for a wait, the task it blocks (by identity), when lifeline knew it. */
  readonly owner: WeakRef<object> | undefined;
  /** ended: the subject ended (cancelled, settled, stopped), as opposed to being dropped by a check. */
  ended = false;
  #site: Error | undefined;
  #stack: string | undefined;

  constructor(seq: number, kind: TrackKind, what: string, subject: object, site: Error | undefined, owner?: object) {
    this.seq = seq;
    this.kind = kind;
    this.what = what;
    this.createdAt = realDateNow();
    this.scope = scopes.getStore();
    this.ref = new WeakRef(subject);
    this.owner = owner === undefined ? undefined : new WeakRef(owner);
    this.#site = site;
    this.#stack = site === undefined ? "" : undefined;
  }

  /** stack is the creation site, lifeline's own frames removed; "" when stacks were off. */
  get stack(): string {
    if (this.#stack === undefined) {
      this.#stack = trimStack(this.#site?.stack ?? "");
      this.#site = undefined;
    }
    return this.#stack;
  }

  /** @internal formatNow formats the stack if it is still pending, releasing the captured frames. */
  formatNow(): void {
    if (this.#site !== undefined) void this.stack;
  }

  /** @internal release drops a stack not formatted yet: the subject ended, nobody will ask for it. */
  release(): void {
    if (this.#site === undefined) return;
    this.#site = undefined;
    this.#stack = "";
  }
}

const scopes = new AsyncLocalStorage<TestScope>();
// Captured at import: a test's fake Date must not skew when things were made.
const realDateNow = Date.now;
// The task whose code runs now: core starts each task through tracker.run, so every wait it makes, after any
// number of awaits, is attributed to it by identity (a select with no done-channel case names no context).
const running = new AsyncLocalStorage<object>();
/** @internal live holds the entries of subjects that have not ended and that no check has taken yet, oldest first. */
export const live = new Map<number, Entry>();
const bySubject = new WeakMap<object, Entry>();
let seq = 0;
let stacks = true;

/** @internal Listeners of the tracker, for lost-cancel detection and time-to-stop telemetry. */
export const beginListeners: ((entry: Entry, subject: object) => void)[] = [];
/** @internal */
export const endListeners: ((subject: object, entry: Entry | undefined) => void)[] = [];

/** @internal lastSeq is the seq of the newest entry so far. */
export function lastSeq(): number {
  return seq;
}

/** @internal entryOf returns the entry of a subject that has not ended, if it was tracked. */
export function entryOf(subject: object): Entry | undefined {
  return bySubject.get(subject);
}

/**
 * captureStacks turns the capture of creation stacks on or off for what is made from now on, and returns
 * the previous setting. On by default: a report that names the creator is the point of the leak check. A
 * stack costs some 10–30 µs; turn it off around a hot loop that makes many thousands of contexts.
 */
export function captureStacks(on: boolean): boolean {
  if (typeof on !== "boolean") throw new TypeError(`captureStacks: on must be a boolean, got ${typeof on}`);
  const previous = stacks;
  stacks = on;
  return previous;
}

// Frames from these folders are lifeline's own and say nothing about who made the subject: the packages' dist/
// and, for stacks that a test runner maps back through source maps (Vitest does), their src/. The trailing
// separator keeps `dist-test/` (our tests) out.
const ownPrefixes: string[] = [];
function addOwnPackage(dist: string): void {
  for (const dir of [dist, join(dirname(dist), "src")]) ownPrefixes.push(dir + sep, pathToFileURL(dir).href + "/");
}
addOwnPackage(dirname(fileURLToPath(import.meta.url)));
try {
  addOwnPackage(dirname(createRequire(import.meta.url).resolve("@lifeline/core")));
} catch {
  // @lifeline/core resolved some other way (a bundle): fall back on the pattern below.
}
const ownPattern = /[\\/]@lifeline[\\/](?:core|testing)[\\/]/;
// Nor do test runners' frames (node:test's are node: frames), nor frames without a place (`new Promise (<anonymous>)`).
const runnerPattern = /[\\/]node_modules[\\/](?:@vitest|vitest|tinypool)[\\/]/;
const placed = /:\d+:\d+\)?$/;

function isOwnFrame(line: string): boolean {
  if (ownPattern.test(line) || runnerPattern.test(line) || !placed.test(line)) return true;
  // Node's own frames (node:internal/…, node:async_hooks, the test runner) say nothing either.
  if (line.includes("(node:") || line.includes("at node:")) return true;
  for (const p of ownPrefixes) if (line.includes(p)) return true;
  return false;
}

const MAX_FRAMES = 8;

/**
 * captureSite captures the stack (cheap: a few µs) without formatting it (the expensive part, 10–30 µs). The
 * formatting waits for the next turn of the event loop, and most subjects have ended by then, their stack
 * dropped unformatted. It cannot wait longer: until formatted, a stack keeps the receivers of its frames
 * alive, the subject among them, and the tracker must not keep subjects alive (nor hide lost cancels).
 */
function captureSite(entrySeq: number): Error {
  const limit = Error.stackTraceLimit;
  // Room for our frames (this, begin, lifeline's internals) plus the caller's.
  Error.stackTraceLimit = 16;
  const site = new Error(`entry ${entrySeq}`);
  Error.stackTraceLimit = limit;
  return site;
}

let pending: Entry[] = [];
let flushScheduled = false;
// Captured at import: fake timers installed by a test must not stop the formatting.
const realSetImmediate = globalThis.setImmediate;

function flush(): void {
  flushScheduled = false;
  const entries = pending;
  pending = [];
  for (const e of entries) if (!e.ended) e.formatNow();
}

function formatSoon(e: Entry): void {
  pending.push(e);
  if (flushScheduled) return;
  flushScheduled = true;
  realSetImmediate(flush).unref();
}

function trimStack(stack: string): string {
  const frames = stack.split("\n").slice(1);
  const theirs: string[] = [];
  for (const f of frames) {
    if (isOwnFrame(f)) continue;
    theirs.push(f.trim());
    if (theirs.length === MAX_FRAMES) break;
  }
  return theirs.length > 0 ? theirs.join("\n") : frames.map((f) => f.trim()).join("\n");
}

const tracker: Tracker = {
  begin(kind: TrackKind, subject: object, what: string, owner?: object): void {
    const old = bySubject.get(subject);
    if (old !== undefined) live.delete(old.seq);
    const n = ++seq;
    const entry = new Entry(n, kind, what, subject, stacks ? captureSite(n) : undefined, owner);
    if (stacks) formatSoon(entry);
    live.set(entry.seq, entry);
    bySubject.set(subject, entry);
    for (const l of beginListeners) l(entry, subject);
    previous?.begin(kind, subject, what, owner);
  },
  end(subject: object): void {
    const entry = bySubject.get(subject);
    if (entry !== undefined) {
      entry.ended = true;
      entry.release();
      live.delete(entry.seq);
      bySubject.delete(subject);
    }
    for (const l of endListeners) l(subject, entry);
    previous?.end(subject);
  },
  run<R>(task: object, fn: () => R): R {
    const outer = previous;
    return running.run(task, outer?.run === undefined ? fn : () => outer.run!(task, fn));
  },
  current(): object | undefined {
    return running.getStore();
  },
};

// Installed once, when the package is first imported, so that everything made afterwards is seen. A tracker
// that was there before (another tool's) keeps hearing everything through ours.
const previous: Tracker | undefined = setTracker(tracker);
