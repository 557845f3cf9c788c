/**
 * ResponseCompleted is the cause of a request context that ended because its response was fully sent: the
 * normal end of every request (Go cancels the request context when ServeHTTP returns). It is deliberately not
 * an Error: nothing failed. Background work still tied to the request stops here (seed 000).
 */
export const ResponseCompleted: { readonly name: "ResponseCompleted"; readonly message: string } = Object.freeze({
  name: "ResponseCompleted",
  message: "response completed",
});

function named(error: Error, name: string): void {
  Object.defineProperty(error, "name", { value: name, writable: false, enumerable: false, configurable: true });
}

/** ClientDisconnectedError is the cause of a request context whose client went away before the response ended. */
export class ClientDisconnectedError extends Error {
  declare readonly name: "ClientDisconnectedError";
  /** method and url of the request the client left. */
  readonly method: string;
  readonly url: string;
  constructor(method: string, url: string) {
    super(`client disconnected before the response to ${method} ${url} was sent`);
    named(this, "ClientDisconnectedError");
    this.method = method;
    this.url = url;
  }
}

// Error.stackTraceLimit, when this runtime lets us set it (V8's, writable unless someone froze Error).
const limitWritable = Object.getOwnPropertyDescriptor(Error, "stackTraceLimit")?.writable === true;

/**
 * RequestTimeoutError is the cause of a request context whose deadline passed (`err()` is DeadlineExceeded).
 * It has no stack frames (`stack` is its name and message): it is made for every request that has a deadline,
 * when the deadline is set, and a stack would show only lifeline's frames at that moment while costing ~3 µs
 * per request (9% of a small request's CPU, measured).
 */
export class RequestTimeoutError extends Error {
  declare readonly name: "RequestTimeoutError";
  /** timeoutMs is the budget the request had; source says who set it: the route/server, or the caller's header. */
  declare readonly timeoutMs: number;
  declare readonly source: "server" | "header";
  constructor(timeoutMs: number, source: "server" | "header") {
    const message = `request timed out after ${Math.round(timeoutMs)} ms (${source === "header" ? "the caller's budget" : "server timeout"})`;
    const limit = Error.stackTraceLimit;
    if (limitWritable) Error.stackTraceLimit = 0;
    super(message);
    if (limitWritable) Error.stackTraceLimit = limit;
    (this as { timeoutMs: number }).timeoutMs = timeoutMs;
    (this as { source: string }).source = source;
  }
}
// On the prototype, not set per instance (a defineProperty per request).
Object.defineProperty(RequestTimeoutError.prototype, "name", { value: "RequestTimeoutError", writable: false, enumerable: false, configurable: true });

/** ServerShutdownError is the cause of request contexts cancelled because the server shut down past its grace period. */
export class ServerShutdownError extends Error {
  declare readonly name: "ServerShutdownError";
  constructor(graceMs: number) {
    super(`server shut down: the request was still running after the ${graceMs} ms grace period`);
    named(this, "ServerShutdownError");
  }
}

/** BudgetExhaustedError: fetch did not send a request because the ctx's remaining budget was below the minimum. */
export class BudgetExhaustedError extends Error {
  declare readonly name: "BudgetExhaustedError";
  readonly remainingMs: number;
  readonly minimumMs: number;
  constructor(remainingMs: number, minimumMs: number, cause: unknown) {
    super(`not sent: ${Math.floor(remainingMs)} ms left, below the ${minimumMs} ms minimum`, { cause });
    named(this, "BudgetExhaustedError");
    this.remainingMs = remainingMs;
    this.minimumMs = minimumMs;
  }
}
