// Test support for the server-side suites: deferreds, real clients (node:http, node:https, node:http2), TLS
// material, and small waits. No mocks: every exchange goes over a real socket on 127.0.0.1.
import { readFileSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { connect as h2connect, constants as h2, type ClientHttp2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import type { Readable } from "node:stream";
import { background, type Context } from "@lifeline/core";

/** TLS is the test-only key and self-signed certificate in test/fixtures (see its README). */
export const TLS = {
  key: readFileSync(new URL("../test/fixtures/key.pem", import.meta.url)),
  cert: readFileSync(new URL("../test/fixtures/cert.pem", import.meta.url)),
};

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** deferred returns a promise with its resolve and reject. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** delay resolves after ms: only to assert that something has NOT happened yet, never to synchronise. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** ended resolves when ctx has ended (the test's own timeout bounds it). */
export async function ended(ctx: Context): Promise<void> {
  await ctx.done().recv(background());
}

/**
 * alive awaits p while keeping the event loop alive: a keep-alive agent unrefs its idle sockets, and core's
 * deadline timers are unref'd, so an await that only they can end would otherwise let node:test exit.
 */
export async function alive<T>(p: Promise<T>): Promise<T> {
  const keeper = setInterval(() => {}, 1000);
  try {
    return await p;
  } finally {
    clearInterval(keeper);
  }
}

/** text reads a readable to its end as UTF-8. */
export async function text(stream: Readable): Promise<string> {
  let s = "";
  stream.setEncoding("utf8");
  for await (const chunk of stream) s += chunk as string;
  return s;
}

/** listen starts a server on 127.0.0.1 at a free port and returns the port. */
export async function listen(server: { listen(port: number, host: string, cb: () => void): unknown; address(): unknown }): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/** Protocol is how a client talks to a server: HTTP/1.1 over TCP or TLS, or HTTP/2 cleartext. */
export type Protocol = "http" | "https" | "h2";

export interface Head {
  status: number;
  headers: IncomingHttpHeaders;
}

/** Call is one request in flight. */
export interface Call {
  /** head resolves when the response headers arrive. */
  readonly head: Promise<Head>;
  /** done resolves with the status and the whole body; it rejects if the exchange broke. */
  readonly done: Promise<Head & { body: string }>;
  /** until resolves once the body received so far contains `s`. */
  until(s: string): Promise<void>;
  /** abort leaves: HTTP/1 destroys the socket, HTTP/2 resets the stream with NGHTTP2_CANCEL. */
  abort(): void;
  /** connection is the socket (HTTP/1) or session (HTTP/2) that carried the request, once it has one. */
  connection(): unknown;
}

export interface RequestOptions {
  method?: string;
  path: string;
  headers?: Record<string, string | string[]>;
  body?: string;
}

/** Client sends requests over one connection (one keep-alive socket, or one HTTP/2 session). */
export interface Client {
  request(o: RequestOptions): Call;
  /** closed resolves when the server closes the client's connection (it keeps the event loop alive meanwhile). */
  readonly closed: Promise<void>;
  close(): void;
}

function collector(): { push(chunk: string): void; until(s: string): Promise<void>; body(): string } {
  let body = "";
  const waiters: Array<{ s: string; resolve: () => void }> = [];
  return {
    push(chunk) {
      body += chunk;
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (body.includes(waiters[i]!.s)) waiters.splice(i, 1)[0]!.resolve();
      }
    },
    until(s) {
      if (body.includes(s)) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ s, resolve }));
    },
    body: () => body,
  };
}

/** client connects to 127.0.0.1:port with `protocol`; each client keeps one connection. */
export function client(protocol: Protocol, port: number): Client {
  return protocol === "h2" ? h2Client(port) : h1Client(protocol, port);
}

function h1Client(protocol: "http" | "https", port: number): Client {
  const agent =
    protocol === "https"
      ? new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: TLS.cert })
      : new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const closed = deferred();
  const sockets = new WeakSet<object>();
  const send = protocol === "https" ? httpsRequest : httpRequest;
  return {
    get closed() {
      return alive(closed.promise);
    },
    request(o) {
      const head = deferred<Head>();
      const done = deferred<Head & { body: string }>();
      const got = collector();
      let socket: unknown;
      const req = send({ agent, host: "127.0.0.1", port, method: o.method ?? "GET", path: o.path, headers: o.headers });
      req.on("socket", (s) => {
        socket = s;
        if (!sockets.has(s)) s.once("close", () => closed.resolve());
        sockets.add(s);
      });
      req.on("response", (res: IncomingMessage) => {
        const h = { status: res.statusCode ?? 0, headers: res.headers };
        head.resolve(h);
        res.setEncoding("utf8");
        res.on("data", (c: string) => got.push(c));
        res.on("end", () => done.resolve({ ...h, body: got.body() }));
        res.on("error", done.reject);
        res.on("aborted", () => done.reject(new Error("response aborted")));
      });
      req.on("error", (e) => {
        head.reject(e);
        done.reject(e);
      });
      req.end(o.body);
      head.promise.catch(() => {});
      done.promise.catch(() => {});
      return { head: head.promise, done: done.promise, until: got.until, abort: () => req.destroy(), connection: () => socket };
    },
    close: () => agent.destroy(),
  };
}

function h2Client(port: number): Client {
  const session: ClientHttp2Session = h2connect(`http://127.0.0.1:${port}`);
  session.on("error", () => {}); // a reset session fails its streams; they report it
  const closed = deferred();
  session.once("close", () => closed.resolve());
  return {
    get closed() {
      return alive(closed.promise);
    },
    request(o) {
      const head = deferred<Head>();
      const done = deferred<Head & { body: string }>();
      const got = collector();
      const stream = session.request({ ":method": o.method ?? "GET", ":path": o.path, ...o.headers });
      let h: Head | undefined;
      stream.on("response", (headers) => {
        h = { status: Number(headers[":status"]), headers: headers as IncomingHttpHeaders };
        head.resolve(h);
      });
      stream.setEncoding("utf8");
      stream.on("data", (c: string) => got.push(c));
      let endSeen = false;
      stream.on("end", () => (endSeen = true));
      stream.on("error", (e) => {
        head.reject(e);
        done.reject(e);
      });
      // A reset stream may still emit 'end': only its close code tells a complete response from a cut one.
      stream.on("close", () => {
        const code = stream.rstCode ?? h2.NGHTTP2_NO_ERROR;
        if (code === h2.NGHTTP2_NO_ERROR && endSeen && h !== undefined) return done.resolve({ ...h, body: got.body() });
        const e = new Error(`stream closed before the response ended (code ${code})`);
        head.reject(e);
        done.reject(e);
      });
      stream.end(o.body);
      head.promise.catch(() => {});
      done.promise.catch(() => {});
      return {
        head: head.promise,
        done: done.promise,
        until: got.until,
        abort: () => stream.close(h2.NGHTTP2_CANCEL),
        connection: () => session,
      };
    },
    close: () => session.destroy(),
  };
}
