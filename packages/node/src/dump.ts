import type { IncomingMessage, ServerResponse } from "node:http";
import { cause, remaining, tasks, type Task } from "@lifeline/core";

/** TaskDumpEntry is one live task in a {@link taskDump}, in a shape fit for JSON. */
export interface TaskDumpEntry {
  id: number;
  name: string;
  state: "running" | "blocked" | "done";
  /** blockedOn: `chan recv`, `select (3 cases)`, `sleep 200ms`, `semaphore acquire 1`, `WaitGroup.wait`. */
  blockedOn: string | null;
  /**
   * forMs: time in the current state, in milliseconds on the monotonic clock (with a fractional part), from
   * Task.since: approximate, as the wait time in Go's goroutine dump is. Core stamps a change without reading a
   * clock, within ~1 s (its sampler's period; later only while the event loop holds timers up), or when `since`
   * is first read: so forMs may be short by up to ~1 s, never long.
   */
  forMs: number;
  /** context: the chain the task runs under, as String(ctx). */
  context: string;
  /**
   * contextId identifies the context object the task was started with (Task.parent), for this process: tasks
   * with the same contextId run under the same context, whatever its String says (the time left changes).
   */
  contextId: number;
  /** deadlineInMs: time left before the context's deadline; null without one. */
  deadlineInMs: number | null;
  /** err and cause: why the context ended; null while it is live. */
  err: string | null;
  cause: string | null;
  /**
   * ignoringCancellationMs: how long the task has run on since its context ended (ms, monotonic, with a
   * fractional part); null while it is live.
   */
  ignoringCancellationMs: number | null;
  /** stack: where the task was started, when stacks are captured (LIFELINE_DEBUG=1). */
  stack: string | null;
}

function text(v: unknown): string {
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  if (typeof v === "object" && v !== null && "message" in v) return String((v as { message: unknown }).message);
  return String(v);
}

// Ids for context objects, by identity; a WeakMap, so the dump keeps no context alive.
const contextIds = new WeakMap<object, number>();
let nextContextId = 1;

function contextId(ctx: object): number {
  let id = contextIds.get(ctx);
  if (id === undefined) contextIds.set(ctx, (id = nextContextId++));
  return id;
}

/** now reads the clock of Task's since and ctxEndedAt: epoch ms on the monotonic clock. */
function now(): number {
  return performance.timeOrigin + performance.now();
}

function entry(t: Task<unknown>, now: number): TaskDumpEntry {
  const err = t.ctx.err();
  const left = remaining(t.ctx);
  return {
    id: t.id,
    name: t.name,
    state: t.state,
    blockedOn: t.blockedOn ?? null,
    // Reading since stamps a state not stamped yet with a clock read after `now`: that state began at the dump, not later.
    forMs: Math.max(0, now - t.since),
    context: String(t.ctx),
    contextId: contextId(t.parent),
    deadlineInMs: err === undefined && Number.isFinite(left) ? left : null,
    err: err === undefined ? null : err.message,
    cause: err === undefined ? null : text(cause(t.ctx)),
    ignoringCancellationMs: t.ctxEndedAt === undefined ? null : now - t.ctxEndedAt,
    stack: t.stack ?? null,
  };
}

/** taskDump returns every live task (Go's goroutine dump, for lifeline tasks), oldest first. */
export function taskDump(): TaskDumpEntry[] {
  const at = now();
  return tasks().map((t) => entry(t, at));
}

function ms(n: number): string {
  return n < 1000 ? `${Math.round(n)}ms` : `${(n / 1000).toFixed(1)}s`;
}

/**
 * formatTaskDump renders a dump for people: tasks grouped by the context they run under (by identity:
 * `contextId`; the group is headed by its first task's view of it), each line with
 * id, name, state, what it is blocked on and for how long, how long it has ignored cancellation, and where
 * it was started when stacks are captured.
 */
export function formatTaskDump(entries: readonly TaskDumpEntry[] = taskDump()): string {
  const groups = new Map<number, TaskDumpEntry[]>();
  for (const e of entries) {
    const g = groups.get(e.contextId);
    if (g === undefined) groups.set(e.contextId, [e]);
    else g.push(e);
  }
  const out = [`lifeline task dump: ${entries.length} live task${entries.length === 1 ? "" : "s"} at ${new Date().toISOString()}`];
  for (const group of groups.values()) {
    const head = group[0]!;
    const context = head.context;
    let about = "";
    if (head.err !== null) about = `  [ended: ${head.err}; cause: ${head.cause}]`;
    else if (head.deadlineInMs !== null) about = `  [deadline in ${ms(head.deadlineInMs)}]`;
    out.push("", `${context}${about}`);
    for (const e of group) {
      const state = e.state === "blocked" ? `blocked on ${e.blockedOn} for ${ms(e.forMs)}` : `${e.state} for ${ms(e.forMs)}`;
      const ignoring = e.ignoringCancellationMs !== null ? ` — ignoring cancellation for ${ms(e.ignoringCancellationMs)}` : "";
      out.push(`  task ${e.id} "${e.name}": ${state}${ignoring}`);
      if (e.stack !== null) out.push(`      started ${e.stack.split("\n").join("\n      ")}`);
    }
  }
  return out.join("\n") + "\n";
}

/**
 * installDumpSignal prints the task dump to stderr whenever `signal` (default SIGUSR2) arrives, like a Go
 * program's SIGQUIT dump but without exiting. Opt-in. Returns a function that removes the handler. Node also
 * writes a diagnostic report on SIGUSR2 when started with `--report-on-signal`; pick another signal then.
 */
export function installDumpSignal(signal: NodeJS.Signals = "SIGUSR2", write: (text: string) => void = (s) => process.stderr.write(s)): () => void {
  if (typeof signal !== "string") throw new TypeError(`installDumpSignal: signal must be a signal name, got ${typeof signal}`);
  const onSignal = (): void => write(formatTaskDump());
  process.on(signal, onSignal);
  return () => process.removeListener(signal, onSignal);
}

/**
 * dumpHandler returns a node:http request listener that answers with the task dump: text, or JSON when the
 * request asks for it (`?format=json` or `Accept: application/json`). Mount it yourself, behind whatever
 * protects your debug routes (e.g. at /debug/lifeline/tasks); nothing mounts it by default.
 */
export function dumpHandler(): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const json = /[?&]format=json\b/.test(req.url ?? "") || (req.headers.accept ?? "").includes("application/json");
    if (json) {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(taskDump(), null, 2));
    } else {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }).end(formatTaskDump());
    }
  };
}
