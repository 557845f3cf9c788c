// @lifeline/pg: node-postgres queries that stop on the server when the context ends; a pool never poisoned.
export { query, type Queryable } from "./query.js";
export { connect } from "./connect.js";
export { withTx } from "./tx.js";
export { cursor, type CursorOptions } from "./cursor.js";
export { backends, type Backend, type BackendsOptions } from "./backends.js";
export { sendCancelRequest, type CancelOutcome } from "./cancel-request.js";
export { ClientDestroyedError } from "./errors.js";
export type { QueryOptions, StopReport, StopRung } from "./options.js";
