import { constants } from "node:os";
import { isContext, withCancelCause, type CancelFunc, type Context } from "@lifeline/core";

/** SignalReceivedError is the cause of a {@link notifyContext} context that a signal ended. */
export class SignalReceivedError extends Error {
  declare readonly name: "SignalReceivedError";
  /** signal is the signal that arrived, e.g. "SIGINT". */
  readonly signal: NodeJS.Signals;
  constructor(signal: NodeJS.Signals) {
    super(`received ${signal}`);
    Object.defineProperty(this, "name", { value: "SignalReceivedError", writable: false, enumerable: false, configurable: true });
    this.signal = signal;
  }
}

/** NotifyOptions configure {@link notifyContext}. */
export interface NotifyOptions {
  /** signals that end the context (default SIGINT and SIGTERM). */
  readonly signals?: readonly NodeJS.Signals[];
  /**
   * exitOnSecond: when one of the signals arrives again after the context ended (the program is draining),
   * exit at once with status 128 + the signal's number, as an impatient operator expects. Default true.
   */
  readonly exitOnSecond?: boolean;
}

function describe(value: unknown): string {
  return typeof value === "string" ? `"${value}"` : `${String(value)} (${typeof value})`;
}

// The signals a process cannot catch: process.on would throw EINVAL (or, for SIGSTOP, never be called).
const UNCATCHABLE = new Set(["SIGKILL", "SIGSTOP"]);

/**
 * notifyContext returns a child of `parent` that ends with Canceled when one of `options.signals` (default
 * SIGINT, SIGTERM) arrives, with a {@link SignalReceivedError} naming the signal as its cause (Go's
 * `signal.NotifyContext`). While it is installed, those signals no longer kill the process: the program
 * drains and exits by itself. Only a second signal — one arriving after an earlier one was caught here — exits
 * hard (see `exitOnSecond`); a first signal never does, even when the context had already ended another way
 * (its parent was cancelled). `String(ctx)` reads `signal.NotifyContext(<parent>, [SIGINT SIGTERM])`.
 *
 * `stop` ends the context and removes the handlers, restoring Node's default behaviour. The caller owns
 * stop: call it when the program is done (`try { … } finally { stop() }`).
 *
 * @throws TypeError if `parent` is not a Context, `signals` is not an array, or a signal name is not one Node
 * knows or one a process cannot catch (SIGKILL, SIGSTOP). On any failure nothing is installed.
 */
export function notifyContext(parent: Context, options: NotifyOptions = {}): [ctx: Context, stop: CancelFunc] {
  if (!isContext(parent)) {
    throw new TypeError(`notifyContext: parent must be a Context, got ${describe(parent)}`);
  }
  const signals = options.signals ?? (["SIGINT", "SIGTERM"] as const);
  if (!Array.isArray(signals)) throw new TypeError(`notifyContext: options.signals must be an array, got ${describe(signals)}`);
  for (const s of signals as unknown[]) {
    if (typeof s !== "string" || !(s in constants.signals)) {
      throw new TypeError(`notifyContext: unknown signal ${describe(s)}`);
    }
    if (UNCATCHABLE.has(s)) throw new TypeError(`notifyContext: ${s} cannot be caught by a process`);
  }
  const exitOnSecond = options.exitOnSecond ?? true;
  const [ctx, cancel] = withCancelCause(parent);
  let caught = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!caught) {
      caught = true;
      cancel(new SignalReceivedError(signal)); // nothing more if the context had ended already
      return;
    }
    if (exitOnSecond) {
      process.stderr.write(`\nreceived ${signal} again while draining: exiting now\n`);
      process.exit(128 + (constants.signals[signal] ?? 0));
    }
  };
  const installed: NodeJS.Signals[] = [];
  const remove = (): void => {
    for (const s of installed) process.removeListener(s, onSignal);
    installed.length = 0;
  };
  try {
    for (const s of signals) {
      process.on(s, onSignal);
      installed.push(s);
    }
  } catch (error) {
    // A signal Node refuses on this platform: leave the process as it was (the failing one included).
    remove();
    for (const s of signals) process.removeListener(s, onSignal);
    cancel();
    throw error;
  }
  const stop = (): void => {
    remove();
    cancel();
  };
  // Printed as Go prints a NotifyContext. The context stays core's own cancel context (so everything core does
  // with its contexts — joining the cancel tree, holding a deadline above it for a blocked wait — works as for
  // any other); only this one instance's toString is its own.
  const name = `signal.NotifyContext(${String(parent)}, [${signals.join(" ")}])`;
  Object.defineProperty(ctx, "toString", { value: () => name, enumerable: false });
  return [ctx, stop];
}
