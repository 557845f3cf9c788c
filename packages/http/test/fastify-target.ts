// The Fastify 5 target of the conformance suite, over HTTP/1.1 or HTTP/2.
import type { Http2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import Fastify, { type FastifyInstance } from "fastify";
import type { Context } from "@lifeline/core";
import { ctxOf, lifeline } from "@lifeline/http/fastify";
import type { Routes, Target } from "./conformance.js";
import { routeOptions } from "./targets.js";
import { text } from "./support.js";

/** register registers neutral routes the Fastify way: per-route options in config.lifeline. */
function register(app: FastifyInstance, routes: Routes): void {
  // Pass octet-stream bodies through unread, as a streaming upload route would: the handler reads (or not).
  app.addContentTypeParser("application/octet-stream", (_req, payload, done) => done(null, payload));
  for (const [path, route] of Object.entries(routes)) {
    const options = routeOptions(route);
    app.all(path, { config: options === undefined ? {} : { lifeline: options } }, async (request, reply) => {
      const ctx: Context = ctxOf(request);
      const a = await route.run(ctx, () => text(request.body as Readable));
      if ("text" in a) return reply.code(a.status ?? 200).type("text/plain").send(a.text);
      return reply.type("text/event-stream").send(Readable.from(a.stream));
    });
  }
}

export function fastifyTarget(http2: boolean): Target {
  return {
    name: http2 ? "Fastify 5 over HTTP/2" : "Fastify 5",
    protocol: http2 ? "h2" : "http",
    async start(contexts, routes) {
      const app = (http2 ? Fastify({ http2: true }) : Fastify()) as unknown as FastifyInstance;
      await app.register(lifeline, { contexts });
      register(app, routes);
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

