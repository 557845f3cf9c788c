// @lifeline/http/fastify: request contexts for Fastify 5.
import { createServer as createHttp, type IncomingMessage, type Server as HttpServer, type ServerOptions, type ServerResponse } from "node:http";
import { createServer as createHttps, type ServerOptions as HttpsOptions } from "node:https";
import { PassThrough, type Readable } from "node:stream";
import type { FastifyError, FastifyPluginCallback, FastifyReply, FastifyRequest, RouteHandlerMethod } from "fastify";
import type { Context } from "@lifeline/core";
import { beginWith, checkContexts, checkRoute, HttpContexts, type RouteOptions } from "./server.js";
import { clientError, isOpen, reset } from "./internal/settle.js";

declare module "fastify" {
  interface FastifyRequest {
    /**
     * ctx is the request's context, set by the {@link lifeline} plugin: it ends when the client leaves, when
     * the response has been sent, at the request's deadline, or when the server shuts down. It is `null` (or
     * `undefined`) on a route outside the scope the plugin is registered in: {@link ctxOf} returns it or
     * throws a TypeError naming the missing plugin.
     */
    ctx?: Context | null;
  }
  interface FastifyContextConfig {
    /** lifeline holds this route's options for its request contexts: `config: { lifeline: { timeoutMs: 500 } }`. */
    lifeline?: RouteOptions;
  }
}

/** LifelinePluginOptions configure the {@link lifeline} Fastify plugin. */
export interface LifelinePluginOptions {
  /** contexts makes the request contexts; the caller owns it (options, stats, shutdown). */
  readonly contexts: HttpContexts;
  /**
   * errorHandler installs {@link errorHandler} as the error handler of the scope the plugin is registered in
   * (default true). Set it to false when you set your own, and call lifeline's from it.
   */
  readonly errorHandler?: boolean;
}

/**
 * lifeline is a Fastify plugin that gives every request a context, `request.ctx`, made in an `onRequest`
 * hook by `contexts.begin(request.raw, reply.raw, route)`, where `route` is the route's
 * `config.lifeline` (`fastify.get("/report", { config: { lifeline: { timeoutMs: 60_000 } } }, h)`).
 * The ctx ends when the client disconnects, when the response has been fully sent, at the deadline
 * (server timeout, the route's, or the caller's `timeout-ms` budget; a 503 is sent if nothing was), or
 * when `contexts.shutdown` gives up waiting.
 *
 * Behind lifeline's {@link serverFactory} (`Fastify({ serverFactory: serverFactory(contexts) })`) the ctx is
 * made by the server before Fastify sees the request, and the plugin adds no hook: `request.ctx` only finds it
 * (cheaper per request; see serverFactory for what differs).
 *
 * Register it with `fastify.register(lifeline, { contexts })`. Like a plugin wrapped in fastify-plugin it
 * is not encapsulated: the hook applies to every route of the scope it is registered in, and so does its
 * error handler ({@link errorHandler}) unless `errorHandler: false`.
 *
 * A passed deadline is answered through `reply.send` (Fastify's hooks and logs see it). A handler that then
 * stops because its ctx ended (rejecting with its err, or returning late) is not logged as "Promise errored,
 * but reply.sent = true was set"; a stream payload that fails with its request's own stop is cut the way
 * Fastify cuts one whose client left, without the warning it logs for a stream error. Real failures are
 * logged and reported as before. It watches `fastify.server` (see `HttpContexts.watch`).
 *
 * It does not end the ctx when the handler returns (a stream sent with `reply.send(stream)` keeps it
 * live until the stream has been sent), and it neither closes the server nor calls `contexts.shutdown`:
 * the caller does, after (or instead of) `fastify.close()`. Web `ReadableStream` payloads are passed
 * through untouched.
 */
export const lifeline: FastifyPluginCallback<LifelinePluginOptions> = (fastify, options, done) => {
  const contexts = options?.contexts;
  if (!(contexts instanceof HttpContexts)) {
    done(new TypeError(`@lifeline/http/fastify: options.contexts must be an HttpContexts, got ${contexts === null ? "null" : typeof contexts}`));
    return;
  }
  const door = doors.get(fastify.server);
  if (door !== undefined && door !== contexts) {
    done(new TypeError("@lifeline/http/fastify: the server was made by serverFactory with another HttpContexts than options.contexts"));
    return;
  }
  const send = cutting(contexts);
  contexts.watch(fastify.server as Parameters<HttpContexts["watch"]>[0]);
  fastify.addHook("onRoute", (route) => {
    // Route options are checked as each route is registered, not on its first request.
    checkRoute(`@lifeline/http/fastify: ${route.method} ${route.url} config.lifeline`, route.config?.lifeline);
    if (door !== undefined && route.config?.lifeline !== undefined) {
      throw new TypeError(`@lifeline/http/fastify: ${route.method} ${route.url} config.lifeline: behind serverFactory the ctx is made before routing, so a route cannot set its deadline; pass route options to serverFactory(contexts, route), or narrow the ctx with withTimeout(ctx, ms) in the handler`);
    }
    route.handler = quiet(contexts, route.handler, send, door !== undefined);
  });
  if (door !== undefined) {
    // The ctx was made by serverFactory's listener, on the raw request: request.ctx only finds it. No hook.
    fastify.decorateRequest("ctx", {
      getter(this: FastifyRequest): Context | null {
        return (this.raw as Door)[kCtx] ?? null;
      },
    });
  } else {
    fastify.decorateRequest("ctx", null);
    fastify.addHook("onRequest", (request, reply, next) => {
      // A deadline is answered through reply.send, so Fastify's own hooks and logging see the answer.
      request.ctx = beginWith(contexts, request.raw, reply.raw, routeConfig(request), answerTimeout, reply);
      next();
    });
  }
  if (options.errorHandler !== false) fastify.setErrorHandler(errorHandler(contexts));
  done();
};
// What fastify-plugin sets: the plugin's hook and decorator apply to the scope that registers it.
Object.assign(lifeline, {
  [Symbol.for("skip-override")]: true,
  [Symbol.for("fastify.display-name")]: "@lifeline/http",
  [Symbol.for("plugin-meta")]: { name: "@lifeline/http", fastify: "5.x" },
});

/** The servers {@link serverFactory} made, each with the HttpContexts that gives their requests a ctx. */
const doors = new WeakMap<object, HttpContexts>();
/** Where the front door keeps a request's ctx (on the raw request) and its Fastify reply, once known (on the raw response). */
const kCtx = Symbol("lifeline.ctx");
const kReply = Symbol("lifeline.reply");
type Door = IncomingMessage & { [kCtx]?: Context };
type DoorResponse = ServerResponse & { [kReply]?: FastifyReply };

/** FastifyServerOptions are the options Fastify passes to a serverFactory: those of its HTTP/1 server. */
interface FastifyServerOptions {
  readonly http?: ServerOptions | null;
  readonly https?: HttpsOptions | boolean | null;
  readonly http2?: boolean;
  readonly keepAliveTimeout?: number;
  readonly requestTimeout?: number;
  readonly connectionTimeout?: number;
  readonly maxRequestsPerSocket?: number;
}

/**
 * serverFactory returns a Fastify `serverFactory` whose server gives every request its context before Fastify
 * sees it: `Fastify({ serverFactory: serverFactory(contexts) })`, then `app.register(lifeline, { contexts })`
 * as usual. The plugin sees the server is lifeline's and only finds the ctx (`request.ctx` is a getter, no
 * `onRequest` hook runs): Fastify's hook runner is skipped when no hook is registered, which is what a
 * request costs less (measured with wrk, see README). The guarantees are the plugin's: the ctx ends when the
 * client leaves, when the response has been fully sent, at the deadline (server timeout, `route`, or the
 * caller's `timeout-ms` budget), or when `contexts.shutdown` gives up waiting; a handler that stops because
 * its ctx ended logs nothing, and a stream cut by the request's own stop logs no warning.
 *
 * A passed deadline is answered through `reply.send` once the route's handler has started (Fastify's hooks
 * and logs see it). One that passes earlier — in an `onRequest`/`preHandler` hook, while Fastify parses a
 * slow body — is answered with a plain 503 on the raw response: Fastify then skips the handler (its reply
 * counts as sent) and logs nothing, but its `onSend` hooks do not see that answer and headers a hook set on
 * the reply are not in it.
 *
 * The ctx exists before routing, so a route cannot give it another deadline: a route with
 * `config.lifeline` fails to register with a TypeError; pass `route` here for all, or narrow the ctx with
 * `withTimeout(ctx, ms)` in the handler. Register the plugin before the routes (as with the hook): routes
 * registered before it have a ctx but not its quiet handling. HTTP/1 and HTTPS only (`https` in Fastify's
 * options); it throws for `http2: true` (use the plugin alone). The server is watched (see
 * `HttpContexts.watch`); Fastify's `keepAliveTimeout`, `requestTimeout`, `connectionTimeout` and
 * `maxRequestsPerSocket` are applied to it as Fastify applies them to its own.
 *
 * @throws TypeError if `contexts` is not an {@link HttpContexts} or `route` is invalid; the factory throws
 * when Fastify asks it for an HTTP/2 server.
 */
export function serverFactory(
  contexts: HttpContexts,
  route?: RouteOptions,
): (handler: (req: IncomingMessage, res: ServerResponse) => void, options: FastifyServerOptions) => HttpServer {
  checkContexts("serverFactory", contexts);
  checkRoute("serverFactory", route);
  return (handler, options) => {
    if (options?.http2 === true) throw new TypeError("serverFactory: HTTP/2 is not supported by lifeline's front door; use the lifeline plugin alone");
    const listener = (req: IncomingMessage, res: ServerResponse): void => {
      (req as Door)[kCtx] = beginWith(contexts, req, res, route, answerEarly, res as DoorResponse);
      handler(req, res);
    };
    const https = options?.https === true ? {} : options?.https;
    const server = typeof https === "object" && https !== null ? createHttps(https, listener) : createHttp(options?.http ?? {}, listener);
    if (options?.keepAliveTimeout !== undefined) server.keepAliveTimeout = options.keepAliveTimeout;
    if (options?.requestTimeout !== undefined) server.requestTimeout = options.requestTimeout;
    if (options?.connectionTimeout !== undefined) server.setTimeout(options.connectionTimeout);
    if (options?.maxRequestsPerSocket !== undefined && options.maxRequestsPerSocket > 0) server.maxRequestsPerSocket = options.maxRequestsPerSocket;
    doors.set(server, contexts);
    return contexts.watch(server as unknown as Parameters<HttpContexts["watch"]>[0]) as unknown as HttpServer;
  };
}

/**
 * answerEarly answers a deadline for serverFactory's requests: through the reply once the route's handler has
 * started (the route wrapper put it on the raw response), else with a plain 503 on the raw response.
 */
function answerEarly(status: number, res: DoorResponse): void {
  const reply = res[kReply];
  if (reply !== undefined) return answerTimeout(status, reply);
  res.writeHead(status, { "content-type": "text/plain" }).end("request timed out\n");
}

/**
 * The symbol under which Fastify keeps a request's route context (its `config` included), found on the first
 * request: `request.routeOptions` builds a new object of twelve fields on every read. Where it is not found
 * (another Fastify), `routeOptions` is read.
 */
let routeContextKey: symbol | null | undefined;

/** routeConfig returns the route's `config.lifeline`. */
function routeConfig(request: FastifyRequest): RouteOptions | undefined {
  routeContextKey ??= Object.getOwnPropertySymbols(request).find((s) => s.description === "fastify.context") ?? null;
  const config = routeContextKey === null ? undefined : (request as unknown as Record<symbol, { config?: { lifeline?: RouteOptions } } | undefined>)[routeContextKey]?.config;
  return config !== undefined ? config.lifeline : request.routeOptions.config.lifeline;
}

function answerTimeout(status: number, reply: FastifyReply): void {
  void reply.code(status).type("text/plain").send("request timed out\n");
}

/**
 * quiet wraps a route handler so that a handler stopping because its ctx ended, after the reply was sent (the
 * deadline's answer), does not make Fastify log "Promise errored, but reply.sent = true was set" (a rejection)
 * or "Reply was already sent" (a late payload). Any other outcome passes through untouched.
 */
function quiet(contexts: HttpContexts, handler: RouteHandlerMethod, send: FastifyReply["send"], door: boolean): RouteHandlerMethod {
  return function lifelineRoute(this: unknown, request, reply) {
    reply.send = send;
    // Behind serverFactory: from now on a passed deadline is answered through this reply.
    if (door) (reply.raw as DoorResponse)[kReply] = reply;
    let result: unknown;
    try {
      result = handler.call(this as never, request, reply);
    } catch (error) {
      if (reply.sent && stoppedBy(contexts, request, error)) return undefined;
      throw error;
    }
    if (result === reply || typeof (result as PromiseLike<unknown> | null)?.then !== "function") return result;
    return (result as PromiseLike<unknown>).then(
      (payload) => (payload !== undefined && reply.sent && request.ctx?.err() !== undefined ? undefined : payload),
      (error: unknown) => {
        if (reply.sent && stoppedBy(contexts, request, error)) return undefined;
        throw error;
      },
    );
  } as RouteHandlerMethod;
}

/**
 * cutting returns the `reply.send` the route wrapper gives each reply: a stream payload that stops because its
 * ctx ended must not end as a failure (Fastify logs a warning per stream error after the headers), so it is
 * passed through {@link cut}. One function per plugin, set on the reply in the route wrapper: no onSend hook,
 * whose runner Fastify would run on every reply.
 */
function cutting(contexts: HttpContexts): FastifyReply["send"] {
  return function send(this: FastifyReply, payload?: unknown) {
    const ctx = this.request.ctx;
    if (ctx !== null && ctx !== undefined && isReadable(payload)) payload = cut(ctx, contexts, this, payload);
    return (Object.getPrototypeOf(this) as FastifyReply).send.call(this, payload);
  };
}

function stoppedBy(contexts: HttpContexts, request: FastifyRequest, error: unknown): boolean {
  const ctx = request.ctx;
  return ctx !== null && ctx !== undefined && contexts.stopped(ctx, error);
}

function isReadable(payload: unknown): payload is Readable {
  return typeof (payload as { pipe?: unknown } | null)?.pipe === "function" && typeof (payload as { on?: unknown }).on === "function";
}

/**
 * cut passes a stream payload through; if the source fails with its request's own stop, the response is reset
 * (the client sees it cut short) and the pass-through is destroyed without an error, which Fastify treats as a
 * client that left (an info line at most). Any other failure is passed on as it was.
 */
function cut(ctx: Context, contexts: HttpContexts, reply: FastifyReply, source: Readable): Readable {
  const out = new PassThrough();
  source.once("error", (error: unknown) => {
    if (!contexts.stopped(ctx, error)) return void out.destroy(error as Error);
    if (isOpen(reply.raw) && reply.raw.headersSent) reset(reply.raw);
    out.destroy();
  });
  out.once("close", () => {
    if (!source.destroyed) source.destroy();
  });
  return source.pipe(out);
}

/**
 * ctxOf returns the request's context, `request.ctx`, set by the {@link lifeline} plugin. Use it where the
 * type must be `Context`: it does not make a context, it finds the one the plugin made.
 *
 * @throws TypeError naming the route when the plugin is not registered in the route's scope.
 */
export function ctxOf(request: FastifyRequest): Context {
  const ctx = (request as { ctx?: Context | null } | undefined)?.ctx;
  if (ctx === null || ctx === undefined) {
    const where = request === undefined || request === null ? String(request) : `${request.method} ${request.url}`;
    throw new TypeError(`ctxOf: ${where} has no ctx: register the lifeline plugin from @lifeline/http/fastify in this route's scope (app.register(lifeline, { contexts }))`);
  }
  return ctx;
}

/**
 * errorHandler returns a Fastify error handler that gives handler failures lifeline's semantics (see
 * `HttpContexts.failed`): a failure because the client left, or because the ctx's deadline passed or the
 * server shut down, is not reported (the ctx's cause says why; a disconnect is counted in
 * `contexts.stats.disconnected`); any other failure is reported once through the `onError` option and
 * answered with a 500 (a reset when the response had started).
 *
 * A request whose ctx ended while its handler ran, with nothing sent and the connection still open, gets a
 * 503. Errors with a 4xx `statusCode` (validation, bad JSON) and requests without a ctx are passed on to
 * the parent error handler, Fastify's default unless you set one higher up.
 *
 * @throws TypeError if `contexts` is not an {@link HttpContexts}.
 */
export function errorHandler(contexts: HttpContexts): (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  checkContexts("errorHandler", contexts);
  return function lifelineErrors(error, request, reply) {
    const ctx = request.ctx;
    // Throwing hands the error to the parent error handler.
    if (ctx === null || ctx === undefined || clientError(error) !== undefined) throw error;
    const { status } = contexts.failed(ctx, error, { method: request.method, url: request.url });
    const res = reply.raw;
    if (!isOpen(res)) return;
    if (res.headersSent) reset(res);
    else void reply.code(status).type("text/plain").send(status === 500 ? "internal server error\n" : "request canceled\n");
  };
}
