// The sentences the rules enforce, quoted from the seeds (shared/seeds/*.txt) and shared/PITFALLS.md. Each rule's
// message ends with its sentence, so a finding says which discipline it checks.

/** Seed 002: lost-cancel. */
export const SEED_LOST_CANCEL = "The compiler won't warn you about missing cancels. You have to be disciplined.";
/** Seed 000: context-first. */
export const SEED_CONTEXT_FIRST = "context.Context is always the first parameter of a function, conventionally named ctx.";
/** Seed 002: no-stored-context. */
export const SEED_NO_STORED_CONTEXT = "Storing context in a struct couples the struct to a specific request lifecycle.";
/** Seeds 000–003: forward-context. */
export const SEED_FORWARD_CONTEXT = "Context is plumbing. Run it through every long-lived call site.";
/** Seed 000: forward-context, for timer waits. */
export const SEED_FORWARD_SLEEP =
  "If the worker calls time.Sleep or a blocking I/O without a context, it ignores the abort signal.";
/** Seed 002: no-background-in-request. */
export const SEED_NO_BACKGROUND =
  "Use context.Background() only at the entry point of your program or top-level goroutines.";
/** Seed 001 and shared/PITFALLS.md: no-race-with-done. */
export const SEED_NO_RACE = "Use select with ctx.Done() whenever you block.";
/** Seed 001: value-key. */
export const SEED_VALUE_KEY = "Never use string or int keys for context values. They collide too easily.";
/** forward-signal: the same discipline in the platform's terms, for code that does not use lifeline. */
export const SEED_FORWARD_SIGNAL = "A signal that is received and not passed on cancels nothing.";
/** no-stored-signal. */
export const SEED_NO_STORED_SIGNAL = "A signal belongs to one operation; an object that outlives it must not keep it.";
/** no-signal-any-in-loop. */
export const SEED_SIGNAL_ANY = "Every AbortSignal.any() registers on each source until the source is collected or aborts.";
/** no-race-with-done, for code that does not use lifeline. */
export const SEED_NO_RACE_PLATFORM = "A promise that outlives the loop keeps every reaction raced against it.";
/** Seed 001: no-await-case. */
export const SEED_NO_AWAIT_CASE = "If you must block on a channel, wrap it in a select.";
