import { afterFunc, blockOn, DeadlineExceeded, type Context } from "@lifeline/core";
import type pg from "pg";
import { sendCancelRequest, type CancelOutcome } from "../cancel-request.js";
import { ClientDestroyedError } from "../errors.js";
import type { Resolved, StopReport, StopRung } from "../options.js";
import { driver } from "./driver.js";

/** State is what lifeline remembers of a client it ran something on. */
interface State {
  /** fence is pending while a cancelled call's connection is not yet known safe: nothing else is sent. */
  fence: Promise<void> | undefined;
  /** broken is set once lifeline destroyed the connection. */
  broken: ClientDestroyedError | undefined;
  /** inflight counts lifeline calls on the client that have not settled (a settled call is past its fence). */
  inflight: number;
  /** whenIdle holds what waits for inflight to reach 0 (a release of the client). */
  whenIdle: (() => void)[] | undefined;
  /**
   * turns holds calls made while another lifeline call on the client was in flight, first come first served.
   * They are not put in pg's queue until the calls before them settled (past their fence): pg would send a
   * queued query at the ReadyForQuery that ends a cancelled one, before the CancelRequest is known delivered.
   */
  turns: (() => void)[];
}

const states = new WeakMap<object, State>();

function stateOf(client: pg.ClientBase): State {
  let s = states.get(client);
  if (s === undefined) states.set(client, (s = { fence: undefined, broken: undefined, inflight: 0, whenIdle: undefined, turns: [] }));
  return s;
}

/** Outcome is what the server (or pg) answered for an operation. */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/** Op is an operation that `start` put on a client: it can tell whether it reached the wire. */
export interface Op {
  /** unsend takes the operation out of pg's queue and returns true if nothing of it was sent, else false. */
  unsend(): boolean;
}

/**
 * guard runs one operation on `client` under `ctx` and returns its value, applying the stop ladder when ctx
 * ends first: not sent → taken out of the queue; sent → CancelRequest to the live peer, and the client is
 * fenced until both the cancel socket reached EOF and the backend sent ReadyForQuery (PostgreSQL discards a
 * cancel that arrives while the backend is idle, so the next command cannot be hit); no ReadyForQuery
 * within the grace, or no EOF → the socket is destroyed. The promise settles only after that, so a caller
 * that awaits it can reuse the client at once.
 */
export function guard<T>(
  ctx: Context,
  client: pg.ClientBase,
  o: Resolved,
  what: string,
  start: (settle: (outcome: Outcome<T>) => void) => Op,
): Promise<T> {
  const st = stateOf(client);
  // A fence is up only while the cancelled call it guards is in flight (it settles past its fence), so a call
  // made then waits its turn too, and leaves it at once if its own ctx ends first.
  if (st.broken === undefined && ctx.err() === undefined && (st.inflight > 0 || st.turns.length > 0)) {
    return nextTurn(ctx, client, o, what, start, st);
  }
  return enter(ctx, client, o, what, start, st);
}

/** enter is guard once it is this call's turn on the client. */
function enter<T>(
  ctx: Context,
  client: pg.ClientBase,
  o: Resolved,
  what: string,
  start: (settle: (outcome: Outcome<T>) => void) => Op,
  st: State,
): Promise<T> {
  if (st.fence !== undefined) return st.fence.then(() => guard(ctx, client, o, what, start));
  if (st.broken !== undefined) return Promise.reject(st.broken);
  const ended = ctx.err();
  if (ended !== undefined) return Promise.reject(ended);
  // Written with callbacks, not async/await: this is the path of every query, and each hop costs.
  st.inflight++;
  // blockOn: while it waits, the caller's task shows as blocked on `pg query` (`pg cursor read`) in the task dump.
  return blockOn(ctx, what, new Promise<T>((resolveOuter, rejectOuter) => {
    // Settle first, then free the client: the caller hears of the outcome before a waiter gets the client.
    const resolve = (v: T): void => {
      resolveOuter(v);
      idle(st);
    };
    const reject = (e: unknown): void => {
      rejectOuter(e);
      idle(st);
    };
    const d = driver(client);
    // A checked-out pg-pool client has no 'error' listener (pg-pool removes it on acquire): a backend killed
    // under us would crash the process. Listen while we hold it; the outcome carries the error anyway.
    d.on("error", ignore);
    let outcome: Outcome<T> | undefined;
    let stopping: Promise<StopRung> | undefined;
    let stop: () => boolean = never;
    const settle = (out: Outcome<T>): void => {
      if (outcome !== undefined) return;
      outcome = out;
      stop();
      d.removeListener("error", ignore);
      if (stopping === undefined) {
        if (out.ok) resolve(out.value);
        // The server-side limit (statement_timeout = what was left + a margin) fired before our own deadline
        // timer ran: the deadline has passed all the same, so report it as the ctx will.
        else if (isCancel(out.error) && ctx.deadline() !== undefined && Date.now() >= ctx.deadline()!) reject(ctx.err() ?? DeadlineExceeded);
        else reject(out.error);
        return;
      }
      const after = (): void => {
        if (out.ok) resolve(out.value); // it finished before the cancel took effect: the server's answer stands
        else if (states.get(client)?.broken !== undefined || isCancel(out.error) || !isDatabaseError(out.error)) reject(ctx.err());
        else reject(out.error);
      };
      void stopping.then(after, after);
    };
    let op: Op;
    try {
      op = start(settle);
    } catch (error) {
      d.removeListener("error", ignore);
      reject(error);
      return;
    }
    // pg can fail an operation inside start (a parameter its Bind cannot serialize): it has settled, and a watch
    // armed now would hold it, parameters and all, until the ctx ends.
    if (outcome !== undefined) return;
    stop = afterFunc(ctx, () => {
      if (outcome === undefined) stopping = stopOp(ctx, client, op, settle, o, what);
    });
  }));
}

/**
 * nextTurn runs a call once the calls before it on the client settled; it rejects with ctx.err() (and gives
 * up its place) if ctx ends while it waits.
 */
function nextTurn<T>(
  ctx: Context,
  client: pg.ClientBase,
  o: Resolved,
  what: string,
  start: (settle: (outcome: Outcome<T>) => void) => Op,
  st: State,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const turn = (): void => {
      stop();
      enter(ctx, client, o, what, start, st).then(resolve, reject);
    };
    st.turns.push(turn);
    const stop = afterFunc(ctx, () => {
      const i = st.turns.indexOf(turn);
      if (i < 0) return;
      st.turns.splice(i, 1);
      tell(o, { stoppedBy: "not-sent", pid: driver(client).processID, ms: 0, cancel: undefined, what });
      reject(ctx.err());
      if (st.inflight === 0) idle(st, false);
    });
  });
}

/** idle records that one call on the client settled (settled = true), and runs what waited for none to be left. */
function idle(st: State, settled = true): void {
  if (settled && --st.inflight > 0) return;
  // The next waiting call goes first (guard counts it in flight at once, unless it ends without sending).
  while (st.inflight === 0 && st.turns.length > 0) st.turns.shift()!();
  if (st.inflight > 0 || st.whenIdle === undefined) return;
  const waiters = st.whenIdle;
  st.whenIdle = undefined;
  for (const f of waiters) f();
}

/**
 * afterCalls runs `f` once no lifeline call on `client` is in flight (each settles only after its fence):
 * at once if none is, else when the last one settles.
 */
export function afterCalls(client: pg.ClientBase, f: () => void): void {
  const st = states.get(client);
  if (st === undefined || (st.inflight === 0 && st.turns.length === 0)) return f();
  (st.whenIdle ??= []).push(f);
}

function ignore(): void {}
function never(): boolean {
  return false;
}

function isDatabaseError(e: unknown): boolean {
  return e instanceof Error && "severity" in e;
}

function isCancel(e: unknown): boolean {
  return (e as { code?: unknown } | null)?.code === "57014";
}

async function stopOp<T>(
  ctx: Context,
  client: pg.ClientBase,
  op: Op,
  settle: (o: Outcome<T>) => void,
  o: Resolved,
  what: string,
): Promise<StopRung> {
  const t0 = performance.now();
  const d = driver(client);
  if (op.unsend()) {
    settle({ ok: false, error: ctx.err() });
    tell(o, { stoppedBy: "not-sent", pid: d.processID, ms: performance.now() - t0, cancel: undefined, what });
    return "not-sent";
  }
  const st = stateOf(client);
  let cancel: CancelOutcome | undefined;
  let rung: StopRung = "cancel";
  const fence = new Promise<void>((resolve) => {
    let rfq = false;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      d.connection.removeListener("readyForQuery", onReady);
      d.connection.removeListener("end", onEnd);
      resolve();
    };
    const check = (): void => {
      if (rfq && cancel === "eof") finish();
    };
    const onReady = (): void => {
      rfq = true;
      check();
    };
    const onEnd = (): void => {
      rung = "destroy";
      finish();
    };
    d.connection.on("readyForQuery", onReady);
    d.connection.on("end", onEnd);
    const timer = setTimeout(() => {
      rung = "destroy";
      destroy(client, "grace", `no ReadyForQuery within the ${o.graceMs} ms grace after the CancelRequest`);
      finish();
    }, o.graceMs);
    void sendCancelRequest(client, o.cancelTimeoutMs).then((c) => {
      cancel = c;
      if (c !== "eof" && !done) {
        // Without EOF nothing proves the signal was dispatched or will not land on a later command.
        rung = "destroy";
        destroy(client, "cancel-failed", `the CancelRequest ended with ${c}`);
        finish();
      } else check();
    });
  });
  st.fence = fence;
  await fence;
  if (st.fence === fence) st.fence = undefined;
  tell(o, { stoppedBy: rung, pid: d.processID, ms: performance.now() - t0, cancel, what });
  return rung;
}

/**
 * tell passes a stop report to the caller's onStop. A hook that throws must not keep the call from settling;
 * its error is reported as an unhandled rejection (as core reports a task failure nobody awaited), not dropped.
 */
export function tell(o: Resolved, report: StopReport): void {
  if (o.onStop === undefined) return;
  try {
    o.onStop(report);
  } catch (error) {
    void Promise.reject(error);
  }
}

/** destroy closes `client`'s socket for good and marks it, so that no call and no pool uses it again. */
export function destroy(client: pg.ClientBase, reason: "grace" | "cancel-failed", detail: string): void {
  const st = stateOf(client);
  if (st.broken !== undefined) return;
  const d = driver(client);
  st.broken = new ClientDestroyedError(d.processID, reason, detail);
  // The socket's end makes pg emit one 'error' on the client (Connection terminated unexpectedly); the
  // call that was running already reports the stop, so that event is expected and dropped.
  d.on("error", () => {});
  d.connection.stream.destroy();
}

/**
 * unhealthy returns why `client` must not go back to a pool, or undefined if it may: it is {@link dead}, or
 * it is inside a transaction (status not `I`).
 */
export function unhealthy(client: pg.ClientBase, error?: unknown): Error | undefined {
  const why = dead(client, error);
  if (why !== undefined) return why;
  const status = driver(client).getTransactionStatus();
  return status !== "I" && status !== null ? new Error(`pg client left with transaction status ${status}`) : undefined;
}

/**
 * dead returns why `client`'s connection cannot be used any more, or undefined: lifeline destroyed it, pg
 * found it dead, or `error` is a FATAL/PANIC ErrorResponse, which ends the session (pg may not have seen
 * the socket close yet). A dead client's socket is closed here, at once: the caller is about to release it
 * with an error, and pg-pool would otherwise end it by writing Terminate to a socket the server closed,
 * whose EPIPE/ECONNRESET it raises as an 'error' event on the pool (a crash where nobody listens).
 */
export function dead(client: pg.ClientBase, error?: unknown): Error | undefined {
  const st = states.get(client);
  if (st?.broken !== undefined) return st.broken;
  const d = driver(client);
  const severity = (error as { severity?: unknown } | null)?.severity;
  let why: Error | undefined;
  if (!d._queryable || d._ending || d._ended) why = new Error("pg client is no longer queryable");
  else if (severity === "FATAL" || severity === "PANIC") why = error as Error;
  if (why !== undefined && !d.connection.stream.destroyed) {
    d.on("error", ignore); // its remaining errors are about this death, which the caller already has
    d.connection.stream.destroy();
  }
  return why;
}

const limited = new WeakSet<object>();

/**
 * localLimit records (set = true) that a statement-local limit was set inside the client's current
 * transaction, or (set = false) takes that record back and returns whether there was one.
 */
export function localLimit(client: pg.ClientBase, set: boolean): boolean {
  if (set) {
    limited.add(client);
    return true;
  }
  return limited.delete(client);
}
