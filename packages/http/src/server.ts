import { Server as HttpServer, IncomingMessage, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import { Server as HttpsServer } from "node:https";
import type { Http2ServerRequest, Http2ServerResponse, Http2Session, IncomingHttpHeaders as H2Headers, ServerHttp2Stream } from "node:http2";
import { constants as h2 } from "node:http2";
import type { Socket } from "node:net";
import {
  afterFunc,
  background,
  cause,
  DeadlineExceeded,
  errorIs,
  sleep,
  withCancel,
  withCancelCause,
  withTimeoutCause,
  type CancelCauseFunc,
  type Context,
} from "@lifeline/core";
import { ClientDisconnectedError, RequestTimeoutError, ResponseCompleted, ServerShutdownError } from "./errors.js";
import { incomingBudget, rawBudget } from "./timeout-header.js";
import { answer } from "./internal/settle.js";
import { coarseNow } from "./internal/coarse-clock.js";

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
  /**
   * graceful is true when every request finished, and every upgraded connection closed, within the grace period
   * (and nothing was left open).
   */
  graceful: boolean;
  /**
   * cancelled lists the requests still running at the end of the grace period, whose contexts were cancelled,
   * with how long each had run: to about 10 ms (more if the event loop was blocked when it began), since the start
   * is read from a clock that ticks every 10 ms while requests arrive.
   */
  cancelled: Array<{ method: string; url: string; runningMs: number }>;
  /**
   * upgraded counts the upgraded connections (a 101 answer such as a WebSocket, or a CONNECT tunnel) still open
   * at the end of the grace period, which shutdown destroyed. It sees those of servers it watches: every server
   * passed to {@link HttpContexts.watch}, and, from its first request on, any server a request came through.
   */
  upgraded: number;
  /**
   * leftOpen counts the connections the server still had when shutdown gave up waiting for it to close (one
   * second after the grace period): connections shutdown could not see, such as one upgraded before the server
   * was watched. 0 when the server closed.
   */
  leftOpen: number;
}

/** CLOSE_BOUND_MS bounds the wait for the server to close once every connection shutdown knows of is destroyed. */
const CLOSE_BOUND_MS = 1000;

type Responder = {
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  readonly writableFinished: boolean;
  on(event: "close", listener: () => void): unknown;
};

/** How a response tells that it was fully sent: HTTP/1, HTTP/2 compat, raw HTTP/2 stream. */
const H1 = 0;
const COMPAT = 1;
const STREAM = 2;
type Kind = typeof H1 | typeof COMPAT | typeof STREAM;

/**
 * One in-flight request: what it is and since when (for the shutdown report), and everything needed to end its
 * context when its response closes. One object per request holds it all, with the one function Node's 'close'
 * event needs (`onClose`, capturing only the flight); what only a deadline needs is set only with a deadline.
 */
class Flight {
  prev: Flight | null = null;
  next: Flight | null = null;
  ended = false;
  stopTimer: (() => unknown) | undefined = undefined;
  stopAnswer: (() => unknown) | undefined = undefined;
  /** queuedOn is the connection a pipelined request waits on (its response has no socket yet). */
  queuedOn: Socket | null = null;
  /** onClose ends the request's context: the listener on the response's 'close' (and a queued request's connection's). */
  readonly onClose = (): void => finishFlight(this);
  constructor(
    // eslint-disable-next-line lifeline/no-stored-context -- the flight lives exactly as long as its request
    public ctx: Context,
    readonly owner: HttpContexts,
    readonly end: CancelCauseFunc,
    readonly method: string,
    readonly url: string,
    readonly startedAt: number,
    readonly kind: Kind,
    readonly res: Responder,
    readonly socket: Socket | null,
    readonly stream: ServerHttp2Stream | null,
  ) {}
}

let finishFlight: (f: Flight) => void;

/** Answer is an adapter's way to answer a passed deadline: `answer(status, target)`, target given to beginWith. */
type Answer = (status: number, target: never) => void;

let beginWithImpl: (
  contexts: HttpContexts,
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
  route: RouteOptions | undefined,
  answer: Answer,
  target: unknown,
) => Context;

/**
 * beginWith is {@link HttpContexts.begin} for a framework adapter: `answer(status, target)` answers a passed
 * deadline through the framework's own reply path (called only while nothing has been sent). A function shared
 * by all requests, with the request's own object as `target`: no closure per request.
 * @internal
 */
export function beginWith<T>(
  contexts: HttpContexts,
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
  route: RouteOptions | undefined,
  answer: (status: number, target: T) => void,
  target: T,
): Context {
  return beginWithImpl(contexts, req, res, route, answer as Answer, target);
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
 *  - the client disconnects (seen on the response side: `close` before the response was fully sent, never
 *    `req` `close`, which fires when the body has been read; shared/PITFALLS.md), cause
 *    {@link ClientDisconnectedError}; a pipelined request still queued behind another ends when its connection
 *    closes, and a request whose client had already left when its context was made gets a context born ended;
 *  - the response has been fully sent (`writableFinished`: handed to the OS, not merely ended), cause
 *    {@link ResponseCompleted} (not an error);
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
  /** The open connections of the watched HTTP/1 servers, each with its server: shutdown finds the upgraded ones. */
  readonly #sockets = new Map<Socket, object>();
  readonly #watched = new WeakSet<object>();
  /** The server the last request came through: one identity check per request finds a server not yet watched. */
  #lastServer: unknown = undefined;
  /** Request contexts whose deadline lifeline answered itself: a late write's ERR_HTTP_HEADERS_SENT is ours. */
  readonly #answered = new WeakSet<Context>();

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
   * the caller never needs to cancel it (it ends with the response at the latest). Called for a response that
   * has already closed (the client left while earlier middleware ran), it returns a context born ended with
   * {@link ClientDisconnectedError}.
   */
  begin(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, route?: RouteOptions): Context {
    return this.#beginNode(req, res, route, undefined, undefined);
  }

  static {
    beginWithImpl = (contexts, req, res, route, answer, target) => contexts.#beginNode(req, res, route, answer, target);
    finishFlight = (f) => f.owner.#finish(f);
  }

  #beginNode(
    req: IncomingMessage | Http2ServerRequest,
    res: ServerResponse | Http2ServerResponse,
    route: RouteOptions | undefined,
    answer: Answer | undefined,
    target: unknown,
  ): Context {
    // An instanceof, not `"stream" in req`: Express's prototype-switched `req` makes an `in` check megamorphic.
    if (!(req instanceof IncomingMessage) && (req as Http2ServerRequest).stream !== undefined) {
      const stream = (req as Http2ServerRequest).stream;
      this.#trackSession(stream.session);
      return this.#begin(req.headers, req.method, req.url, res, COMPAT, null, stream, route, stream.destroyed || stream.closed, answer, target);
    }
    const h1 = req as IncomingMessage;
    const r = res as ServerResponse;
    const socket = h1.socket as (Socket & { server?: unknown }) | null;
    if (socket !== null && socket.server !== this.#lastServer) this.#adopt(socket.server, socket);
    // rawHeaders, not headers: Node builds req.headers on its first read, which a bare handler may never make.
    return this.#begin(h1.rawHeaders, h1.method ?? "GET", h1.url ?? "/", r, H1, socket, null, route, r.destroyed || socket?.destroyed === true, answer, target);
  }

  /** beginStream is {@link begin} for the raw HTTP/2 stream API (`server.on("stream")`): a reset stream is a disconnect. */
  beginStream(stream: ServerHttp2Stream, headers: H2Headers, route?: RouteOptions): Context {
    this.#trackSession(stream.session);
    const method = String(headers[":method"] ?? "GET");
    const url = String(headers[":path"] ?? "/");
    return this.#begin(headers, method, url, stream, STREAM, null, stream, route, stream.destroyed || stream.closed, undefined, undefined);
  }

  /** answerTimeout answers a passed deadline while nothing has been sent: the adapter's way, else a plain 503. */
  #answerTimeout(f: Flight, answer: Answer | undefined, target: unknown): void {
    const status = this.#timeoutStatus;
    if (answer !== undefined) return answer(status, target as never);
    if (f.kind === STREAM) {
      const stream = f.stream!;
      if (stream.headersSent || stream.destroyed) return;
      stream.respond({ ":status": status, "content-type": "text/plain" });
      stream.end("request timed out\n");
      return;
    }
    // HTTP/2 forbids connection-specific headers: the compat layer drops them with an UnsupportedWarning.
    const headers = f.kind === H1 ? { "content-type": "text/plain", connection: "close" } : { "content-type": "text/plain" };
    (f.res as ServerResponse).writeHead(status, headers).end("request timed out\n");
  }

  /**
   * watch tells this HttpContexts about a server as soon as it is made, and returns the server. For an HTTP/2
   * server it lets {@link HttpContexts.shutdown} close every session, including those that connected but never
   * sent a request (an HTTP/2 server has no closeAllConnections, and such a session would keep `server.close()`
   * waiting forever). For an HTTP/1 (node:http or node:https) server it tracks every connection, so shutdown
   * can close upgraded ones (a WebSocket after its 101, a CONNECT tunnel), which Node's closeAllConnections
   * leaves open. Without watch, a server is watched from the first request that comes through it.
   *
   * @throws TypeError if `server` has no `on` method.
   */
  watch<S extends { on(event: "session", listener: (session: Http2Session) => void): unknown }>(server: S): S {
    if (typeof (server as { on?: unknown } | null)?.on !== "function") {
      throw new TypeError(`HttpContexts.watch: server must be a node:http, node:https or node:http2 server, got ${server === null ? "null" : typeof server}`);
    }
    this.#adopt(server, undefined);
    return server;
  }

  #adopt(server: unknown, current: Socket | undefined): void {
    this.#lastServer = server;
    if (typeof server !== "object" || server === null || this.#watched.has(server)) return;
    if (typeof (server as { on?: unknown }).on !== "function") return;
    this.#watched.add(server);
    if (server instanceof HttpServer || server instanceof HttpsServer) {
      // Node's own connection listener was added by the constructor, so it has run (and set up the
      // socket's parser) by the time ours runs.
      server.on(server instanceof HttpsServer ? "secureConnection" : "connection", (socket: Socket) => this.#trackSocket(socket, server));
      if (current !== undefined && !current.destroyed) this.#trackSocket(current, server);
    } else {
      (server as { on(event: "session", listener: (session: Http2Session) => void): unknown }).on("session", (session) => this.#trackSession(session));
    }
  }

  #trackSocket(socket: Socket, server: object): void {
    this.#sockets.set(socket, server);
    socket.once("close", () => {
      this.#sockets.delete(socket);
      if (this.#drained !== undefined && this.#idle(server)) this.#drained();
    });
  }

  #trackSession(session: Http2Session | undefined): void {
    if (session === undefined || this.#sessions.has(session)) return;
    this.#sessions.add(session);
    session.once("close", () => this.#sessions.delete(session));
  }

  /** upgraded lists the open upgraded connections of `server`: Node frees an HTTP parser when it hands the socket over. */
  #upgraded(server: object): Socket[] {
    const found: Socket[] = [];
    for (const [socket, of] of this.#sockets) {
      if (of === server && !socket.destroyed && (socket as { parser?: unknown }).parser === null) found.push(socket);
    }
    return found;
  }

  #idle(server: object): boolean {
    return this.#first === null && this.#upgraded(server).length === 0;
  }

  #begin(
    headers: IncomingHttpHeaders | H2Headers | readonly string[],
    method: string,
    url: string,
    res: Responder,
    kind: Kind,
    socket: Socket | null,
    stream: ServerHttp2Stream | null,
    route: RouteOptions | undefined,
    gone: boolean,
    answer: Answer | undefined,
    target: unknown,
  ): Context {
    this.stats.requests++;
    const [base, end] = withCancelCause(this.ctx);
    const flight = new Flight(base, this, end, method, url, coarseNow(), kind, res, socket, stream);
    if (gone) {
      // The response closed before its context was asked for (the client left while earlier middleware ran).
      flight.ended = true;
      end(this.#left(flight) ? new ClientDisconnectedError(method, url) : ResponseCompleted);
      this.#count(base);
      return base;
    }
    this.stats.inFlight++;
    let timeout = route?.timeoutMs ?? this.#timeoutMs;
    let source: "server" | "header" = "server";
    if (this.#trustHeader) {
      const budget = Array.isArray(headers) ? rawBudget(headers as readonly string[]) : incomingBudget(headers as Record<string, string | string[] | undefined>);
      if (budget !== undefined) {
        // The caller's budget only ever shortens the server's own timeout; with none, it is capped at maxTimeoutMs.
        const allowed = Math.min(budget, Number.isFinite(timeout) ? Infinity : this.#maxTimeoutMs) - this.#marginMs;
        if (allowed < timeout) {
          timeout = allowed;
          source = "header";
        }
      }
    }
    // Only a request with a deadline gets a timer context and the closures that answer it.
    if (Number.isFinite(timeout)) this.#arm(flight, timeout, source, answer, target);
    this.#link(flight);
    // 'close' alone: Node emits it on every response, after 'finish' for one that was sent, and #left tells
    // which it was; 'close' comes once and the response is garbage after it, so the listener stays. The
    // flight's own function, no property on the response: a new property on Express's prototype-switched
    // `res` costs more than the function (measured: the store was the hottest line of begin under Express).
    res.on("close", flight.onClose);
    // A pipelined request queued behind another has no socket on its response yet, and Node emits neither
    // 'finish' nor 'close' on it if the connection closes first: watch the connection itself.
    if (kind === H1 && (res as ServerResponse).socket === null && socket !== null) {
      flight.queuedOn = socket;
      socket.on("close", flight.onClose);
    }
    return flight.ctx;
  }

  /** arm gives the request its deadline: a timer context below its base, and the answer when it passes. */
  #arm(flight: Flight, timeout: number, source: "server" | "header", answer: Answer | undefined, target: unknown): void {
    const [timed, stopTimer] = withTimeoutCause(flight.ctx, timeout, new RequestTimeoutError(Math.max(0, timeout), source));
    const res = flight.res;
    flight.ctx = timed;
    flight.stopTimer = stopTimer;
    flight.stopAnswer = afterFunc(timed, () => {
      if (timed.err() !== DeadlineExceeded || res.writableEnded || res.headersSent) return;
      this.#answered.add(timed);
      this.#answerTimeout(flight, answer, target);
    });
  }

  #finish(f: Flight): void {
    if (f.ended) return;
    f.ended = true;
    if (f.queuedOn !== null) f.queuedOn.removeListener("close", f.onClose);
    const ctx = f.ctx;
    const live = ctx.err() === undefined;
    if (live) f.stopAnswer?.();
    // Always, even when the deadline already ended ctx: until base ends it stays linked in the root's
    // children (a timed-out request would leak one context). It does not change ctx's cause.
    const left = this.#left(f);
    f.end(left ? new ClientDisconnectedError(f.method, f.url) : ResponseCompleted);
    f.stopTimer?.();
    // Ended here, ctx's cause is the one just given (ctx is base, or base's child): counted without asking.
    if (!live) this.#count(ctx);
    else if (left) this.stats.disconnected++;
    else this.stats.completed++;
    this.stats.inFlight--;
    this.#unlink(f);
  }

  /** left tells a response that was not fully sent (the client left, or it was cut) from one that was. */
  #left(f: Flight): boolean {
    if (f.kind === H1) {
      // Fully sent means handed to the OS: writableFinished, not writableEnded (Node 22+ emits 'close' with
      // writableFinished false when the client left mid-body). Node 20 emits 'finish' even then, its last write
      // failed: the connection reset under it tells.
      const socket = f.socket;
      return !f.res.writableFinished || (socket !== null && socket.destroyed && socket.errored !== null);
    }
    if (f.kind === COMPAT && !f.res.writableEnded) return true;
    return unsent(f.stream!);
  }

  #count(ctx: Context): void {
    const why = cause(ctx);
    if (why === ResponseCompleted) this.stats.completed++;
    else if (why instanceof ClientDisconnectedError) this.stats.disconnected++;
    else if (why instanceof ServerShutdownError) this.stats.shutDown++;
    else if (ctx.err() === DeadlineExceeded) this.stats.timedOut++;
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
   * failed handles a handler's failure. The request's own stop is counted, not logged (the context already
   * says why): an error that is or wraps the ended context's err() or cause (errors.Is, through `cause` chains
   * and AggregateErrors), a write that failed because the stop closed the response, or the "headers already
   * sent" of a late write after lifeline answered the deadline. Anything else — a Canceled from some other
   * context included, once the request's own context ended otherwise — is a server error, reported once
   * through onError. It returns `{ reported, status }`: whether it was reported, and the status to answer with
   * while nothing has been sent (500 for a server error, `timeoutStatus` for a passed deadline, else 503).
   * Given `res`, it answers: that status if nothing was sent, else a reset (a partial response cannot be
   * completed honestly); nothing if the response is closed. Without `res`, a framework adapter answers in the
   * framework's own way.
   */
  failed(
    ctx: Context,
    error: unknown,
    request: { method: string; url: string },
    res?: ServerResponse | Http2ServerResponse,
  ): { reported: boolean; status: number } {
    const verdict = this.stopped(ctx, error)
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
   * stopped reports whether `error` is the request's own stop: its context has ended and the error is or wraps
   * that context's err() or cause, or is the consequence of the stop on the response (see {@link failed}).
   * Adapters use it to keep a framework quiet about a handler that stopped because its ctx ended.
   */
  stopped(ctx: Context, error: unknown): boolean {
    const err = ctx.err();
    if (err === undefined) return false;
    if (errorIs(error, err)) return true;
    const why = cause(ctx);
    if (why !== err && errorIs(error, why)) return true;
    const code = (error as { code?: unknown } | null)?.code;
    if (code === "ERR_HTTP_HEADERS_SENT") return this.#answered.has(ctx);
    return typeof code === "string" && CLOSED.has(code);
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
      try {
        const result = fn(ctx, req, res) as PromiseLike<unknown> | undefined;
        if (typeof result?.then === "function") {
          result.then(undefined, (error: unknown) => this.failed(ctx, error, { method: req.method ?? "GET", url: req.url ?? "/" }, res));
        }
      } catch (error) {
        this.failed(ctx, error, { method: req.method ?? "GET", url: req.url ?? "/" }, res);
      }
    };
  }

  /**
   * shutdown stops the server gracefully: it stops accepting connections and closes idle keep-alive ones
   * (HTTP/2 sessions get a GOAWAY), lets in-flight requests finish and upgraded connections close for up to
   * `graceMs`, then cancels the contexts of the requests still running with {@link ServerShutdownError} and
   * closes every connection, upgraded ones included (those of servers it watches: see
   * {@link HttpContexts.watch}). It resolves, once the server has closed or at most one second after the grace
   * period, with what was still running and what it had to close.
   */
  async shutdown(
    server: {
      close(cb?: (err?: Error) => void): unknown;
      closeIdleConnections?: () => void;
      closeAllConnections?: () => void;
      getConnections?: (cb: (error: Error | null, count: number) => void) => unknown;
    },
    graceMs: number,
  ): Promise<ShutdownReport> {
    if (typeof graceMs !== "number" || Number.isNaN(graceMs) || graceMs < 0) {
      throw new TypeError(`HttpContexts.shutdown: graceMs must be a non-negative number, got ${String(graceMs)}`);
    }
    let isClosed = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve())).then(() => (isClosed = true));
    server.closeIdleConnections?.();
    for (const s of this.#sessions) s.close(); // GOAWAY: no new streams, in-flight ones continue
    const report: ShutdownReport = { graceful: true, cancelled: [], upgraded: 0, leftOpen: 0 };
    if (!this.#idle(server)) {
      // core's sleep, not setTimeout: a grace beyond 2^31−1 ms (or Infinity) must not fire after 1 ms.
      const [graceCtx, stopGrace] = withCancel(background());
      await Promise.race([
        new Promise<void>((resolve) => (this.#drained = () => this.#idle(server) && resolve())),
        sleep(graceCtx, graceMs).catch(() => {}),
      ]);
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
    for (const socket of this.#upgraded(server)) {
      socket.destroy();
      report.upgraded++;
    }
    if (report.upgraded > 0) report.graceful = false;
    if (!isClosed) {
      const [boundCtx, stopBound] = withCancel(background());
      await Promise.race([closed, sleep(boundCtx, CLOSE_BOUND_MS).catch(() => {})]);
      stopBound();
    }
    if (!isClosed) {
      report.graceful = false;
      report.leftOpen = await new Promise<number>((resolve) => {
        if (typeof server.getConnections !== "function") resolve(0);
        else server.getConnections((error, count) => resolve(error === null ? count : 0));
      });
    }
    return report;
  }
}

/**
 * unsent tells an HTTP/2 stream whose response was not fully sent. A reset stream ends its writable side and
 * emits 'finish', and a complete one may close with writableFinished still false (measured on Node 20-24): the
 * stream was fully sent only if it ended and closed without an error code and without the peer aborting it.
 */
function unsent(stream: ServerHttp2Stream): boolean {
  return stream.aborted || !stream.writableEnded || stream.rstCode !== h2.NGHTTP2_NO_ERROR;
}

/** Error codes of a write that failed because the response or its connection had been closed. */
const CLOSED = new Set(["ERR_STREAM_DESTROYED", "ERR_STREAM_WRITE_AFTER_END", "ERR_STREAM_PREMATURE_CLOSE", "ERR_HTTP2_INVALID_STREAM", "ERR_HTTP2_STREAM_CANCEL", "EPIPE", "ECONNRESET"]);
