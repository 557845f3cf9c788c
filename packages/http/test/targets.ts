// Targets for the conformance suite: plain node:http, node:https, and the node:http2 compat and stream
// APIs, each wired the way a user of HttpContexts would.
import { createServer as createHttp, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttps } from "node:https";
import { createServer as createH2, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import type { HttpContexts, RouteOptions } from "@lifeline/http";
import type { Answer, Route, Routes, Running, Target } from "./conformance.js";
import { listen, text, TLS } from "./support.js";

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

/** routeOptions is the RouteOptions of a route (exactOptionalPropertyTypes: no `timeoutMs: undefined`). */
export function routeOptions(route: Route): RouteOptions | undefined {
  return route.timeoutMs === undefined ? undefined : { timeoutMs: route.timeoutMs };
}

/** pathname is the path of a request target, without its query. */
export function pathname(url: string | undefined): string {
  return new URL(url ?? "/", "http://localhost").pathname;
}

/** render writes an answer on a node response (HTTP/1 or HTTP/2 compat). */
export async function render(res: Res, a: Answer): Promise<void> {
  const r = res as ServerResponse;
  if ("text" in a) {
    r.writeHead(a.status ?? 200, { "content-type": "text/plain" }).end(a.text);
    return;
  }
  r.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  for await (const chunk of a.stream) r.write(chunk);
  r.end();
}

/** listener dispatches to the routes through `contexts.handler`. */
export function listener(contexts: HttpContexts, routes: Routes): (req: Req, res: Res) => void {
  const byPath = new Map(
    Object.entries(routes).map(([path, route]) => [
      path,
      contexts.handler<Req, Res>(async (ctx, req, res) => render(res, await route.run(ctx, () => text(req))), routeOptions(route)),
    ]),
  );
  return (req, res) => {
    const l = byPath.get(pathname(req.url));
    if (l !== undefined) l(req, res);
    else (res as ServerResponse).writeHead(404).end();
  };
}

/** closer closes a node server for good: idempotent, and it does not wait for clients to leave. */
export function closer(server: { close(cb?: () => void): unknown; closeAllConnections?: () => void; listening: boolean }): () => Promise<void> {
  return async () => {
    if (!server.listening) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections?.();
    });
  };
}

export const httpTarget: Target = {
  name: "node:http",
  protocol: "http",
  async start(contexts, routes): Promise<Running> {
    const server = createHttp(listener(contexts, routes));
    return { port: await listen(server), server, close: closer(server) };
  },
};

export const httpsTarget: Target = {
  name: "node:https",
  protocol: "https",
  async start(contexts, routes): Promise<Running> {
    const server = createHttps(TLS, listener(contexts, routes));
    return { port: await listen(server), server, close: closer(server) };
  },
};

/** h2Closer closes an HTTP/2 server and destroys the sessions it still has. */
function h2Closer(server: ReturnType<typeof createH2>): () => Promise<void> {
  const sessions = new Set<{ destroy(): void }>();
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  return async () => {
    if (!server.listening) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sessions) s.destroy();
    });
  };
}

export const h2CompatTarget: Target = {
  name: "node:http2 compat",
  protocol: "h2",
  async start(contexts, routes): Promise<Running> {
    const server = createH2(listener(contexts, routes));
    return { port: await listen(server), server, close: h2Closer(server) };
  },
};

export const h2StreamTarget: Target = {
  name: "node:http2 stream",
  protocol: "h2",
  async start(contexts, routes): Promise<Running> {
    const server = createH2();
    server.on("stream", (stream, headers) => {
      const route = routes[pathname(headers[":path"])];
      if (route === undefined) {
        stream.respond({ ":status": 404 });
        stream.end();
        return;
      }
      stream.on("error", () => {}); // a reset stream errors; the ctx says why
      const ctx = contexts.beginStream(stream, headers, routeOptions(route));
      const request = { method: String(headers[":method"]), url: String(headers[":path"]) };
      (async () => {
        const a = await route.run(ctx, () => text(stream));
        if ("text" in a) {
          stream.respond({ ":status": a.status ?? 200, "content-type": "text/plain" });
          stream.end(a.text);
          return;
        }
        stream.respond({ ":status": 200, "content-type": "text/event-stream" });
        for await (const chunk of a.stream) stream.write(chunk);
        stream.end();
      })().catch((error: unknown) => {
        // What HttpContexts.failed does for a response, done by hand for a raw stream.
        const { status } = contexts.failed(ctx, error, request);
        if (stream.destroyed || stream.writableEnded) return;
        // Only destroy(error) resets: close(code) and destroy() end the stream, and the client reads a normal end.
        if (stream.headersSent) stream.destroy(new Error("response reset"));
        else {
          stream.respond({ ":status": status, "content-type": "text/plain" });
          stream.end(status === 500 ? "internal server error\n" : "request canceled\n");
        }
      });
    });
    return { port: await listen(server), server, close: h2Closer(server) };
  },
};
