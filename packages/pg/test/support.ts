import net from "node:net";
import pg from "pg";

/** The local PostgreSQL the tests run against (scripts/start-services.sh starts it). */
export const DB = { host: "127.0.0.1", port: 5432, user: "postgres", database: "test" } as const;

let serial = 0;

/** appName returns an application_name unique to this process and call, so tests see only their own backends. */
export function appName(tag: string): string {
  return `lltest-${tag}-${process.pid}-${++serial}`;
}

/** newPool returns a pool whose idle-client errors are collected (pg-pool raises them as 'error' events). */
export function newPool(tag: string, options: pg.PoolConfig = {}): { pool: pg.Pool; name: string; errors: Error[] } {
  const name = appName(tag);
  const pool = new pg.Pool({ ...DB, application_name: name, max: 2, ...options });
  const errors: Error[] = [];
  pool.on("error", (e) => errors.push(e));
  return { pool, name, errors };
}

/** admin is a separate pool to look at pg_stat_activity and to inject faults. */
export const admin = new pg.Pool({ ...DB, application_name: "lltest-admin", max: 2 });
admin.on("error", () => {});

/** backendState returns a backend's pg_stat_activity state (undefined when the process is gone) and query. */
export async function backend(pid: number): Promise<{ state: string | null; query: string } | undefined> {
  const { rows } = await admin.query<{ state: string | null; query: string }>("select state, query from pg_stat_activity where pid = $1", [pid]);
  return rows[0];
}

/** waitFor polls `probe` every 5 ms until it returns a value other than undefined, or fails after `limitMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, limitMs = 10_000): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** activePid waits until some backend of `name` runs a statement containing `needle`, and returns its pid. */
export function activePid(name: string, needle: string): Promise<number> {
  return waitFor(`a backend of ${name} active on ${needle}`, async () => {
    const { rows } = await admin.query<{ pid: number }>(
      "select pid from pg_stat_activity where application_name = $1 and state = 'active' and strpos(query, $2) > 0",
      [name, needle],
    );
    return rows[0]?.pid;
  });
}

/** notActive waits until backend `pid` is no longer running a statement (idle, or gone). */
export function notActive(pid: number, limitMs = 10_000): Promise<string> {
  return waitFor(
    `backend ${pid} to leave state active`,
    async () => {
      const b = await backend(pid);
      if (b === undefined) return "gone";
      return b.state === "active" ? undefined : (b.state ?? "null");
    },
    limitMs,
  );
}

/** appBackends counts the server processes of an application_name. */
export async function appBackends(name: string): Promise<number> {
  const { rows } = await admin.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where application_name = $1", [name]);
  return rows[0]!.n;
}

/** Proxy is a TCP relay in front of PostgreSQL whose connections a test can cut. */
export interface Proxy {
  port: number;
  cut(): void;
  close(): Promise<void>;
}

export async function proxy(): Promise<Proxy> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(DB.port, DB.host);
    const pair: [net.Socket, net.Socket] = [inbound, outbound];
    pairs.add(pair);
    inbound.pipe(outbound).pipe(inbound);
    const drop = (): void => {
      inbound.destroy();
      outbound.destroy();
      pairs.delete(pair);
    };
    inbound.on("error", drop).on("close", drop);
    outbound.on("error", drop).on("close", drop);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
    },
    close(): Promise<void> {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
