// One server of bench/http.mjs, run as its own process so that its CPU time is its own and no other server's GC
// or JIT lands in its samples. Driven over IPC:
//
//   node bench/http-server.mjs <framework> <variant>   framework: node | express | fastify | hono
//                                                       variant:   bare (the app alone) | ours (with lifeline);
//                                                       door (express: requestListener, fastify:
//                                                       serverFactory), hono fetch
//                                                       (fetchHandler); for comparison runs,
//                                                       fastify hook (an empty onRequest hook), fastify begin
//                                                       (a serverFactory calling only contexts.begin), express and
//                                                       hono mw (an empty middleware), all without lifeline
//   → sends { port } once listening; on { cmd: "cpu" } answers { cpuUs } (user + system, this process);
//     on { cmd: "stats" } answers the lifeline counters (ours only).
//
// Each pair answers the same 3 bytes; ours reads its ctx, as a handler would. BENCH_HTTP_TIMEOUT_MS=5000 in the
// environment gives ours a server timeout (each request ctx a deadline, cancelled when the response is sent).
import http from "node:http";

const [framework, variant] = process.argv.slice(2);
const ours = variant === "ours" || variant === "door" || variant === "fetch";
const BODY = "ok\n";
const HEADERS = { "content-type": "text/plain" };
const { HttpContexts } = await import("@lifeline/http");
const timeoutMs = Number(process.env.BENCH_HTTP_TIMEOUT_MS ?? Infinity);
const contexts = new HttpContexts({ timeoutMs });

async function make() {
  switch (framework) {
    case "node":
      return http.createServer(
        ours
          ? contexts.handler((ctx, _req, res) => res.writeHead(200, HEADERS).end(ctx.err() === undefined ? BODY : "late\n"))
          : (_req, res) => res.writeHead(200, HEADERS).end(BODY),
      );
    case "express": {
      const { default: express } = await import("express");
      const { lifeline, ctxOf, requestListener } = await import("@lifeline/http/express");
      const app = express();
      if (variant === "door") {
        app.get("/", (req, res) => res.type("text/plain").send(ctxOf(req).err() === undefined ? BODY : "late\n"));
        return http.createServer(requestListener(contexts, app));
      }
      if (ours) {
        app.use(lifeline(contexts));
        app.get("/", (req, res) => res.type("text/plain").send(ctxOf(req).err() === undefined ? BODY : "late\n"));
      } else {
        // For comparison runs: what any middleware costs in Express, apart from lifeline's work.
        if (variant === "mw") app.use((_req, _res, next) => next());
        app.get("/", (_req, res) => res.type("text/plain").send(BODY));
      }
      return http.createServer(app);
    }
    case "fastify": {
      const { default: Fastify } = await import("fastify");
      const { lifeline, ctxOf, serverFactory } = await import("@lifeline/http/fastify");
      // begin (comparison runs): the ctx made and ended by HttpContexts alone, no plugin, nothing reads it.
      const beginOnly = (handler) => http.createServer((req, res) => (contexts.begin(req, res), handler(req, res)));
      const app = variant === "door" ? Fastify({ serverFactory: serverFactory(contexts) }) : variant === "begin" ? Fastify({ serverFactory: beginOnly }) : Fastify();
      if (ours) {
        await app.register(lifeline, { contexts });
        app.get("/", (req, reply) => reply.type("text/plain").send(ctxOf(req).err() === undefined ? BODY : "late\n"));
      } else {
        // For comparison runs (node bench/http.mjs): what an empty hook costs in Fastify, apart from lifeline's work.
        if (variant === "hook") app.addHook("onRequest", (_req, _reply, next) => next());
        app.get("/", (_req, reply) => reply.type("text/plain").send(BODY));
      }
      await app.ready();
      return app.server;
    }
    case "hono": {
      const { Hono } = await import("hono");
      const { createAdaptorServer } = await import("@hono/node-server");
      const { fetchHandler, lifeline, ctxOf } = await import("@lifeline/http/hono");
      const app = new Hono();
      if (variant === "fetch") {
        app.get("/", (c) => c.text(ctxOf(c).err() === undefined ? BODY : "late\n"));
        return createAdaptorServer({ fetch: fetchHandler(contexts, app.fetch) });
      }
      if (ours) {
        app.use(lifeline(contexts));
        app.get("/", (c) => c.text(ctxOf(c).err() === undefined ? BODY : "late\n"));
      } else {
        // For comparison runs: what any middleware costs in Hono (it leaves Hono's one-handler fast path).
        if (variant === "mw") app.use((_c, next) => next());
        app.get("/", (c) => c.text(BODY));
      }
      return createAdaptorServer({ fetch: app.fetch });
    }
    default:
      throw new Error(`http-server: unknown framework ${framework}`);
  }
}

const server = await make();
server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
process.on("message", (m) => {
  if (m.cmd === "cpu") {
    const u = process.cpuUsage();
    process.send({ cpuUs: u.user + u.system });
  } else if (m.cmd === "stats") process.send({ stats: { ...contexts.stats } });
});
process.on("disconnect", () => process.exit(0));
