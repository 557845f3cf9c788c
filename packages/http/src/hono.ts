// @lifeline/http/hono: request contexts for Hono 4 served by @hono/node-server.
import type { Context as HonoContext, ErrorHandler, MiddlewareHandler } from "hono";
import type { Http2Bindings, HttpBindings } from "@hono/node-server";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { Context } from "@lifeline/core";
import { checkContexts, checkRoute, type HttpContexts, type RouteOptions } from "./server.js";
import { clientError, isOpen, reset } from "./internal/settle.js";

/** LifelineVariables are the variables {@link lifeline} sets: `c.get("ctx")` / `c.var.ctx`. */
export type LifelineVariables = {
  /**
   * ctx is the request's context: it ends when the client leaves, when the response has been sent, at the
   * request's deadline, or when the server shuts down.
   */
  ctx: Context;
};

/**
 * LifelineEnv is the Hono env of an app that uses {@link lifeline}: `new Hono<LifelineEnv>()`, or merge it
 * into your own (`{ Bindings: …; Variables: LifelineVariables & MyVariables }`).
 */
export type LifelineEnv = {
  Bindings: (HttpBindings | Http2Bindings) & LifelineBindings;
  Variables: LifelineVariables;
};

/** LifelineBindings is what {@link fetchHandler} adds to `c.env`: the request's ctx, `c.env.ctx`. */
export type LifelineBindings = {
  /** ctx is the request's context, made by {@link fetchHandler} before Hono routed the request. */
  ctx?: Context;
};

/** ctxIn returns the ctx lifeline gave this request: the middleware's `c.get("ctx")`, else fetchHandler's `c.env.ctx`. */
function ctxIn(c: HonoContext): Context | undefined {
  // c.get, not c.var: Hono builds a new object from its variables on every read of c.var.
  return ((c.get as (key: string) => unknown)("ctx") as Context | undefined) ?? (c.env as LifelineBindings | undefined)?.ctx;
}

function bindings(c: HonoContext<LifelineEnv>): HttpBindings | Http2Bindings {
  const env = c.env as Partial<HttpBindings> | undefined;
  if (env?.incoming === undefined || env.outgoing === undefined) {
    throw new TypeError("lifeline: c.env has no incoming/outgoing: serve the app with @hono/node-server (serve or getRequestListener)");
  }
  return env as HttpBindings;
}

/**
 * lifeline returns a Hono middleware that gives every request passing through it a context, `c.var.ctx`,
 * made by `contexts.begin(incoming, outgoing, route)` from the node request and response that
 * `@hono/node-server` puts in `c.env` (HTTP/1, HTTPS and HTTP/2 alike). The ctx ends when the client
 * disconnects — also under HTTP/2, where `c.req.raw.signal` never fires (honojs/node-server#398) — when the
 * response has been fully sent (a streamed body keeps it live until its end), at the deadline (server
 * timeout, `route.timeoutMs`, or the caller's `timeout-ms` budget; a 503 is sent if nothing was), or when
 * `contexts.shutdown` gives up waiting.
 *
 * Mount it app-wide (`app.use(lifeline(contexts))`) or per route; a route with its own timeout registers
 * it before any app-wide one matches (`app.get("/report", lifeline(contexts, { timeoutMs: 60_000 }), h)`
 * first). A request gets one ctx: a second lifeline on its path passes it on, or throws a TypeError if it
 * asks for route options. When the deadline's 503 has already been written, it tells @hono/node-server not
 * to write the handler's late response. A streamed body that fails with its request's own stop (deadline,
 * shutdown) is cut the way a client that left cuts it, so node-server prints nothing; other failures are
 * printed by node-server as before.
 *
 * It does not catch handler failures (Hono hands them to `app.onError`: use {@link errorHandler}) and does
 * not work without @hono/node-server (other runtimes have no node response to watch).
 *
 * @throws TypeError if `contexts` is not an {@link HttpContexts}.
 */
export function lifeline(contexts: HttpContexts, route?: RouteOptions): MiddlewareHandler<LifelineEnv> {
  checkContexts("lifeline", contexts);
  checkRoute("lifeline", route);
  // Not an async function: next()'s promise and one closure cost less than an async frame suspended per request.
  return function lifeline(c, next) {
    try {
      const { incoming, outgoing } = bindings(c);
      const existing = ctxIn(c);
      if (existing !== undefined) {
        if (route !== undefined) throw new TypeError(`lifeline: ${c.req.method} ${c.req.path} already has a ctx; register lifeline with route options before any app-wide lifeline`);
        c.set("ctx", existing); // fetchHandler's, under the middleware's name too
        return next();
      }
      const ctx = contexts.begin(incoming, outgoing, route);
      c.set("ctx", ctx);
      return next().then(() => after(ctx, c, contexts, outgoing));
    } catch (error) {
      return Promise.reject(error as Error); // as the async function did: a middleware fails by rejecting
    }
  };
}

/** after is the middleware's work once the handler has answered. */
function after(ctx: Context, c: HonoContext, contexts: HttpContexts, outgoing: HttpBindings["outgoing"] | Http2Bindings["outgoing"]): void {
  // Someone answered on the node response directly (the deadline's 503): writing c.res would throw.
  if (outgoing.headersSent) {
    c.res = undefined; // so the setter does not copy c.res's headers into the shared constant
    c.res = RESPONSE_ALREADY_SENT;
    return;
  }
  const body = streamBody(c.res);
  if (body !== undefined) {
    // Status and headers first: they come from node-server's cache, not from a real Response made from the body.
    const init = { status: c.res.status, headers: c.res.headers };
    c.res = undefined; // replace, not merge: the new response carries the old one's status and headers
    c.res = new Response(cut(ctx, contexts, outgoing, body), init);
  }
}

type Fetch = (request: Request, env: never) => Response | Promise<Response>;

/**
 * fetchHandler returns `fetch` wrapped for @hono/node-server: every request gets its context before Hono routes
 * it, `c.env.ctx` (or `ctxOf(c)`), made by `contexts.begin(incoming, outgoing, route)`, with the same
 * guarantees as {@link lifeline}'s: it ends when the client leaves, when the response has been fully sent, at
 * the deadline (a 503 if nothing was sent, and node-server is told not to write the late response), or when
 * `contexts.shutdown` gives up waiting; a streamed body that stops with the request's own stop is cut the way
 * a client that left cuts it.
 *
 * Use it for the app-wide ctx: `createAdaptorServer({ fetch: fetchHandler(contexts, app.fetch) })`. Unlike a
 * middleware it costs Hono nothing: any middleware takes a route off Hono's one-handler fast path (measured
 * with wrk: an empty `app.use((c, next) => next())` costs about as much CPU per request as lifeline's whole
 * work). The ctx exists before routing, so a route cannot give it another deadline (`lifeline(contexts,
 * { timeoutMs })` on it fails the request with a TypeError): a route that needs a shorter one narrows it with
 * `withTimeout(ctx, ms)`, or the server passes `route` here for all. Requests without a node response (a
 * WebSocket upgrade) pass through untouched.
 *
 * @throws TypeError if `contexts` is not an {@link HttpContexts} or `fetch` is not a function.
 */
export function fetchHandler<F extends Fetch>(contexts: HttpContexts, fetch: F, route?: RouteOptions): F {
  checkContexts("fetchHandler", contexts);
  checkRoute("fetchHandler", route);
  if (typeof fetch !== "function") throw new TypeError(`fetchHandler: fetch must be a function, got ${typeof fetch}`);
  return function lifelineFetch(request: Request, env: (HttpBindings | Http2Bindings) & LifelineBindings) {
    const outgoing = env?.outgoing as HttpBindings["outgoing"] | Http2Bindings["outgoing"] | undefined;
    if (outgoing === undefined || env.incoming === undefined) return fetch(request, env as never);
    const ctx = contexts.begin(env.incoming, outgoing, route);
    env.ctx = ctx;
    const res = fetch(request, env as never);
    return res instanceof Promise ? res.then((r) => settled(ctx, contexts, outgoing, r)) : settled(ctx, contexts, outgoing, res);
  } as unknown as F;
}

/** settled is what lifeline's middleware does after the handler, for a response fetchHandler is about to return. */
function settled(ctx: Context, contexts: HttpContexts, outgoing: HttpBindings["outgoing"] | Http2Bindings["outgoing"], res: Response): Response {
  if (outgoing.headersSent) return RESPONSE_ALREADY_SENT; // the deadline's 503 went out on the node response
  const body = streamBody(res);
  if (body === undefined) return res;
  return new Response(cut(ctx, contexts, outgoing, body), { status: res.status, headers: res.headers });
}

/**
 * The symbol under which @hono/node-server's lightweight Response keeps its status, body and headers, found on
 * the first response that has it: reading `res.body` would turn every plain-text response into a real one
 * (and send it down node-server's slow path). Where it is not found, `res.body` is read.
 */
let cacheKey: symbol | undefined;

/** streamBody returns the response's body if it is a stream, else undefined. */
function streamBody(res: Response): ReadableStream<Uint8Array> | undefined {
  let body: unknown;
  const cached = cacheKey === undefined ? undefined : (res as unknown as Record<symbol, unknown[] | undefined>)[cacheKey];
  if (cached !== undefined) body = cached[1];
  else {
    cacheKey ??= Object.getOwnPropertySymbols(res).find((s) => s.description === "cache");
    const found = cacheKey === undefined ? undefined : (res as unknown as Record<symbol, unknown[] | undefined>)[cacheKey];
    body = found !== undefined ? found[1] : res.body;
  }
  return typeof (body as { getReader?: unknown } | null)?.getReader === "function" ? (body as ReadableStream<Uint8Array>) : undefined;
}

/**
 * cut passes a streamed body through. If the source fails with its request's own stop (a deadline, a
 * shutdown), it resets the response, so the client sees it cut short, and leaves the body pending: the
 * response's 'close' makes @hono/node-server cancel it, the path of a client that left, which it does not log.
 * Any other failure is passed on, and node-server reports it as before.
 */
function cut(ctx: Context, contexts: HttpContexts, outgoing: HttpBindings["outgoing"] | Http2Bindings["outgoing"], source: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (error) {
        if (!contexts.stopped(ctx, error)) throw error;
        if (isOpen(outgoing)) reset(outgoing);
        return new Promise<void>(() => {}); // settled by cancel(), once node-server sees the response close
      }
      if (r.done) controller.close();
      else controller.enqueue(r.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/**
 * ctxOf returns the request's context, set by {@link lifeline} (`c.get("ctx")`) or {@link fetchHandler}
 * (`c.env.ctx`). Use it on an app whose env does
 * not declare {@link LifelineVariables}, or to fail clearly on a route that lifeline does not cover.
 *
 * @throws TypeError naming the route when no lifeline middleware ran before it.
 */
export function ctxOf(c: HonoContext): Context {
  const ctx = typeof c?.get === "function" ? ctxIn(c) : undefined;
  if (ctx === undefined) {
    const where = c?.req === undefined ? String(c) : `${c.req.method} ${c.req.path}`;
    throw new TypeError(`ctxOf: ${where} has no ctx: register lifeline(contexts) from @lifeline/http/hono before this route (app.use(lifeline(contexts))), or serve the app with fetchHandler(contexts, app.fetch)`);
  }
  return ctx;
}

/**
 * errorHandler returns a Hono error handler, for `app.onError(errorHandler(contexts))`, that gives handler
 * failures lifeline's semantics (see `HttpContexts.failed`): a failure because the client left, or because
 * the ctx's deadline passed or the server shut down, is not reported (the ctx's cause says why; a
 * disconnect is counted in `contexts.stats.disconnected`) and answered with a 503 if the connection is
 * still open; any other failure is reported once through the `onError` option and answered with a 500.
 *
 * Errors that carry their own response (`HTTPException`) or a 4xx status, and requests without a ctx,
 * are answered as Hono's default handler does, without reporting.
 *
 * @throws TypeError if `contexts` is not an {@link HttpContexts}.
 */
export function errorHandler(contexts: HttpContexts): ErrorHandler<LifelineEnv> {
  checkContexts("errorHandler", contexts);
  return function lifelineErrors(error, c) {
    if ("getResponse" in error) {
      const res = error.getResponse();
      return c.newResponse(res.body, res);
    }
    const ctx = ctxIn(c);
    const clientStatus = clientError(error);
    if (clientStatus !== undefined) return c.text(error.message, clientStatus as 400);
    if (ctx === undefined) {
      console.error(error);
      return c.text("Internal Server Error", 500);
    }
    const { incoming, outgoing } = bindings(c);
    const { status } = contexts.failed(ctx, error, { method: incoming.method ?? c.req.method, url: incoming.url ?? c.req.path });
    // A response already written (the deadline's 503) is left alone by lifeline's middleware; one whose
    // client left cannot be written to.
    if (!isOpen(outgoing)) return c.body(null, 503);
    return c.text(status === 500 ? "internal server error\n" : "request canceled\n", status as 500 | 503);
  };
}
