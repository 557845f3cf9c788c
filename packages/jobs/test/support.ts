// Test support: worker processes (fixtures/worker.ts, forked), a Redis connection for checks, a TCP proxy
// that can silence one connection, and waits with deadlines on external state (no sleeps to synchronise).
import { fork, type ChildProcess } from "node:child_process";
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { Queue } from "bullmq";
import type { WorkerConfig } from "./fixtures/worker.js";

export const connection = { host: "127.0.0.1", port: 6379 };

let n = 0;
/** uniqueQueue returns a Queue with a name no other test (or run) uses; obliterate it at the end. */
export function uniqueQueue(tag: string): Queue {
  return new Queue(`lifeline-test-${tag}-${process.pid}-${Date.now().toString(36)}-${n++}`, { connection });
}

/** drop obliterates a test queue and closes it. */
export async function drop(queue: Queue): Promise<void> {
  await queue.obliterate({ force: true });
  await queue.close();
}

export type Message = { t: string; id?: string; [k: string]: unknown };

/** WorkerProcess is a forked fixtures/worker.js with the messages it sent, and waits on them. */
export class WorkerProcess {
  readonly child: ChildProcess;
  readonly messages: Message[] = [];
  readonly #waiters = new Set<() => void>();
  readonly exited: Promise<number | null>;
  constructor(config: WorkerConfig) {
    this.child = fork(new URL("./fixtures/worker.js", import.meta.url), [], {
      env: { ...process.env, LIFELINE_JOBS_WORKER: JSON.stringify(config) },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.child.on("message", (m: Message) => {
      this.messages.push(m);
      for (const w of this.#waiters) w();
    });
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
  }
  get pid(): number {
    return this.child.pid!;
  }
  /** next resolves with the first message (seen or to come) matching `match`, or rejects after `ms`. */
  next(match: (m: Message) => boolean, ms = 10_000, what = "a message"): Promise<Message> {
    const found = this.messages.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const m = this.messages.find(match);
        if (!m) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(m);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`worker ${this.pid}: no ${what} within ${ms} ms; got ${JSON.stringify(this.messages)}`));
      }, ms);
      this.#waiters.add(check);
    });
  }
  ready(): Promise<Message> {
    return this.next((m) => m.t === "ready", 10_000, "ready");
  }
  /** stop asks the worker to shut down (its root ctx ends) and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.send({ cmd: "shutdown" });
    await this.exited;
  }
  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    this.child.kill(signal);
  }
}

/** until polls `probe` (an external state: Redis) until it returns a value other than undefined, or rejects after `ms`. */
export async function until<T>(probe: () => Promise<T | undefined>, ms = 10_000, what = "a state"): Promise<T> {
  const end = Date.now() + ms;
  for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`no ${what} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

/** jobState returns BullMQ's state of a job. */
export async function jobState(queue: Queue, id: string): Promise<string> {
  return queue.getJobState(id);
}

/**
 * Proxy forwards TCP connections to Redis; `silence(localPort)` drops everything Redis sends on the connection
 * whose proxy→Redis socket has that local port (as `CLIENT LIST` shows it): a half-dead link, the push is lost.
 */
export class Proxy {
  readonly server: Server;
  readonly #byUpstreamPort = new Map<number, { silenced: boolean }>();
  readonly #sockets = new Set<Socket>();
  #cut = false;
  constructor() {
    this.server = createServer((down) => {
      const state = { silenced: false };
      const up = createConnection(connection.port, connection.host);
      this.#sockets.add(down).add(up);
      up.on("connect", () => this.#byUpstreamPort.set(up.localPort!, state));
      down.on("data", (d) => {
        if (!this.#cut) up.write(d);
      });
      up.on("data", (d) => {
        if (!state.silenced) down.write(d);
      });
      const close = (): void => {
        down.destroy();
        up.destroy();
      };
      down.on("close", close).on("error", close);
      up.on("close", close).on("error", close);
    });
  }
  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return (this.server.address() as AddressInfo).port;
  }
  silence(upstreamPort: number): boolean {
    const s = this.#byUpstreamPort.get(upstreamPort);
    if (s) s.silenced = true;
    return s !== undefined;
  }
  /** silenceAll drops what Redis sends on every connection made so far (requests still reach Redis). */
  silenceAll(): number {
    for (const s of this.#byUpstreamPort.values()) s.silenced = true;
    return this.#byUpstreamPort.size;
  }
  /** cutAll drops what goes either way on every connection, now and later: Redis is unreachable (a partition). */
  cutAll(): void {
    this.#cut = true;
    this.silenceAll();
  }
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
