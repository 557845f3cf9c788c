import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions as NodeSpawnOptions } from "node:child_process";
import { afterFunc, blockOn, isContext, type Context } from "@lifeline/core";
import { anyAlive, groupMembers, killGroup, track, untrack } from "./internal/groups.js";

/**
 * StoppedBy says what ended a command: `"exit"` — it exited by itself; `"SIGTERM"` — its context ended and
 * the group's SIGTERM stopped it within the grace period; `"SIGKILL"` — something in its group was still
 * alive after the grace period and was killed.
 */
export type StoppedBy = "exit" | "SIGTERM" | "SIGKILL";

/** StopReport says how a command whose context ended was stopped, for logs and dashboards. */
export interface StopReport {
  /** stoppedBy is `"SIGTERM"` or `"SIGKILL"`: the rung that stopped the group. */
  readonly stoppedBy: StoppedBy;
  /** ms is the time from the context's end to the group being gone (or SIGKILLed). */
  readonly ms: number;
  /** pid is the command's pid, which is also its process group id. */
  readonly pid: number;
}

/** WaitResult is how a command ended. */
export interface WaitResult {
  /** exitCode is the exit code, or null when a signal ended the process. */
  readonly exitCode: number | null;
  /** signal is the signal that ended the process, or null. */
  readonly signal: NodeJS.Signals | null;
  /** stoppedBy is `"exit"` for a result (a stopped command rejects with ctx.err()). */
  readonly stoppedBy: StoppedBy;
  /**
   * pipesClosed is true when its stdio was still open `waitDelayMs` after it exited (a process left in its
   * group held it): that group was killed and the pipes closed, so the output may be cut short (Go's ErrWaitDelay).
   */
  readonly pipesClosed: boolean;
}

/** LadderOptions are the stop ladder's settings, shared by {@link spawn} and {@link exec}. */
export interface LadderOptions {
  /** graceMs is how long the group has after SIGTERM before SIGKILL. Default: 5000; at most 2^31 − 1. */
  readonly graceMs?: number;
  /**
   * waitDelayMs bounds the wait for the command's stdio to close once it has exited (Go's `Cmd.WaitDelay`).
   * When it passes, whatever is left in the command's process group is killed and the pipes are closed.
   * Default: 1000; at most 2^31 − 1.
   */
  readonly waitDelayMs?: number;
  /** onStop hears how the command was stopped, if its context ended before it finished. */
  readonly onStop?: (report: StopReport) => void;
}

/** SpawnOptions are Node's spawn options without those lifeline owns (signal, detached, timeout, killSignal). */
export type SpawnOptions = Omit<NodeSpawnOptions, "signal" | "detached" | "timeout" | "killSignal"> &
  LadderOptions & { readonly signal?: never; readonly detached?: never; readonly timeout?: never; readonly killSignal?: never };

/** Child is Node's ChildProcess plus wait() and the rung that stopped it. */
export type Child = ChildProcess & {
  /**
   * wait returns a promise of how the command ended, settled once it exited, its stdio closed (or
   * `waitDelayMs` passed) and — if its context ended — its process group is gone. It resolves for any exit
   * code; it rejects with ctx.err() when the context stopped the command, or with the spawn error (ENOENT…).
   * While it waits, the task of the ctx given to spawn shows as blocked on `process wait`. Call it as often
   * as you like; it does not stop the command (the context does).
   */
  wait(): Promise<WaitResult>;
  /** stoppedBy is undefined until the command ended, then what ended it. */
  readonly stoppedBy: StoppedBy | undefined;
};

const FORBIDDEN = ["signal", "detached", "timeout", "killSignal"] as const;

function describe(v: unknown): string {
  return `\`${typeof v === "string" ? v : String(v)}\` (${v === null ? "null" : typeof v})`;
}

/** @internal checkCommand is the input check spawn and exec share. */
export function checkCommand(fn: string, ctx: unknown, command: unknown, args: unknown, options: unknown): void {
  if (!isContext(ctx)) throw new TypeError(`${fn}: ctx must be a Context, got ${describe(ctx)}`);
  if (typeof command !== "string" || command === "") throw new TypeError(`${fn}: command must be a non-empty string, got ${describe(command)}`);
  if (!Array.isArray(args) || !args.every((a) => typeof a === "string")) {
    throw new TypeError(`${fn}: args must be an array of strings, got ${describe(args)}`);
  }
  if (typeof options !== "object" || options === null) throw new TypeError(`${fn}: options must be an object, got ${describe(options)}`);
  const o = options as Record<string, unknown>;
  if (o.shell !== undefined && o.shell !== false && args.length > 0) {
    throw new TypeError(`${fn}: shell with arguments: the shell would join them unquoted; put the whole command line in command, or drop shell`);
  }
  for (const k of FORBIDDEN) {
    if (o[k] !== undefined) throw new TypeError(`${fn}: options.${k} is lifeline's: the context stops the command, got ${describe(o[k])}`);
  }
  for (const k of ["graceMs", "waitDelayMs"]) {
    const v = o[k];
    // A timer longer than 2^31 − 1 ms fires after 1 ms (TimeoutOverflowWarning): refused, not run early.
    if (v !== undefined && (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 2 ** 31 - 1)) {
      throw new TypeError(`${fn}: options.${k} must be a number of milliseconds in [0, 2147483647], got ${describe(v)}`);
    }
  }
  if (o.onStop !== undefined && typeof o.onStop !== "function") throw new TypeError(`${fn}: options.onStop must be a function, got ${describe(o.onStop)}`);
}

const POSIX = process.platform !== "win32";
const PROBE_MAX_MS = 16; // the probe backs off from 1 ms to this

/**
 * spawn starts `command` with `args` (Node's `child_process.spawn`) in its own process group and returns the
 * ChildProcess, plus `wait()` and `stoppedBy`. When `ctx` ends before the command has been waited for,
 * the ladder runs: SIGTERM to the group; SIGKILL to the group `graceMs` later if anything in it is still
 * alive. A command that had already exited by itself, with nothing left running in its group, is not stopped: its
 * result stands. Once the command has exited, the wait for its stdio to close is bounded by `waitDelayMs`. If this
 * process exits normally (or calls process.exit) first, the groups not yet waited for are SIGKILLed.
 *
 * It does NOT install signal handlers: a child in its own group does not get the terminal's Ctrl-C, so make
 * the context with `notifyContext` (@lifeline/node) to stop children on SIGINT/SIGTERM. A descendant that
 * starts its own group or session (setsid) escapes the group kill; its pipes are still closed after
 * `waitDelayMs`. On Windows there are no groups: the ladder signals the child alone.
 *
 * The caller owns the child: read (or ignore) its stdio and call `wait()`.
 *
 * @throws TypeError for bad input: not a Context, a non-string command, `shell` with arguments, or one of
 * the options lifeline owns (`signal`, `detached`, `timeout`, `killSignal`).
 * @throws ctx.err() if ctx has already ended; nothing is started.
 */
export function spawn(ctx: Context, command: string, args: readonly string[] = [], options: SpawnOptions = {}): Child {
  checkCommand("spawn", ctx, command, args, options);
  const err = ctx.err();
  if (err !== undefined) throw err;
  const { graceMs = 5000, waitDelayMs = 1000, onStop, ...rest } = options;
  const child = nodeSpawn(command, args, { ...rest, detached: POSIX }) as Child;
  const pid = child.pid;

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let closed = false;
  let spawnError: unknown;
  let stopping = false;
  let endedAt = 0;
  let groupGone = false;
  let stoppedBy: StoppedBy | undefined;
  let rung: "SIGTERM" | "SIGKILL" = "SIGTERM"; // the last rung of a stop in progress
  let pipesClosed = false;
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  let probeTimer: ReturnType<typeof setTimeout> | undefined;
  let probeMs = 1;
  let waitDelayTimer: ReturnType<typeof setTimeout> | undefined;
  let settled = false;
  let observed = false;
  let resolve!: (r: WaitResult) => void;
  let reject!: (e: unknown) => void;
  const result = new Promise<WaitResult>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  result.catch(() => {}); // delivered through wait(); a start failure nobody waits for is reported in settle()

  const signalGroup = (signal: NodeJS.Signals): boolean => {
    if (pid === undefined) return false;
    return POSIX ? killGroup(pid, signal) : child.kill(signal);
  };
  // The group's live members, read from /proc once when the stop starts; a probe re-reads only those, and
  // scans /proc again only when they are all gone (to catch a member forked since).
  let members: number[] | undefined;
  const alive = (): boolean => {
    if (pid === undefined) return false;
    if (!POSIX) return exited === undefined;
    if (!killGroup(pid, 0)) return false;
    if (members === undefined) return true; // no /proc: a zombie counts as alive until it is reaped
    if (anyAlive(members, pid)) return true;
    members = groupMembers(pid) ?? [];
    return members.length > 0;
  };

  const settle = (): void => {
    if (settled) return;
    if (spawnError === undefined) {
      if (exited === undefined) return;
      if (!closed) return; // stdio still open, and waitDelayMs has not passed since the exit
      if (stopping && !groupGone) return;
    }
    settled = true;
    for (const t of [graceTimer, waitDelayTimer]) if (t !== undefined) clearTimeout(t);
    if (probeTimer !== undefined) clearTimeout(probeTimer);
    stopWatch();
    if (pid !== undefined) untrack(pid);
    if (spawnError !== undefined && !stopping) {
      reject(spawnError);
      // Nothing is dropped: a failed start that nobody waits for, nor listens for, is reported (as Node would).
      setTimeout(() => {
        if (!observed && child.listenerCount("error") <= 1) void Promise.reject(spawnError);
      }, 0);
      return;
    }
    if (stopping) {
      stoppedBy = rung;
      if (onStop !== undefined && pid !== undefined) {
        try {
          onStop({ stoppedBy, ms: performance.now() - endedAt, pid });
        } catch (e) {
          queueMicrotask(() => {
            throw e;
          });
        }
      }
      reject(ctx.err());
      return;
    }
    stoppedBy = "exit";
    resolve({ exitCode: exited!.code, signal: exited!.signal, stoppedBy, pipesClosed });
  };

  /** probe ends the stop once nothing is left in the group (the leader alone exiting is not enough). */
  const probe = (): void => {
    probeTimer = undefined;
    if (settled || groupGone) return;
    if (!alive()) {
      groupGone = true;
      settle();
      return;
    }
    probeTimer = setTimeout(probe, probeMs);
    probeMs = Math.min(probeMs * 2, PROBE_MAX_MS);
  };

  const kill = (): void => {
    graceTimer = undefined;
    if (signalGroup("SIGKILL")) rung = "SIGKILL";
    groupGone = true;
    settle();
  };

  const stop = (): void => {
    if (settled || stopping) return;
    // The command exited by itself and nothing is left running in its group (a zombie nobody reaps still takes
    // signals: /proc tells): only its pipes were still closing. The ctx stopped nothing, so the exit stands (as
    // Go's exec does when the process already finished), and the wait goes on, still bounded by waitDelayMs.
    if (exited !== undefined && !(POSIX && pid !== undefined && killGroup(pid, 0) && (groupMembers(pid)?.length ?? 1) > 0)) return;
    stopping = true;
    endedAt = performance.now();
    if (!signalGroup("SIGTERM")) {
      groupGone = true;
      settle();
      return;
    }
    graceTimer = setTimeout(kill, graceMs);
    if (POSIX && pid !== undefined) members = groupMembers(pid);
    if (exited !== undefined) probe();
  };

  const closePipes = (): void => {
    waitDelayTimer = undefined;
    if (closed) return;
    pipesClosed = true;
    // Whatever holds our pipes is left over in the command's group (or escaped it): the command is over.
    if (!stopping) signalGroup("SIGKILL");
    for (const s of [child.stdin, child.stdout, child.stderr, ...child.stdio.slice(3)]) {
      if (s !== null && s !== undefined && "destroy" in s) s.destroy();
    }
    closed = true;
    settle();
  };

  child.on("error", (error) => {
    // Node emits 'error' for a failed spawn (ENOENT) and for a failed kill; only the first matters here.
    if (pid === undefined && spawnError === undefined) {
      spawnError = error;
      settle();
    }
  });
  child.on("exit", (code, signal) => {
    exited = { code, signal };
    if (!closed) waitDelayTimer = setTimeout(closePipes, waitDelayMs);
    if (stopping && !groupGone && probeTimer === undefined) probe();
    settle();
  });
  child.on("close", () => {
    closed = true;
    if (waitDelayTimer !== undefined) clearTimeout(waitDelayTimer);
    waitDelayTimer = undefined;
    settle();
  });
  if (pid !== undefined) track(pid);
  const stopWatch = afterFunc(ctx, stop);

  Object.defineProperty(child, "stoppedBy", { get: () => stoppedBy, enumerable: true, configurable: true });
  child.wait = () => {
    observed = true;
    return blockOn(ctx, "process wait", result);
  };
  return child;
}
