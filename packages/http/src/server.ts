import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse, Http2Session, IncomingHttpHeaders as H2Headers, ServerHttp2Stream } from "node:http2";
import { constants as h2 } from "node:http2";
import {
  afterFunc,
  background,
  cause,
  DeadlineExceeded,
  isCanceled,
  isDeadlineExceeded,
  sleep,
  withCancel,
  withCancelCause,
  withTimeoutCause,
  type CancelCauseFunc,
  type Context,
} from "@lifeline/core";
import { ClientDisconnectedError, RequestTimeoutError, ResponseCompleted, ServerShutdownError } from "./errors.js";
import { incomingBudget } from "./timeout-header.js";
import { answer } from "./internal/settle.js";

/** HttpContextOptions configure {@link HttpContexts}. */
export interface HttpContextOptions {
  /** parent of the server's root context (default background()): ending it ends every request. */
  readonly parent?: Context;
  /** timeoutMs bounds every request (default: none). Routes may set their own with `begin(…, { timeoutMs })`. */
  readonly timeoutMs?: number;
  /**
   * maxTimeoutMs caps a budget that arrives in a `timeout-ms`/`grpc-timeout` header (default: `timeoutMs`,
   * else 60 000): outside input never buys more time than the server allows.
   */
  readonly maxTimeoutMs?: number;
  /** trustTimeoutHeader: honour an incoming budget header at all (default true). */
  readonly trustTimeoutHeader?: boolean;
  /** marginMs is subtracted from an incoming budget, for the time the answer takes to travel back (default 5). */
  readonly marginMs?: number;
  /** timeoutStatus is sent when a request's deadline passes before anything was sent (default 503). */
  readonly timeoutStatus?: number;
  /**
   * onError hears of handler failures that are server errors (not a client that left, not a timeout).
   * Default: `console.error`. The response gets a 500 if nothing was sent yet, else its connection is reset.
   */
  readonly onError?: (error: unknown, request: { method: string; url: string }) => void;
}

/** RouteOptions override the server's options for one request. */
export interface RouteOptions {
  readonly timeoutMs?: number;
}

/** HttpStats are the server's own counters, for a live panel or metrics. */
export interface HttpStats {
  /** requests counts every request that got a context. */
  requests: number;
  /** inFlight counts requests whose response has not finished or closed (a handler ignoring its ended ctx stays in). */
  inFlight: number;
  /** completed, disconnected, timedOut, shutDown count how requests ended, when their response finished or closed. */
  completed: number;
  disconnected: number;
  timedOut: number;
  shutDown: number;
  /** failed counts handler failures that were server errors (reported through onError). */
  failed: number;
}

/** ShutdownReport says how {@link HttpContexts.shutdown} went. */
export interface ShutdownReport {
  /** graceful is true when every request finished within the grace period. */
  graceful: boolean;
  /** cancelled lists the requests still running at the end of the grace period, whose contexts were cancelled. */
  cancelled: Array<{ method: string; url: string; runningMs: number }>;
}

type Responder = {
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  once(event: "close" | "finish", listener: () => void): unknown;
  removeListener(event: "close" | "finish", listener: () => void): unknown;
};

/** One in-flight request, for the shutdown report: what it is and since when. */
class Flight {
  prev: Flight | null = null;
  next: Flight | null = null;
  ended = false;
  constructor(
    readonly method: string,
    readonly url: string,
    readonly startedAt: number,
  ) {}
}

/** @internal checkContexts throws the adapters' TypeError for a `contexts` argument that is not an HttpContexts. */
export function checkContexts(fn: string, contexts: unknown): asserts contexts is HttpContexts {
  if (!(contexts instanceof HttpContexts)) {
    throw new TypeError(`${fn}: contexts must be an HttpContexts, got ${contexts === null ? "null" : typeof contexts}`);
  }
}

/**
 * checkRoute validates route options where the route is defined (handler(), the adapters), so a typo such as
 * `timeoutMs: "500"` fails at start-up instead of silently meaning "no timeout".
 * @internal
 */
export function checkRoute(fn: string, route: RouteOptions | undefined): void {
  if (route === undefined) return;
  if (typeof route !== "object" || route === null) throw new TypeError(`${fn}: route options must be an object, got ${String(route)}`);
  positive(`${fn}: route.timeoutMs`, route.timeoutMs, Infinity);
}

function positive(name: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || Number.isNaN(v) || v < 0) {
    throw new TypeError(`${name} must be a non-negative number of milliseconds, got ${String(v)}`);
  }
  return v;
}

/**
 * HttpContexts makes a context for every incoming HTTP request, derived from one server root context, and
 * ends it — synchronously, the moment Node tells us — when:
 *  - the client disconnects (seen on the response side: `close` before the response ended, never `req`
 *    `close`, which fires when the body has been read; shared/PITFALLS.md), cause {@link ClientDisconnectedError};
 *  - the response has been fully sent, cause {@link ResponseCompleted} (not an error);
 *  - its deadline passes (server or route timeout, or the caller's `timeout-ms` budget, clamped), err
 *    DeadlineExceeded, cause {@link RequestTimeoutError}, and a 503 if nothing was sent yet;
 *  - the server shuts down past its grace period, cause {@link ServerShutdownError}.
 *
 * Adapters for node:http/https, HTTP/2, Express, Fastify and Hono all use {@link HttpContexts.begin}.
 */
export class HttpContexts {
  /** ctx is the server's root context (Go's BaseContext): parent of every request context. */
  // eslint-disable-next-line lifeline/no-stored-context -- the root lives exactly as long as the server it serves
  readonly ctx: Context;
  /** stats are live counters. */
  readonly stats: HttpStats = { requests: 0, inFlight: 0, completed: 0, disconnected: 0, timedOut: 0, shutDown: 0, failed: 0 };
  readonly #cancelRoot: CancelCauseFunc;
  readonly #timeoutMs: number;
  readonly #maxTimeoutMs: number;
  readonly #trustHeader: boolean;
  readonly #marginMs: number;
  readonly #timeoutStatus: number;
  readonly #onError: (error: unknown, request: { method: string; url: string }) => void;
  #first: Flight | null = null;
  #last: Flight | null = null;
  #drained: (() => void) | undefined = undefined;
  readonly #sessions = new Set<Http2Session>();

  constructor(options: HttpContextOptions = {}) {
    this.#timeoutMs = positive("HttpContexts: timeoutMs", options.timeoutMs, Infinity);
    this.#maxTimeoutMs = positive("HttpContexts: maxTimeoutMs", options.maxTimeoutMs, Number.isFinite(this.#timeoutMs) ? this.#timeoutMs : 60_000);
    this.#trustHeader = options.trustTimeoutHeader ?? true;
    this.#marginMs = positive("HttpContexts: marginMs", options.marginMs, 5);
    this.#timeoutStatus = options.timeoutStatus ?? 503;
    this.#onError = options.onError ?? ((error, r) => console.error(`lifeline/http: ${r.method} ${r.url} failed:`, error));
    // The root last: options that throw must not leave a context linked into the parent that nobody can cancel.
    const [ctx, cancel] = withCancelCause(options.parent ?? background());
    this.ctx = ctx;
    this.#cancelRoot = cancel;
  }

  /**
   * begin makes the context for one request and watches the response to end it. It returns the context;
   * the caller never needs to cancel it (it ends with the response at the latest).
   */
  begin(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, route?: RouteOptions): Context {
    if ("stream" in req && req.stream !== undefined) this.#trackSession(req.stream.session);
    // HTTP/2 forbids connection-specific headers: the compat layer drops them with an UnsupportedWarning.
    const headers = req.httpVersionMajor >= 2 ? { "content-type": "text/plain" } : { "content-type": "text/plain", connection: "close" };
    // Http2ServerResponse emits 'finish' on every stream close, a reset too: check writableEnded on both events.
    return this.#begin(req.headers, req.method ?? "GET", req.url ?? "/", res, route, () => !res.writableEnded, () => {
      const r = res as ServerResponse;
      if (!r.headersSent) r.writeHead(this.#timeoutStatus, headers).end("request timed out\n");
    });
  }

  /** beginStream is {@link begin} for the raw HTTP/2 stream API (`server.on("stream")`): a reset stream is a disconnect. */
  beginStream(stream: ServerHttp2Stream, headers: H2Headers, route?: RouteOptions): Context {
    this.#trackSession(stream.session);
    const method = String(headers[":method"] ?? "GET");
    const url = String(headers[":path"] ?? "/");
    // A reset stream ends its writable side and emits 'finish': only `aborted` tells that the peer left first.
    return this.#begin(headers, method, url, stream, route, () => stream.aborted, () => {
      if (!stream.headersSent && !stream.destroyed) {
        stream.respond({ ":status": this.#timeoutStatus, "content-type": "text/plain" });
        stream.end("request timed out\n");
      }
    });
  }

  /**
   * watch tells this HttpContexts about an HTTP/2 server as soon as it is made, so {@link HttpContexts.shutdown}
   * can close every session, including those that connected but never sent a request (an HTTP/2 server has
   * no closeAllConnections, and such a session would keep `server.close()` waiting forever). Not needed for
   * HTTP/1 servers. Returns the server.
   */
  watch<S extends { on(event: "session", listener: (session: Http2Session) => void): unknown }>(server: S): S {
    server.on("session", (session: Http2Session) => this.#trackSession(session));
    return server;
  }

  #trackSession(session: Http2Session | undefined): void {
    if (session === undefined || this.#sessions.has(session)) return;
    this.#sessions.add(session);
    session.once("close", () => this.#sessions.delete(session));
  }

  #begin(
    headers: IncomingHttpHeaders | H2Headers,
    method: string,
    url: string,
    res: Responder,
    route: RouteOptions | undefined,
    left: () => boolean,
    answerTimeout: () => void,
  ): Context {
    this.stats.requests++;
    this.stats.inFlight++;
    const [base, end] = withCancelCause(this.ctx);
    let ctx = base;
    let timeout = route?.timeoutMs ?? this.#timeoutMs;
    let source: "server" | "header" = "server";
    if (this.#trustHeader) {
      const budget = incomingBudget(headers as Record<string, string | string[] | undefined>);
      if (budget !== undefined) {
        // The caller's budget only ever shortens the server's own timeout; with none, it is capped at maxTimeoutMs.
        const allowed = Math.min(budget, Number.isFinite(timeout) ? Infinity : this.#maxTimeoutMs) - this.#marginMs;
        if (allowed < timeout) {
          timeout = allowed;
          source = "header";
        }
      }
    }
    let stopTimer: (() => unknown) | undefined;
    let stopAnswer: (() => unknown) | undefined;
    if (Number.isFinite(timeout)) {
      [ctx, stopTimer] = withTimeoutCause(base, timeout, new RequestTimeoutError(Math.max(0, timeout), source));
      stopAnswer = afterFunc(ctx, () => {
        if (ctx.err() === DeadlineExceeded && !res.writableEnded) answerTimeout();
      });
    }
    const flight = new Flight(method, url, Date.now());
    this.#link(flight);

    const finish = (why: unknown): void => {
      if (flight.ended) return;
      flight.ended = true;
      res.removeListener("close", onEnd);
      res.removeListener("finish", onEnd);
      if (ctx.err() === undefined) stopAnswer?.();
      // Always, even when the deadline already ended ctx: until base ends it stays linked in the root's
      // children (a timed-out request would leak one context). It does not change ctx's cause.
      end(why);
      stopTimer?.();
      this.#settle(ctx, flight);
    };
    // 'finish' or 'close', whichever comes first; left() tells a client that went away from a response that ended.
    const onEnd = (): void => finish(left() ? new ClientDisconnectedError(method, url) : ResponseCompleted);
    res.once("finish", onEnd);
    res.once("close", onEnd);
    return ctx;
  }

  #settle(ctx: Context, flight: Flight): void {
    const why = cause(ctx);
    if (why === ResponseCompleted) this.stats.completed++;
    else if (why instanceof ClientDisconnectedError) this.stats.disconnected++;
    else if (why instanceof ServerShutdownError) this.stats.shutDown++;
    else if (ctx.err() === DeadlineExceeded) this.stats.timedOut++;
    this.stats.inFlight--;
    this.#unlink(flight);
  }

  #link(f: Flight): void {
    f.prev = this.#last;
    if (this.#last === null) this.#first = f;
    else this.#last.next = f;
    this.#last = f;
  }

  #unlink(f: Flight): void {
    if (f.prev === null) this.#first = f.next;
    else f.prev.next = f.next;
    if (f.next === null) this.#last = f.prev;
    else f.next.prev = f.prev;
    f.prev = f.next = null;
    if (this.#first === null) this.#drained?.();
  }

  /**
   * failed handles a handler's failure. A client that left, a passed deadline or a shutdown is counted, not
   * logged (the context already says why); anything else is a server error, reported once through onError.
   * It returns `{ reported, status }`: whether it was reported, and the status to answer with while nothing
   * has been sent (500 for a server error, `timeoutStatus` for a passed deadline, else 503). Given `res`, it
   * answers: that status if nothing was sent, else a reset (a partial response cannot be completed honestly);
   * nothing if the response is closed. Without `res`, a framework adapter answers in the framework's own way.
   */
  failed(
    ctx: Context,
    error: unknown,
    request: { method: string; url: string },
    res?: ServerResponse | Http2ServerResponse,
  ): { reported: boolean; status: number } {
    const why = cause(ctx);
    const ended = (ctx.err() !== undefined && (isCanceled(error) || isDeadlineExceeded(error) || error === why)) || why instanceof ClientDisconnectedError;
    const verdict = ended
      ? { reported: false, status: ctx.err() === DeadlineExceeded ? this.#timeoutStatus : 503 }
      : { reported: true, status: 500 };
    if (verdict.reported) {
      this.stats.failed++;
      this.#onError(error, request);
    }
    if (res !== undefined) answer(res, verdict.status);
    return verdict;
  }

  /**
   * handler wraps `fn(ctx, req, res)` as a node:http / node:https / HTTP/2-compat request listener. fn may
   * return a promise; a rejection is handled as {@link HttpContexts.failed} describes. The context is NOT
   * ended when fn returns (a stream or SSE may go on): it ends when the response does.
   */
  handler<Req extends IncomingMessage | Http2ServerRequest, Res extends ServerResponse | Http2ServerResponse>(
    fn: (ctx: Context, req: Req, res: Res) => unknown,
    route?: RouteOptions,
  ): (req: Req, res: Res) => void {
    if (typeof fn !== "function") throw new TypeError(`HttpContexts.handler: fn must be a function, got ${typeof fn}`);
    checkRoute("HttpContexts.handler", route);
    return (req, res) => {
      const ctx = this.begin(req, res, route);
      const request = { method: req.method ?? "GET", url: req.url ?? "/" };
      try {
        const result = fn(ctx, req, res) as PromiseLike<unknown> | undefined;
        if (typeof result?.then === "function") result.then(undefined, (error: unknown) => this.failed(ctx, error, request, res));
      } catch (error) {
        this.failed(ctx, error, request, res);
      }
    };
  }

  /**
   * shutdown stops the server gracefully: it stops accepting connections and closes idle keep-alive ones
   * (HTTP/2 sessions get a GOAWAY), lets in-flight requests finish for up to `graceMs`, then cancels the
   * contexts of those still running with {@link ServerShutdownError} and closes every connection. It
   * resolves, once the server has closed, with what was still running.
   */
  async shutdown(
    server: { close(cb?: (err?: Error) => void): unknown; closeIdleConnections?: () => void; closeAllConnections?: () => void },
    graceMs: number,
  ): Promise<ShutdownReport> {
    if (typeof graceMs !== "number" || Number.isNaN(graceMs) || graceMs < 0) {
      throw new TypeError(`HttpContexts.shutdown: graceMs must be a non-negative number, got ${String(graceMs)}`);
    }
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections?.();
    for (const s of this.#sessions) s.close(); // GOAWAY: no new streams, in-flight ones continue
    const report: ShutdownReport = { graceful: true, cancelled: [] };
    if (this.#first !== null) {
      // core's sleep, not setTimeout: a grace beyond 2^31−1 ms (or Infinity) must not fire after 1 ms.
      const [graceCtx, stopGrace] = withCancel(background());
      await Promise.race([new Promise<void>((resolve) => (this.#drained = resolve)), sleep(graceCtx, graceMs).catch(() => {})]);
      stopGrace();
      this.#drained = undefined;
    }
    if (this.#first !== null) {
      report.graceful = false;
      const now = Date.now();
      for (let f: Flight | null = this.#first; f !== null; f = f.next) report.cancelled.push({ method: f.method, url: f.url, runningMs: now - f.startedAt });
    }
    this.#cancelRoot(new ServerShutdownError(graceMs));
    server.closeAllConnections?.();
    for (const s of this.#sessions) s.destroy(undefined, h2.NGHTTP2_CANCEL);
    await closed;
    return report;
  }
}
