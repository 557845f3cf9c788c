function named(error: Error, name: string): void {
  Object.defineProperty(error, "name", { value: name, writable: false, enumerable: false, configurable: true });
}

/**
 * ClientDestroyedError is the error of a call on a client whose connection lifeline destroyed: a query on it
 * was cancelled but the server did not answer (ReadyForQuery) within the grace, or the CancelRequest could
 * not be delivered, so nothing could prove the connection safe to reuse. Such a client is never returned
 * to a pool (release evicts it).
 */
export class ClientDestroyedError extends Error {
  declare readonly name: "ClientDestroyedError";
  /** pid is the backend process id the client was connected to. */
  readonly pid: number | null;
  /** reason says which rung destroyed it: `grace` (no ReadyForQuery in time) or `cancel-failed`. */
  readonly reason: "grace" | "cancel-failed";
  constructor(pid: number | null, reason: "grace" | "cancel-failed", detail: string) {
    super(`pg client (backend ${pid ?? "?"}) was destroyed after a cancel: ${detail}`);
    named(this, "ClientDestroyedError");
    this.pid = pid;
    this.reason = reason;
  }
}
