import { frames } from "./leak-check.js";
import { beginListeners, endListeners, type Entry } from "./tracker.js";

/** LostCancel describes a cancellable context that was garbage-collected without being cancelled or ending. */
export interface LostCancel {
  /** what is the context's chain, as String(ctx) printed it when it was made. */
  readonly what: string;
  /** stack is where it was made (lifeline's frames removed; "" when stack capture was off). */
  readonly stack: string;
  /** createdAt is when it was made (epoch ms). */
  readonly createdAt: number;
  /** test is the name of the test that made it, when it was made inside a TestScope. */
  readonly test: string | undefined;
}

/** LostCancelHandler hears of each lost cancel, from a finalizer (so at some point after the garbage collection). */
export type LostCancelHandler = (lost: LostCancel) => void;

const handlers = new Set<LostCancelHandler>();
const registry = new FinalizationRegistry<Entry>(collected);

function collected(e: Entry): void {
  if (e.ended) return;
  const lost: LostCancel = { what: e.what, stack: e.stack, createdAt: e.createdAt, test: e.scope?.name };
  for (const h of handlers) {
    try {
      h(lost);
    } catch (error) {
      // A finalizer has no caller to throw to: surface the handler's failure as Node surfaces any.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}

beginListeners.push((entry, subject) => {
  if (entry.kind === "context" && handlers.size > 0) registry.register(subject, entry, entry);
});
endListeners.push((_subject, entry) => {
  if (entry !== undefined && entry.kind === "context") registry.unregister(entry);
});

/** warn is the default handler: a process warning naming the context and where it was made. */
function warn(lost: LostCancel): void {
  const test = lost.test === undefined ? "" : ` (in test "${lost.test}")`;
  process.emitWarning(
    `lifeline: ${lost.what} was garbage-collected without being cancelled${test}: ` +
      `call its cancel function as soon as the work it was made for is done (in a finally)${frames(lost.stack, "created")}`,
    { type: "LostCancelWarning", code: "LIFELINE_LOST_CANCEL" },
  );
}

/**
 * detectLostCancel turns on the runtime twin of `go vet`'s lostcancel check: every cancellable context made
 * from now on (withCancel, withTimeout, withDeadline, withSignal and their *Cause forms) that is
 * garbage-collected without its cancel function having been called, and without having ended otherwise, is
 * reported to `onLost`, by default as a process warning (`LostCancelWarning`, code `LIFELINE_LOST_CANCEL`)
 * naming the context and its creation site. Returns a function that stops this handler.
 *
 * It is a debug tool: reports come whenever the collector runs (maybe never, in a short program), and each
 * context made while it is on costs a finalizer registration. Contexts made before the call are not watched.
 */
export function detectLostCancel(onLost: LostCancelHandler = warn): () => void {
  if (typeof onLost !== "function") throw new TypeError(`detectLostCancel: onLost must be a function, got ${typeof onLost}`);
  // Each call registers its own wrapper, so each stop removes exactly its own registration.
  const h: LostCancelHandler = (lost) => onLost(lost);
  handlers.add(h);
  return () => {
    handlers.delete(h);
  };
}
