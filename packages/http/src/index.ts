// @lifeline/http: request contexts that end when the client leaves, graceful shutdown, fetch with deadlines.
export {
  HttpContexts,
  type HttpContextOptions,
  type RouteOptions,
  type HttpStats,
  type ShutdownReport,
} from "./server.js";
export {
  ResponseCompleted,
  ClientDisconnectedError,
  RequestTimeoutError,
  ServerShutdownError,
  BudgetExhaustedError,
} from "./errors.js";
export { TIMEOUT_HEADER, incomingBudget, parseTimeoutMs, parseGrpcTimeout, formatTimeoutMs } from "./timeout-header.js";
export { fetch, type FetchInit } from "./fetch.js";
