// @lifeline/http/express: request contexts for Express 5.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ErrorRequestHandler, Request, RequestHandler, Response } from "express";
import type { Context } from "@lifeline/core";
import { beginWith, checkContexts, checkRoute, type HttpContexts, type RouteOptions } from "./server.js";
import { clientError } from "./internal/settle.js";

declare global {
  // Express's own augmentation point: `Express.Request` is merged into every `req`.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /**
       * ctx is the request's context, set by {@link lifeline}: it ends when the client leaves, when the
       * response has been sent, at the request's deadline, or when the server shuts down. It is `undefined`
       * on a route that no lifeline middleware ran before: {@link ctxOf} returns it or throws a TypeError
       * naming the missing middleware.
       */
      ctx?: Context;
    }
  }
}

/**
 * lifeline returns an Express middleware that gives every request passing through it a context,
 * `req.ctx`, made by `contexts.begin(req, res, route)`: it ends when the client disconnects, when the
 * response has been fully sent, at the deadline (server timeout, `route.timeoutMs`, or the caller's
 * `timeout-ms` budget; a 503 is sent if nothing was), or when `contexts.shutdown` gives up waiting.
 *
 * Mount it app-wide (`app.use(lifeline(contexts))`) or on the routes that need a ctx; a route with its own
 * timeout mounts it there (`app.get("/report", lifeline(contexts, { timeoutMs: 60_000 }), h)`), before any
 * app-wide one sees the request. A request gets one ctx: a second lifeline on its path passes it on
 * untouched, or, if it asks for route options, fails the request with a TypeError (a ctx's deadline
 * cannot be moved once it exists).
 *
 * A passed deadline is answered through Express's `res.send`; a late write after it fails with "headers
 * already sent", which {@link errorHandler} recognises as the request's own stop and does not report.
 *
 * It does not end the ctx when the handler returns (a stream may go on), does not read the body, and does
 * not catch handler failures: add {@link errorHandler} after the routes for that. The caller owns
 * `contexts` (its options, stats and `shutdown`).
 *
 * @throws TypeError if `contexts` is not an {@link HttpContexts}.
 */
export function lifeline(contexts: HttpContexts, route?: RouteOptions): RequestHandler {
  checkContexts("lifeline", contexts);
  checkRoute("lifeline", route);
  return function lifeline(req, res, next) {
    if (contextOf.get(req) !== undefined) {
      if (route === undefined) return next();
      return next(new TypeError(`lifeline: ${req.method} ${req.originalUrl} already has a ctx; mount lifeline with route options before any app-wide lifeline`));
    }
    accessor(req);
    contextOf.set(req, beginWith(contexts, req, res, route, answerTimeout, res));
    next();
  };
}

/**
 * requestListener returns `app` (an Express app, itself a node:http request listener) behind a front door that
 * gives every request its context before Express sees it: `createServer(requestListener(contexts, app))`.
 * Routes find it as behind {@link lifeline}: `ctxOf(req)` or `req.ctx`, with the same guarantees (it ends when
 * the client leaves, when the response has been fully sent, at the deadline — answered through Express's
 * `res.send` — or when `contexts.shutdown` gives up waiting; {@link errorHandler} keeps handler failures quiet
 * or reports them the same way).
 *
 * Use it for the app-wide ctx where requests/s matter: it costs Express less than a middleware, because it
 * makes the ctx on Node's own `req`/`res`, before Express switches their prototypes (after the switch every
 * request's objects have their own hidden class and each property access on them is slow; measured with wrk,
 * see README). The ctx exists before routing, so a route cannot give it another deadline (`lifeline(contexts,
 * { timeoutMs })` on it fails the request with a TypeError; a `lifeline(contexts)` without options passes the
 * ctx on): a route that needs a shorter one narrows it with `withTimeout(ctx, ms)`, or the server passes
 * `route` here for all. A client that leaves while early middleware runs ends the ctx like any other
 * disconnect.
 *
 * It does not catch handler failures (add {@link errorHandler} after the routes), does not read the body, and
 * does not end the ctx when the handler returns. HTTP/1 only (Express does not run on node:http2).
 *
 * @throws TypeError if `contexts` is not an {@link HttpContexts}, or `app` is not a function.
 */
export function requestListener(
  contexts: HttpContexts,
  app: (req: IncomingMessage, res: ServerResponse) => unknown,
  route?: RouteOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  checkContexts("requestListener", contexts);
  checkRoute("requestListener", route);
  if (typeof app !== "function") throw new TypeError(`requestListener: app must be a function (an Express app), got ${typeof app}`);
  // An Express app's requests get `app.request` as their prototype: define req.ctx there now, not per request.
  const proto = (app as { request?: unknown }).request;
  if (typeof proto === "object" && proto !== null) define(proto);
  return function lifelineListener(req, res) {
    contextOf.set(req, beginWith(contexts, req, res, route, answerTimeout, res as unknown as Response));
    app(req, res);
  };
}

/**
 * contextOf holds each request's ctx; `req.ctx` reads it through an accessor on Express's request prototype.
 * Not an own property of `req`: one added by a middleware, after Express switched `req`'s prototype, cost
 * about as much as the rest of lifeline's work together (measured with wrk: Express with `req.ctx = …` in a
 * middleware was ~5 µs/request slower than with the same ctx kept in a WeakMap).
 */
const contextOf = new WeakMap<object, Context>();
let lastPrototype: object | null = null;

/** accessor defines `ctx` once on Express's request prototype (shared by every app) of the request's Express. */
function accessor(req: object): void {
  const proto = Object.getPrototypeOf(req) as object | null;
  if (proto === lastPrototype || proto === null) return;
  lastPrototype = proto;
  define(proto);
}

/** define defines `ctx` on the prototype of an app's `app.request` (Express's request prototype, shared by every app). */
function define(proto: object): void {
  // `app.request` is made with Object.create(express.request).
  const base = (Object.getPrototypeOf(proto) as object | null) ?? proto;
  if (Object.prototype.hasOwnProperty.call(base, "ctx")) return;
  Object.defineProperty(base, "ctx", {
    configurable: true,
    enumerable: false,
    get(this: object): Context | undefined {
      return contextOf.get(this);
    },
    set(this: object, ctx: Context | undefined) {
      if (ctx === undefined) contextOf.delete(this);
      else contextOf.set(this, ctx);
    },
  });
}

/** answerTimeout answers a passed deadline through Express's own res.send, like any other answer of the app. */
function answerTimeout(status: number, res: Response): void {
  res.status(status).set("connection", "close").type("text/plain").send("request timed out\n");
}

/**
 * ctxOf returns the request's context, `req.ctx`, set by {@link lifeline}. Use it where the type must be
 * `Context` rather than `Context | undefined`: it does not make a context, it finds the one lifeline made.
 *
 * @throws TypeError naming the route when no lifeline middleware ran before it (`req.ctx` is undefined).
 */
export function ctxOf(req: Request): Context {
  const ctx = typeof req === "object" && req !== null ? contextOf.get(req) : undefined;
  if (ctx === undefined) {
    const where = req === undefined || req === null ? String(req) : `${req.method} ${req.originalUrl}`;
    throw new TypeError(`ctxOf: ${where} has no ctx: mount lifeline(contexts) from @lifeline/http/express before this route (app.use(lifeline(contexts)))`);
  }
  return ctx;
}

/**
 * errorHandler returns an Express error-handling middleware that gives handler failures lifeline's
 * semantics (see `HttpContexts.failed`): a failure because the client left, or because the ctx's deadline
 * passed or the server shut down, is not reported (the ctx's cause already says why; a disconnect is counted
 * in `contexts.stats.disconnected`); any other failure is reported once through the `onError` option and
 * answered with a 500 (or a reset connection when the response had started).
 *
 * A request whose ctx ended while its handler ran, with nothing sent and the connection still open (a
 * cancelled parent context), gets a 503 rather than no answer. Errors carrying a 4xx `status`/`statusCode`,
 * and errors of requests that never passed through {@link lifeline}, go on to the next error handler
 * (Express's default answers them). Mount it after the routes: `app.use(errorHandler(contexts))`.
 *
 * @throws TypeError if `contexts` is not an {@link HttpContexts}.
 */
export function errorHandler(contexts: HttpContexts): ErrorRequestHandler {
  checkContexts("errorHandler", contexts);
  return function lifelineErrors(error: unknown, req, res, next) {
    const ctx = contextOf.get(req);
    if (ctx === undefined || clientError(error) !== undefined) return next(error);
    contexts.failed(ctx, error, { method: req.method, url: req.originalUrl }, res);
  };
}
