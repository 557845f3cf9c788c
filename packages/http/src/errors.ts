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

/** RequestTimeoutError is the cause of a request context whose deadline passed (`err()` is DeadlineExceeded). */
export class RequestTimeoutError extends Error {
  declare readonly name: "RequestTimeoutError";
  /** timeoutMs is the budget the request had; source says who set it: the route/server, or the caller's header. */
  readonly timeoutMs: number;
  readonly source: "server" | "header";
  constructor(timeoutMs: number, source: "server" | "header") {
    super(`request timed out after ${Math.round(timeoutMs)} ms (${source === "header" ? "the caller's budget" : "server timeout"})`);
    named(this, "RequestTimeoutError");
    this.timeoutMs = timeoutMs;
    this.source = source;
  }
}

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
