// The Fastify 5 target of the conformance suite, over HTTP/1.1 or HTTP/2.
import type { Http2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { Context } from "@lifeline/core";
import type { HttpContexts, RouteOptions } from "@lifeline/http";
import { ctxOf, lifeline, serverFactory } from "@lifeline/http/fastify";
import type { Routes, Target } from "./conformance.js";
import { routeOptions } from "./targets.js";
import { text } from "./support.js";

/** Form is how the app gets its ctx: the plugin's onRequest hook, or made by lifeline's serverFactory (the plugin only finds it). */
export type Form = "plugin" | "serverFactory";
export const FORMS: readonly Form[] = ["plugin", "serverFactory"];

/**
 * doorRoute is the route options behind serverFactory, where the ctx is made before routing: the routes'
 * common timeout, given to serverFactory for every request (a test whose routes differ cannot be served so).
 */
function doorRoute(routes: Routes): RouteOptions | undefined {
  const timeouts = new Set(Object.values(routes).map((r) => r.timeoutMs));
  if (timeouts.size > 1) throw new Error("fastifyTarget: behind serverFactory every route has the server's deadline");
  const [timeoutMs] = timeouts;
  return timeoutMs === undefined ? undefined : { timeoutMs };
}

/** make makes a Fastify app in `form` (serverFactory: the ctx made by lifeline's server, for every route). */
export function make(form: Form, contexts: HttpContexts, options: FastifyServerOptions = {}, route?: RouteOptions): FastifyInstance {
  return Fastify(form === "plugin" ? options : { ...options, serverFactory: serverFactory(contexts, route) }) as unknown as FastifyInstance;
}

/** register registers neutral routes the Fastify way: per-route options in config.lifeline (plugin form). */
function register(app: FastifyInstance, routes: Routes, form: Form): void {
  // Pass octet-stream bodies through unread, as a streaming upload route would: the handler reads (or not).
  app.addContentTypeParser("application/octet-stream", (_req, payload, done) => done(null, payload));
  for (const [path, route] of Object.entries(routes)) {
    const options = form === "plugin" ? routeOptions(route) : undefined;
    app.all(path, { config: options === undefined ? {} : { lifeline: options } }, async (request, reply) => {
      const ctx: Context = ctxOf(request);
      const a = await route.run(ctx, () => text(request.body as Readable));
      if ("text" in a) return reply.code(a.status ?? 200).type("text/plain").send(a.text);
      return reply.type("text/event-stream").send(Readable.from(a.stream));
    });
  }
}

export function fastifyTarget(http2: boolean, form: Form = "plugin"): Target {
  if (http2 && form !== "plugin") throw new Error("fastifyTarget: serverFactory is HTTP/1 only");
  return {
    name: (http2 ? "Fastify 5 over HTTP/2" : "Fastify 5") + (form === "plugin" ? "" : " with serverFactory"),
    protocol: http2 ? "h2" : "http",
    async start(contexts, routes) {
      const app = http2 ? (Fastify({ http2: true }) as unknown as FastifyInstance) : make(form, contexts, {}, doorRoute(routes));
      await app.register(lifeline, { contexts });
      register(app, routes, form);
      const sessions = new Set<Http2Session>();
      if (http2) app.server.on("session", (s: Http2Session) => (sessions.add(s), s.once("close", () => sessions.delete(s))));
      await app.listen({ port: 0, host: "127.0.0.1" });
      // Once, and also after contexts.shutdown closed the server: the app itself still has to close.
      let closing: Promise<void> | undefined;
      const close = async (): Promise<void> => {
        for (const s of sessions) s.destroy();
        await app.close();
      };
      return {
        port: (app.server.address() as AddressInfo).port,
        server: app.server,
        close: () => (closing ??= close()),
      };
    },
  };
}

