// The Hono 4 target of the conformance suite, served by @hono/node-server over HTTP/1.1 or HTTP/2.
import { createServer as createH2, type Http2Session } from "node:http2";
import { createAdaptorServer } from "@hono/node-server";
import { Hono, type Context as HonoContext } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ctxOf, errorHandler, fetchHandler, lifeline, type LifelineEnv } from "@lifeline/http/hono";
import type { Route, Target } from "./conformance.js";
import { closer } from "./targets.js";
import { listen } from "./support.js";

/** webStream turns an async iterable of text into a response body. */
export function webStream(chunks: AsyncIterable<string>): ReadableStream<Uint8Array> {
  const it = chunks[Symbol.asyncIterator]();
  const utf8 = new TextEncoder();
  return new ReadableStream({
    async pull(controller) {
      const r = await it.next();
      if (r.done === true) controller.close();
      else controller.enqueue(utf8.encode(r.value));
    },
    async cancel() {
      await it.return?.();
    },
  });
}

function handle(route: Route) {
  return async (c: HonoContext<LifelineEnv>) => {
    const a = await route.run(ctxOf(c), () => c.req.text());
    if ("text" in a) return c.text(a.text, (a.status ?? 200) as ContentfulStatusCode);
    return c.body(webStream(a.stream), 200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  };
}

/**
 * honoFetchTarget serves the routes with fetchHandler instead of the middleware: the ctx is made before Hono
 * routes the request, and a route with its own timeout gets its own fetchHandler (dispatched on the path).
 */
export function honoFetchTarget(): Target {
  return {
    name: "Hono 4 with fetchHandler",
    protocol: "http",
    async start(contexts, routes) {
      const app = new Hono<LifelineEnv>();
      for (const [path, route] of Object.entries(routes)) app.all(path, handle(route));
      app.onError(errorHandler(contexts));
      const plain = fetchHandler(contexts, app.fetch);
      const timed = new Map(
        Object.entries(routes)
          .filter(([, route]) => route.timeoutMs !== undefined)
          .map(([path, route]) => [path, fetchHandler(contexts, app.fetch, { timeoutMs: route.timeoutMs! })]),
      );
      const fetch: typeof app.fetch = (request, env) => (timed.get(new URL(request.url).pathname) ?? plain)(request, env);
      const server = createAdaptorServer({ fetch });
      return { port: await listen(server), server, close: closer(server as ReturnType<typeof import("node:http").createServer>) };
    },
  };
}

export function honoTarget(http2: boolean): Target {
  return {
    name: http2 ? "Hono 4 over HTTP/2" : "Hono 4",
    protocol: http2 ? "h2" : "http",
    async start(contexts, routes) {
      const app = new Hono<LifelineEnv>();
      const entries = Object.entries(routes);
      // A route with its own timeout registers lifeline itself, before the app-wide one matches.
      for (const [path, route] of entries) {
        if (route.timeoutMs !== undefined) app.all(path, lifeline(contexts, { timeoutMs: route.timeoutMs }), handle(route));
      }
      app.use(lifeline(contexts));
      for (const [path, route] of entries) if (route.timeoutMs === undefined) app.all(path, handle(route));
      app.onError(errorHandler(contexts));
      if (!http2) {
        const server = createAdaptorServer({ fetch: app.fetch });
        return { port: await listen(server), server, close: closer(server as ReturnType<typeof import("node:http").createServer>) };
      }
      const server = createAdaptorServer({ fetch: app.fetch, createServer: createH2 }) as ReturnType<typeof createH2>;
      const sessions = new Set<Http2Session>();
      server.on("session", (s) => (sessions.add(s), s.once("close", () => sessions.delete(s))));
      return {
        port: await listen(server),
        server,
        async close() {
          if (!server.listening) return;
          await new Promise<void>((resolve) => {
            server.close(() => resolve());
            for (const s of sessions) s.destroy();
          });
        },
      };
    },
  };
}
