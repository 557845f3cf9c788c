import type { Socket } from "node:net";
import type pg from "pg";

// What lifeline reads of node-postgres's objects beyond @types/pg. Every field here exists in pg 8.11–8.23
// (packages/pg/lib/client.js, packages/pg-pool/index.js); the names starting with `_` are pg's own private
// state, read (never replaced) because pg offers no public way to tell an unsent query from a running one
// or to take a waiter out of the pool's queue (brianc/node-postgres#2774).

/** Driver is a pg.Client as lifeline sees it. */
export interface Driver {
  readonly processID: number | null;
  readonly secretKey: number | Uint8Array | null;
  readonly host: string;
  readonly port: number;
  readonly ssl: boolean | object;
  readonly connection: { readonly stream: Socket; on(e: string, f: (...a: unknown[]) => void): void; removeListener(e: string, f: (...a: unknown[]) => void): void };
  readonly _queryQueue: unknown[];
  readonly _queryable: boolean;
  readonly _ending: boolean;
  readonly _ended: boolean;
  readonly _connected: boolean;
  query(q: unknown): unknown;
  getTransactionStatus(): string | null;
  on(e: "error", f: (err: Error) => void): void;
  removeListener(e: "error", f: (err: Error) => void): void;
}

/** PoolView is a pg.Pool as lifeline sees it. */
export interface PoolView {
  readonly _pendingQueue?: { callback: unknown }[];
  readonly options: { application_name?: string };
  connect(cb: (err: Error | undefined, client: pg.PoolClient | undefined, release: (err?: Error | boolean) => void) => void): void;
}

/** isPool tells a pg.Pool (pg-pool) from a client: a pool has connect and totalCount but no getTransactionStatus. */
export function isPool(x: unknown): x is pg.Pool {
  const p = x as { connect?: unknown; totalCount?: unknown; getTransactionStatus?: unknown } | null;
  return typeof p === "object" && p !== null && typeof p.connect === "function" && typeof p.totalCount === "number" && p.getTransactionStatus === undefined;
}

/** isClient tells a pg.Client (or a pooled one): it has query, getTransactionStatus and a connection. */
export function isClient(x: unknown): x is pg.ClientBase {
  const c = x as { query?: unknown; getTransactionStatus?: unknown; connection?: unknown } | null;
  return typeof c === "object" && c !== null && typeof c.query === "function" && typeof c.getTransactionStatus === "function" && typeof c.connection === "object";
}

/** driver views a client as lifeline reads it. */
export function driver(client: pg.ClientBase): Driver {
  return client as unknown as Driver;
}

/** describe renders a bad argument for an error message: `NaN` (number), `"x"` (string), an instance of Foo. */
export function describe(value: unknown): string {
  if (typeof value === "function") return "a function";
  if (typeof value === "object" && value !== null) {
    if (Array.isArray(value)) return "an array";
    return `an instance of ${(value as { constructor?: { name?: string } }).constructor?.name || "Object"}`;
  }
  const shown = typeof value === "string" ? JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value) : String(value);
  return `\`${shown}\` (${value === null ? "null" : typeof value})`;
}
