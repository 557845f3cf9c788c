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

/**
 * notifyContext returns a child of `parent` that ends with Canceled when one of `options.signals` (default
 * SIGINT, SIGTERM) arrives, with a {@link SignalReceivedError} naming the signal as its cause (Go's
 * `signal.NotifyContext`). While it is installed, those signals no longer kill the process: the program
 * drains and exits by itself. A second signal during the drain exits hard (see `exitOnSecond`).
 *
 * `stop` ends the context and removes the handlers, restoring Node's default behaviour. The caller owns
 * stop: call it when the program is done (`try { … } finally { stop() }`).
 *
 * @throws TypeError if a signal name is not one Node knows.
 */
export function notifyContext(parent: Context, options: NotifyOptions = {}): [ctx: Context, stop: CancelFunc] {
  if (!isContext(parent)) {
    throw new TypeError(`notifyContext: parent must be a Context, got ${describe(parent)}`);
  }
  const signals = options.signals ?? (["SIGINT", "SIGTERM"] as const);
  for (const s of signals) {
    if (typeof s !== "string" || !(s in constants.signals)) {
      throw new TypeError(`notifyContext: unknown signal ${describe(s)}`);
    }
  }
  const exitOnSecond = options.exitOnSecond ?? true;
  const [ctx, cancel] = withCancelCause(parent);
  const onSignal = (signal: NodeJS.Signals): void => {
    if (ctx.err() === undefined) {
      cancel(new SignalReceivedError(signal));
      return;
    }
    if (exitOnSecond) {
      process.stderr.write(`\nreceived ${signal} again while draining: exiting now\n`);
      process.exit(128 + (constants.signals[signal] ?? 0));
    }
  };
  for (const s of signals) process.on(s, onSignal);
  const stop = (): void => {
    for (const s of signals) process.removeListener(s, onSignal);
    cancel();
  };
  return [ctx, stop];
}
