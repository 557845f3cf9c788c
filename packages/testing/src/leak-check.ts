import { Task, type Context, type TaskState, type TrackKind } from "@lifeline/core";
import { lastSeq, live, TestScope, type Entry } from "./tracker.js";

// Captured at import: a test that installs fake timers (vi.useFakeTimers, node:test's mock.timers) must not
// freeze the check's own backoff, nor skew the ages it reports.
const realSetTimeout = globalThis.setTimeout;
const realPerformanceNow = performance.now.bind(performance);
const realDateNow = Date.now;
/** The longest pause between two looks: with `retryMs: Infinity` the check must keep looking, not doze off. */
const MAX_PAUSE_MS = 100;

/** monoNow reads the clock of Task's createdAt/since/ctxEndedAt (epoch ms, monotonic), unfaked. */
function monoNow(): number {
  return performance.timeOrigin + realPerformanceNow();
}

/** Snapshot marks a moment: pass it as `ignoreExisting` to leave alone what existed then. @see snapshot */
export class Snapshot {
  /** @internal */
  readonly seq: number;
  /** @internal */
  constructor(seq: number) {
    this.seq = seq;
  }
}

/**
 * snapshot returns a mark of what is alive now (goleak's `IgnoreCurrent`): a check given it as
 * `ignoreExisting` neither reports nor takes anything made before it, e.g. a server context that a
 * `before()` hook starts for the whole file and an `after()` hook cancels.
 */
export function snapshot(): Snapshot {
  return new Snapshot(lastSeq());
}

/** LeakOptions tune a leak check. */
export interface LeakOptions {
  /**
   * ignoreNames leaves alone what is described by one of these: a task's name, a wait's `chan recv`,
   * a context's chain, `ticker 100ms`. A string matches the whole description, a RegExp any part of it.
   */
  readonly ignoreNames?: readonly (string | RegExp)[];
  /** ignoreSites leaves alone what was made at a matching creation site: a string is a substring of the stack. */
  readonly ignoreSites?: readonly (string | RegExp)[];
  /** ignoreExisting leaves alone what was made before this {@link snapshot}. */
  readonly ignoreExisting?: Snapshot;
  /**
   * retryMs is how long to keep looking, with doubling pauses from 1 ms up to 100 ms, before reporting what
   * is still alive, so that work that is just finishing does not fail the test (default 1000). `Infinity`
   * looks until nothing is left. Measured on the real clock, whatever fake timers a test installed.
   */
  readonly retryMs?: number;
  /**
   * stopThresholdMs: a leaked task still running this long after its context ended is flagged
   * `ignoringCancellation` (default 1000).
   */
  readonly stopThresholdMs?: number;
}

/** CheckOptions are {@link LeakOptions} plus the test to name in the report. */
export interface CheckOptions extends LeakOptions {
  /** test names the test that leaks made outside any {@link TestScope} are reported against. */
  readonly test?: string;
}

/** TaskLeak describes a leaked task as it is at the time of the report. */
export interface TaskLeak {
  readonly id: number;
  readonly name: string;
  readonly state: TaskState;
  /** blockedOn says what a blocked task waits on: `chan recv`, `select (3 cases)`, `sleep 200ms`… */
  readonly blockedOn: string | undefined;
  /**
   * stateMs is how long the task has been in its state (ms, with a fractional part): from Task.since, which is
   * approximate (a change is stamped by core's sampler within ~1 s, or when first read: so this may be short by up
   * to ~1 s), and, for a blocked task, at least the age of its oldest pending wait, which the leak checker saw
   * begin exactly.
   */
  readonly stateMs: number;
  /** ctxEndedAt is when the task's context ended (Task.ctxEndedAt: epoch ms on the monotonic clock), undefined while it is live. */
  readonly ctxEndedAt: number | undefined;
  /** ctxEndedMs is how long before the report its context ended (ms, monotonic), undefined while it is live. */
  readonly ctxEndedMs: number | undefined;
  /** parkedAt is where the task is parked (the stack of its oldest pending wait), when the wait was seen. */
  readonly parkedAt: string | undefined;
  /** parked lists every pending wait of the task, oldest first: what it is and where it was made. */
  readonly parked: readonly { readonly what: string; readonly stack: string }[];
}

/**
 * Leak is one thing made by a test and still alive after it: a task not done, a cancellable context neither
 * cancelled nor ended (the runtime twin of `go vet`'s lostcancel), a wait still parked, a ticker still armed.
 */
export interface Leak {
  readonly kind: TrackKind;
  /** what describes it: the task's name, the context's chain, `chan recv`, `select (3 cases)`, `ticker 100ms`. */
  readonly what: string;
  /** test is the name of the test that made it, when known. */
  readonly test: string | undefined;
  /** createdAt is when it was made (epoch ms); ageMs how long ago. */
  readonly createdAt: number;
  readonly ageMs: number;
  /** stack is the creation site, lifeline's frames removed ("" when stack capture was off). */
  readonly stack: string;
  /** task is the task's state, for a task. */
  readonly task: TaskLeak | undefined;
  /** blocks is, for a wait, the task it blocks (known by identity), when lifeline knew it; else undefined. */
  readonly blocks: { readonly id: number; readonly name: string } | undefined;
  /** remainingMs is the time to a context's deadline, when it has one and is still reachable. */
  readonly remainingMs: number | undefined;
  /** ignoringCancellation: a task still running `stopThresholdMs` or more after its context ended. */
  readonly ignoringCancellation: boolean;
  /**
   * collected: the subject was garbage-collected without ending. For a context this is still a leak: its
   * cancel function was never called (its timer and its place in the parent lived on until then).
   */
  readonly collected: boolean;
}

/** LeakError is thrown by the checks when something is still alive; `leaks` lists it, the message prints it. */
export class LeakError extends Error {
  declare readonly name: "LeakError";
  /** code is stable, for tools: `ERR_LIFELINE_LEAK`. */
  readonly code = "ERR_LIFELINE_LEAK";
  readonly leaks: readonly Leak[];
  constructor(leaks: readonly Leak[]) {
    super(formatLeaks(leaks));
    Object.defineProperty(this, "name", { value: "LeakError", writable: false, enumerable: false, configurable: true });
    // The check's own frames say nothing: every creation site is in the message.
    this.stack = `LeakError: ${this.message}`;
    this.leaks = leaks;
  }
}

/** @internal Domain says which entries a check is about. */
interface Domain {
  /** scope: only this scope's entries; null: only entries made outside any scope; undefined: all. */
  readonly scope: TestScope | null | undefined;
  /**
   * upTo: only entries made up to this seq (the check's start), for the checks that are not bound to a scope:
   * what is made while they retry belongs to whoever runs next. A scope's check takes all of the scope's.
   */
  readonly upTo: number;
  readonly after: number;
}

function inDomain(e: Entry, d: Domain): boolean {
  if (e.seq > d.upTo || e.seq <= d.after) return false;
  if (d.scope === undefined) return true;
  return d.scope === null ? e.scope === undefined : e.scope === d.scope;
}

function domainEntries(d: Domain): Entry[] {
  const out: Entry[] = [];
  for (const e of live.values()) if (inDomain(e, d)) out.push(e);
  return out;
}

function matches(patterns: readonly (string | RegExp)[] | undefined, text: string, whole: boolean): boolean {
  if (patterns === undefined) return false;
  for (const p of patterns) {
    if (typeof p === "string" ? (whole ? text === p : text.includes(p)) : p.test(text)) return true;
  }
  return false;
}

interface Settings {
  readonly retryMs: number;
  readonly stopThresholdMs: number;
  readonly ignoreNames: readonly (string | RegExp)[] | undefined;
  readonly ignoreSites: readonly (string | RegExp)[] | undefined;
  readonly after: number;
  readonly test: string | undefined;
}

function settings(fn: string, options: CheckOptions | undefined): Settings {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new TypeError(`${fn}: options must be an object, got ${options === null ? "null" : typeof options}`);
  }
  const o = options ?? {};
  const retryMs = o.retryMs ?? 1000;
  if (typeof retryMs !== "number" || !(retryMs >= 0)) {
    throw new TypeError(`${fn}: options.retryMs must be a number of milliseconds ≥ 0, got ${String(retryMs)}`);
  }
  const stopThresholdMs = o.stopThresholdMs ?? 1000;
  if (typeof stopThresholdMs !== "number" || !(stopThresholdMs >= 0)) {
    throw new TypeError(`${fn}: options.stopThresholdMs must be a number of milliseconds ≥ 0, got ${String(stopThresholdMs)}`);
  }
  for (const key of ["ignoreNames", "ignoreSites"] as const) {
    const list = o[key];
    if (list !== undefined && (!Array.isArray(list) || !list.every((p) => typeof p === "string" || p instanceof RegExp))) {
      throw new TypeError(`${fn}: options.${key} must be an array of strings and RegExps`);
    }
  }
  if (o.ignoreExisting !== undefined && !(o.ignoreExisting instanceof Snapshot)) {
    throw new TypeError(`${fn}: options.ignoreExisting must come from snapshot()`);
  }
  if (o.test !== undefined && typeof o.test !== "string") {
    throw new TypeError(`${fn}: options.test must be a string, got ${typeof o.test}`);
  }
  return {
    retryMs,
    stopThresholdMs,
    ignoreNames: o.ignoreNames,
    ignoreSites: o.ignoreSites,
    after: o.ignoreExisting?.seq ?? 0,
    test: o.test,
  };
}

function describeEntry(e: Entry, s: Settings, now: number, mono: number): Leak & { readonly seq: number } {
  const subject = e.ref.deref();
  let task: TaskLeak | undefined;
  let remainingMs: number | undefined;
  let ignoringCancellation = false;
  let blocks: Leak["blocks"];
  if (e.kind === "task" && subject instanceof Task) {
    const ended = subject.ctxEndedAt;
    task = {
      id: subject.id,
      name: subject.name,
      state: subject.state,
      blockedOn: subject.blockedOn,
      stateMs: mono - subject.since,
      ctxEndedAt: ended,
      ctxEndedMs: ended === undefined ? undefined : mono - ended,
      parkedAt: undefined,
      parked: [],
    };
    ignoringCancellation = ended !== undefined && mono - ended >= s.stopThresholdMs;
  } else if (e.kind === "wait") {
    const owner = e.owner?.deref();
    if (owner instanceof Task) blocks = { id: owner.id, name: owner.name };
  } else if (e.kind === "context" && subject !== undefined) {
    const deadline = (subject as Context).deadline();
    if (deadline !== undefined) remainingMs = deadline - now;
  }
  return {
    seq: e.seq,
    kind: e.kind,
    what: e.what,
    test: e.scope?.name ?? s.test,
    createdAt: e.createdAt,
    ageMs: now - e.createdAt,
    stack: e.stack,
    task,
    blocks,
    remainingMs,
    ignoringCancellation,
    collected: subject === undefined,
  };
}

/**
 * leaksOf describes the entries, folding each parked wait into the leaked task it blocks (known by identity:
 * core tells the tracker which task a wait belongs to), every pending wait of a task, oldest first; then drops
 * the ignored ones.
 */
function leaksOf(entries: readonly Entry[], s: Settings): Leak[] {
  const now = realDateNow();
  const mono = monoNow();
  const all = entries.map((e) => describeEntry(e, s, now, mono));
  const byTaskId = new Map<number, (typeof all)[number]>();
  for (const l of all) if (l.task !== undefined) byTaskId.set(l.task.id, l);
  const folded = new Set<number>();
  for (const w of all) {
    if (w.kind !== "wait" || w.blocks === undefined) continue;
    const owner = byTaskId.get(w.blocks.id);
    if (owner === undefined) continue;
    const t = owner.task!;
    (owner as { task: TaskLeak }).task = {
      ...t,
      // Task.since is approximate (stamped by core's sampler, up to ~1 s late: see its TSDoc); the tracker saw
      // the oldest pending wait begin, exactly. Both are lower bounds of the time blocked: the larger is nearer.
      stateMs: t.parked.length === 0 && t.state === "blocked" ? Math.max(t.stateMs, w.ageMs) : t.stateMs,
      parkedAt: t.parkedAt ?? w.stack,
      parked: [...t.parked, { what: w.what, stack: w.stack }],
    };
    folded.add(w.seq);
  }
  const out: Leak[] = [];
  for (const l of all) {
    if (folded.has(l.seq)) continue;
    if (matches(s.ignoreNames, l.what, true) || matches(s.ignoreSites, l.stack, false)) continue;
    const { seq: _seq, ...leak } = l;
    out.push(leak);
  }
  return out;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, ms));
}

/** search looks for leaks in the domain, retrying with doubling pauses until none is left or time is up. */
async function search(d: Domain, s: Settings): Promise<{ leaks: Leak[]; entries: Entry[] }> {
  const start = realPerformanceNow();
  let delay = 1;
  for (;;) {
    const entries = domainEntries(d);
    const leaks = leaksOf(entries, s);
    const left = s.retryMs - (realPerformanceNow() - start);
    if (leaks.length === 0 || left <= 0) return { leaks, entries };
    await pause(Math.min(delay, left));
    delay = Math.min(delay * 2, MAX_PAUSE_MS);
  }
}

function take(entries: readonly Entry[]): void {
  for (const e of entries) live.delete(e.seq);
}

/**
 * findLeaks returns what `scope` made that is still alive (without a scope: everything made so far that no
 * check has taken), after retrying for up to `retryMs`; an empty array when nothing leaked. It does not
 * throw and takes nothing: a later check sees the same leaks. Use it to assert on leaks; use
 * {@link leakCheck} or the checks to fail a test.
 */
export async function findLeaks(scope?: TestScope, options?: LeakOptions): Promise<Leak[]> {
  if (scope !== undefined && !(scope instanceof TestScope)) {
    throw new TypeError("findLeaks: scope must be a TestScope or undefined");
  }
  const s = settings("findLeaks", options);
  return (await search({ scope, upTo: scope === undefined ? lastSeq() : Infinity, after: s.after }, s)).leaks;
}

/**
 * leakCheck wraps a test function (node:test's `it(name, leakCheck(async (t) => …))`, or Vitest's): it runs
 * `fn` in a {@link TestScope} named after the test, then fails with a {@link LeakError} if anything made in
 * that scope is still alive after retrying for up to `retryMs`. Scopes follow async hops, so tests that run
 * concurrently each get only their own leaks. Under node:test the check runs as the test's last `t.after`
 * hook, so cleanup that the test registered with `t.after` has run by then; elsewhere it runs when `fn` has
 * settled. If `fn` fails, its error is rethrown and what it left is dropped unchecked. Each leak is reported
 * once: what a check reported or ignored, later checks skip.
 */
export function leakCheck<C>(fn: (t: C) => unknown, options?: LeakOptions): (t: C) => Promise<void> {
  if (typeof fn !== "function") throw new TypeError(`leakCheck: fn must be a function, got ${typeof fn}`);
  const s = settings("leakCheck", options);
  return async function leakChecked(t: C): Promise<void> {
    const scope = new TestScope(testName(t) ?? (fn.name || "test"));
    try {
      await scope.run(() => fn(t));
    } catch (error) {
      take(domainEntries({ scope, upTo: Infinity, after: 0 }));
      throw error;
    }
    const check = async (): Promise<void> => {
      const { leaks, entries } = await search({ scope, upTo: Infinity, after: s.after }, s);
      take(entries);
      if (leaks.length > 0) throw new LeakError(leaks);
    };
    // node:test runs t.after hooks in the order they were added, after the test function: ours comes last.
    const after = (t as { after?: unknown } | null | undefined)?.after;
    if (typeof after === "function" && !isVitest(t)) after.call(t, check);
    else await check();
  };
}

function isVitest(t: unknown): boolean {
  return typeof (t as { task?: unknown }).task === "object";
}

function testName(t: unknown): string | undefined {
  // Vitest's test context is a function with properties.
  if ((typeof t !== "object" && typeof t !== "function") || t === null) return undefined;
  const { fullName, name, task } = t as { fullName?: unknown; name?: unknown; task?: { name?: unknown } };
  if (typeof task?.name === "string") return task.name; // Vitest's (its own `name` is the function's)
  if (typeof fullName === "string" && fullName !== "") return fullName;
  if (typeof name === "string" && name !== "") return name;
  return undefined;
}

/**
 * checkLeaks fails with a {@link LeakError} if anything made outside a {@link TestScope} since the previous
 * check (or since `ignoreExisting`) is still alive after retrying for up to `retryMs`. It is the hook for
 * sequential suites whose tests are not wrapped, as `afterEach((t) => checkLeaks({ test: t.name }))`;
 * tests that overlap in time would see each other's leaks there (wrap them with {@link leakCheck}).
 * What it reports or ignores, later checks skip.
 */
export async function checkLeaks(options?: CheckOptions): Promise<void> {
  const s = settings("checkLeaks", options);
  const { leaks, entries } = await search({ scope: null, upTo: lastSeq(), after: s.after }, s);
  take(entries);
  if (leaks.length > 0) throw new LeakError(leaks);
}

/**
 * assertNoLeaks fails with a {@link LeakError} if anything made so far (in a scope or not) that no check has
 * taken is still alive after retrying for up to `retryMs`. It is the whole-file check:
 * `after(() => assertNoLeaks())` as the last line of a node:test file.
 */
export async function assertNoLeaks(options?: CheckOptions): Promise<void> {
  const s = settings("assertNoLeaks", options);
  const { leaks, entries } = await search({ scope: undefined, upTo: lastSeq(), after: s.after }, s);
  take(entries);
  if (leaks.length > 0) throw new LeakError(leaks);
}

// ---- the report ------------------------------------------------------------------------------------------------

/** formatDuration prints milliseconds as `12ms`, `1.5s` or `2m3s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1).replace(/\.?0+$/, "")}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${Math.round((ms - m * 60_000) / 1000)}s`;
}

/**
 * @internal frames prints a stack on new lines under a label, the frames' `at`s aligned:
 * `created at f (file:1:2)`, then `        at g (…)`; "" for an empty stack.
 */
export function frames(stack: string, label: string): string {
  if (stack === "") return "";
  const lines = stack.split("\n").map((l) => (l.startsWith("at ") ? l : `at ${l}`));
  return `\n    ${label} ${lines.join(`\n    ${" ".repeat(label.length)} `)}`;
}

/** formatLeak prints one leak: what it is and its state on one line, then where it was made (and parked). */
export function formatLeak(l: Leak): string {
  let line: string;
  const age = formatDuration(l.ageMs);
  switch (l.kind) {
    case "task": {
      const t = l.task;
      if (t === undefined) {
        line = `task "${l.what}" not done (started ${age} ago)`;
        break;
      }
      const state = t.state === "blocked" ? `blocked on ${t.blockedOn ?? "?"}` : t.state;
      line = `task ${t.id} "${t.name}" ${state} for ${formatDuration(t.stateMs)} (started ${age} ago)`;
      if (t.ctxEndedMs !== undefined) {
        const ended = formatDuration(t.ctxEndedMs);
        line += l.ignoringCancellation
          ? `, ignoring cancellation: its context ended ${ended} ago`
          : `, its context ended ${ended} ago`;
      }
      break;
    }
    case "context":
      line = `context never cancelled: ${l.what} (made ${age} ago${
        l.remainingMs !== undefined ? `, deadline in ${formatDuration(l.remainingMs)}` : ""
      }${l.collected ? ", since garbage-collected" : ""})`;
      break;
    case "wait":
      line = `parked on ${l.what} for ${age}, ${l.blocks === undefined ? "outside any task" : `in task ${l.blocks.id} "${l.blocks.name}"`}`;
      break;
    case "timer":
      line = `${l.what} still armed (made ${age} ago)`;
      break;
  }
  let parked = "";
  for (const p of l.task?.parked ?? []) parked += frames(p.stack, "parked");
  return line + frames(l.stack, "created") + parked;
}

/** formatLeaks prints a report: a header naming the test(s), then each leak. */
export function formatLeaks(leaks: readonly Leak[]): string {
  const tests = new Set(leaks.map((l) => l.test));
  const n = `${leaks.length} ${leaks.length === 1 ? "leak" : "leaks"}`;
  if (tests.size === 1) {
    const [test] = tests;
    const header = test === undefined ? `${n} (made outside any checked test):` : `${n} in test "${test}":`;
    return [header, ...leaks.map((l) => "  " + formatLeak(l))].join("\n");
  }
  return [
    `${n}:`,
    ...leaks.map((l) => `  [${l.test === undefined ? "outside any checked test" : `test "${l.test}"`}] ${formatLeak(l)}`),
  ].join("\n");
}
