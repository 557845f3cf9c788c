// @lifeline/http/fastify: request contexts for Fastify 5.
import type { FastifyError, FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import type { Context } from "@lifeline/core";
import { checkContexts, checkRoute, HttpContexts, type RouteOptions } from "./server.js";
import { clientError, isOpen, reset } from "./internal/settle.js";

declare module "fastify" {
  interface FastifyRequest {
    /**
     * ctx is the request's context, set by the {@link lifeline} plugin: it ends when the client leaves, when
     * the response has been sent, at the request's deadline, or when the server shuts down.
     */
    ctx: Context;
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
 * Register it with `fastify.register(lifeline, { contexts })`. Like a plugin wrapped in fastify-plugin it
 * is not encapsulated: the hook applies to every route of the scope it is registered in, and so does its
 * error handler ({@link errorHandler}) unless `errorHandler: false`.
 *
 * It does not end the ctx when the handler returns (a stream sent with `reply.send(stream)` keeps it
 * live until the stream has been sent), and it neither closes the server nor calls `contexts.shutdown`:
 * the caller does, after (or instead of) `fastify.close()`.
 */
export const lifeline: FastifyPluginCallback<LifelinePluginOptions> = (fastify, options, done) => {
  const contexts = options?.contexts;
  if (!(contexts instanceof HttpContexts)) {
    done(new TypeError(`@lifeline/http/fastify: options.contexts must be an HttpContexts, got ${contexts === null ? "null" : typeof contexts}`));
    return;
  }
  fastify.decorateRequest("ctx", null as unknown as Context);
  // Route options are checked as each route is registered, not on its first request.
  fastify.addHook("onRoute", (route) => checkRoute(`@lifeline/http/fastify: ${route.method} ${route.url} config.lifeline`, route.config?.lifeline));
  fastify.addHook("onRequest", (request, reply, next) => {
    request.ctx = contexts.begin(request.raw, reply.raw, request.routeOptions.config.lifeline);
    next();
  });
  if (options.errorHandler !== false) fastify.setErrorHandler(errorHandler(contexts));
  done();
};
// What fastify-plugin sets: the plugin's hook and decorator apply to the scope that registers it.
Object.assign(lifeline, {
  [Symbol.for("skip-override")]: true,
  [Symbol.for("fastify.display-name")]: "@lifeline/http",
  [Symbol.for("plugin-meta")]: { name: "@lifeline/http", fastify: "5.x" },
});

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
    const ctx = request.ctx as Context | null;
    // Throwing hands the error to the parent error handler.
    if (ctx === null || clientError(error) !== undefined) throw error;
    const { status } = contexts.failed(ctx, error, { method: request.method, url: request.url });
    const res = reply.raw;
    if (!isOpen(res)) return;
    if (res.headersSent) reset(res);
    else void reply.code(status).type("text/plain").send(status === 500 ? "internal server error\n" : "request canceled\n");
  };
}
