// Issue 9, section 1: a stop that lifeline caused (a deadline, a shutdown) ends the response the way each
// framework treats as normal, so its logs and onError stay for real failures. Each test captures the
// framework's own output (Fastify's logger, @hono/node-server's console) and asserts nothing was logged for
// the stop, while a real failure on the same route shape still is.
import { after, describe, it, type TestContext } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, request as httpRequest, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import express from "express";
import type { FastifyInstance } from "fastify";
import { Hono } from "hono";
import { createAdaptorServer } from "@hono/node-server";
import { sleep, type Context } from "@lifeline/core";
import { HttpContexts } from "@lifeline/http";
import { ctxOf as expressCtx, errorHandler as expressErrors, lifeline as expressLifeline, requestListener as expressListener } from "@lifeline/http/express";
import { ctxOf as fastifyCtx, lifeline as fastifyLifeline } from "@lifeline/http/fastify";
import { errorHandler as honoErrors, lifeline as honoLifeline, type LifelineEnv } from "@lifeline/http/hono";
import { client, deferred, ended, listen } from "./support.js";
import { FORMS as FASTIFY_FORMS, make as makeFastify, type Form } from "./fastify-target.js";
import { webStream } from "./hono-target.js";

const BOUND = { timeout: 8000 };
/** settle lets a rejection travel through the framework's promise callbacks (microtasks and a tick). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** closedOf resolves when the response has closed (finished or cut): a late write after it is certainly late. */
function closedOf(res: { closed?: boolean; once(event: "close", f: () => void): unknown }): Promise<void> {
  return res.closed === true ? Promise.resolve() : new Promise((resolve) => res.once("close", () => resolve()));
}

for (const form of ["middleware", "requestListener"] as const) describe(`Express (${form}): a late write after lifeline answered the deadline`, () => {
  it("is not reported through onError (no \"Cannot set headers after they are sent\")", BOUND, async (t) => {
    const reported: unknown[] = [];
    const contexts = new HttpContexts({ onError: (e) => reported.push(e) });
    const wrote = deferred<unknown>();
    const app = express();
    const route = { timeoutMs: 30 };
    // The middleware form mounts lifeline on the route; the front door gives every request the route's deadline.
    app.get("/slow", form === "middleware" ? expressLifeline(contexts, route) : (_req, _res, next) => next(), async (req, res) => {
      await ended(expressCtx(req)); // a handler that noticed too late
      await closedOf(res);
      try {
        res.send("late");
      } catch (e) {
        wrote.resolve(e);
        throw e;
      }
      wrote.resolve(undefined);
    });
    app.use(expressErrors(contexts));
    const server = createServer(form === "middleware" ? app : expressListener(contexts, app, route));
    const c = client("http", await listen(server));
    t.after(async () => (c.close(), await contexts.shutdown(server, 0)));
    const r = await c.request({ path: "/slow" }).done;
    assert.equal(r.status, 503);
    assert.equal(r.body, "request timed out\n");
    const e = (await wrote.promise) as { code?: string } | undefined;
    assert.equal(e?.code, "ERR_HTTP_HEADERS_SENT", "the late write did fail");
    await settle();
    assert.deepEqual(reported, []);
    assert.equal(contexts.stats.failed, 0);
    assert.equal(contexts.stats.timedOut, 1);
  });
});

interface LogLine {
  level: number;
  msg?: string;
}

/**
 * fastify serves an app in `form` with a logger that captures Fastify's lines; `timeoutMs` is the deadline of
 * the routes that pass {@link timed}'s options (in config.lifeline for the plugin; behind serverFactory, where the
 * ctx is made before routing, the server's deadline for every route).
 */
async function fastify(t: TestContext, form: Form, build: (app: FastifyInstance, contexts: HttpContexts) => void, timeoutMs?: number) {
  const reported: unknown[] = [];
  const lines: LogLine[] = [];
  const contexts = new HttpContexts({ onError: (e) => reported.push(e) });
  const logger = { level: "info", stream: { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) } };
  const app = makeFastify(form, contexts, { logger }, form === "serverFactory" && timeoutMs !== undefined ? { timeoutMs } : undefined);
  await app.register(fastifyLifeline, { contexts });
  build(app, contexts);
  await app.listen({ port: 0, host: "127.0.0.1" });
  const c = client("http", (app.server.address() as AddressInfo).port);
  t.after(async () => (c.close(), await contexts.shutdown(app.server, 0), await app.close()));
  /** loud lists what Fastify logged at warn level or above (40: warn, 50: error). */
  const loud = () => lines.filter((l) => l.level >= 40).map((l) => l.msg);
  return { app, contexts, reported, c, loud };
}

/** stream yields one chunk, then waits for its ctx to end and fails with its err, as cancellable work does. */
async function* untilStopped(ctx: Context, stopped?: () => void): AsyncGenerator<string> {
  yield "data: 1\n\n";
  await ended(ctx);
  stopped?.();
  throw ctx.err();
}

/** timed is a route's options with its deadline: in config.lifeline for the plugin, else none (serverFactory has it). */
function timed(form: Form, timeoutMs: number): { config: { lifeline?: { timeoutMs: number } } } {
  return form === "plugin" ? { config: { lifeline: { timeoutMs } } } : { config: {} };
}

for (const form of FASTIFY_FORMS) describe(`Fastify (${form}): a handler that stops because its ctx ended`, () => {
  it("after the deadline's answer, rejecting with ctx.err() logs nothing (no \"Promise errored, but reply.sent = true\")", BOUND, async (t) => {
    const stopped = deferred();
    const s = await fastify(t, form, (app) => {
      app.get("/slow", timed(form, 30), async (request) => {
        try {
          await sleep(fastifyCtx(request), 10_000);
        } finally {
          stopped.resolve();
        }
        return "unreachable";
      });
    }, 30);
    const r = await s.c.request({ path: "/slow" }).done;
    assert.equal(r.status, 503);
    assert.equal(r.body, "request timed out\n");
    await stopped.promise;
    await settle();
    assert.deepEqual(s.loud(), []);
    assert.deepEqual(s.reported, []);
    assert.equal(s.contexts.stats.failed, 0);
    assert.equal(s.contexts.stats.timedOut, 1);
  });

  it("the deadline's answer, once the handler runs, goes through Fastify's reply: its onSend hooks see it", BOUND, async (t) => {
    const s = await fastify(t, form, (app) => {
      app.addHook("onSend", (_request, reply, payload, done) => {
        reply.header("x-seen-by-onsend", "yes");
        done(null, payload);
      });
      app.get("/slow", timed(form, 30), async (request) => {
        await ended(fastifyCtx(request));
        throw fastifyCtx(request).err();
      });
    }, 30);
    const r = await s.c.request({ path: "/slow" }).done;
    assert.equal(r.status, 503);
    assert.equal(r.headers["x-seen-by-onsend"], "yes");
    await settle();
    assert.deepEqual(s.loud(), []);
    assert.deepEqual(s.reported, []);
    assert.equal(s.contexts.stats.timedOut, 1);
  });

  it("a deadline that passes while Fastify still reads a slow JSON body answers 503 and logs nothing; the handler never runs", BOUND, async (t) => {
    let ran = false;
    const s = await fastify(t, form, (app) => {
      app.post("/upload", timed(form, 50), async () => {
        ran = true;
        return "unreachable";
      });
    }, 50);
    const port = (s.app.server.address() as AddressInfo).port;
    const req = httpRequest({ host: "127.0.0.1", port, method: "POST", path: "/upload", headers: { "content-type": "application/json", "content-length": "100" } });
    req.on("error", () => {});
    req.write("{"); // and nothing more: a client uploading slowly
    const [res] = (await once(req, "response")) as [IncomingMessage];
    assert.equal(res.statusCode, 503);
    res.resume();
    req.destroy();
    await closedOf(req.socket!);
    for (let i = 0; i < 5; i++) await settle();
    assert.equal(ran, false);
    assert.deepEqual(s.loud(), []);
    assert.deepEqual(s.reported, []);
    assert.equal(s.contexts.stats.timedOut, 1);
  });

  it("a late payload after the deadline's answer logs nothing (no \"Reply was already sent\")", BOUND, async (t) => {
    const returned = deferred();
    const s = await fastify(t, form, (app) => {
      app.get("/slow", timed(form, 30), async (request, reply) => {
        await ended(fastifyCtx(request));
        await closedOf(reply.raw);
        returned.resolve();
        return "late";
      });
    }, 30);
    assert.equal((await s.c.request({ path: "/slow" }).done).status, 503);
    await returned.promise;
    await settle();
    assert.deepEqual(s.loud(), []);
  });

  it("a stream cut by its deadline after the headers logs no warning; the client sees it cut", BOUND, async (t) => {
    const stopped = deferred();
    const s = await fastify(t, form, (app) => {
      app.get("/sse", timed(form, 50), async (request, reply) =>
        reply.type("text/event-stream").send(Readable.from(untilStopped(fastifyCtx(request), stopped.resolve))),
      );
    }, 50);
    const call = s.c.request({ path: "/sse" });
    await call.until("data: 1");
    await assert.rejects(call.done);
    await stopped.promise;
    await settle();
    assert.deepEqual(s.loud(), []);
    assert.deepEqual(s.reported, []);
    assert.equal(s.contexts.stats.timedOut, 1);
  });

  it("a stream cut by shutdown logs no warning", BOUND, async (t) => {
    const started = deferred<Context>();
    const stopped = deferred();
    const s = await fastify(t, form, (app) => {
      app.get("/sse", async (request, reply) => {
        started.resolve(fastifyCtx(request));
        return reply.type("text/event-stream").send(Readable.from(untilStopped(fastifyCtx(request), stopped.resolve)));
      });
    });
    const call = s.c.request({ path: "/sse" });
    await call.until("data: 1");
    await started.promise;
    const report = await s.contexts.shutdown(s.app.server, 0);
    assert.equal(report.cancelled.length, 1);
    await assert.rejects(call.done);
    await stopped.promise;
    await settle();
    assert.deepEqual(s.loud(), []);
  });

  it("a stream that fails for a real reason after the headers is still logged", BOUND, async (t) => {
    const s = await fastify(t, form, (app) => {
      app.get("/sse", async (_request, reply) =>
        reply.type("text/event-stream").send(
          Readable.from(
            (async function* () {
              yield "data: 1\n\n";
              throw new Error("upstream broke");
            })(),
          ),
        ),
      );
    });
    await assert.rejects(s.c.request({ path: "/sse" }).done);
    for (let i = 0; i < 100 && s.loud().length === 0; i++) await settle();
    assert.deepEqual(s.loud(), ["response terminated with an error with headers already sent"]);
  });
});

describe("Hono (@hono/node-server): a stream cut by lifeline", () => {
  /** consoleLines captures console.error and console.info while the test runs. */
  function consoleLines(t: TestContext): unknown[][] {
    const lines: unknown[][] = [];
    const { error, info } = console;
    console.error = (...args: unknown[]) => void lines.push(args);
    console.info = (...args: unknown[]) => void lines.push(args);
    t.after(() => Object.assign(console, { error, info }));
    return lines;
  }

  async function hono(t: TestContext, build: (app: Hono<LifelineEnv>, contexts: HttpContexts) => void) {
    const reported: unknown[] = [];
    const contexts = new HttpContexts({ onError: (e) => reported.push(e) });
    const app = new Hono<LifelineEnv>();
    build(app, contexts);
    app.onError(honoErrors(contexts));
    const server = createAdaptorServer({ fetch: app.fetch }) as ReturnType<typeof createServer>;
    const c = client("http", await listen(server));
    t.after(async () => (c.close(), await contexts.shutdown(server, 0)));
    return { contexts, reported, c, server };
  }

  it("by its deadline prints nothing; the client sees it cut", BOUND, async (t) => {
    const lines = consoleLines(t);
    const stopped = deferred();
    const s = await hono(t, (app, contexts) => {
      app.get("/sse", honoLifeline(contexts, { timeoutMs: 50 }), (c) =>
        c.body(webStream(untilStopped(c.var.ctx, stopped.resolve)), 200, { "content-type": "text/event-stream" }),
      );
    });
    const call = s.c.request({ path: "/sse" });
    await call.until("data: 1");
    await assert.rejects(call.done);
    await stopped.promise;
    for (let i = 0; i < 5; i++) await settle(); // node-server's error path, had it been taken, runs by now
    assert.deepEqual(lines, []);
    assert.deepEqual(s.reported, []);
    assert.equal(s.contexts.stats.timedOut, 1);
  });

  it("by shutdown prints nothing", BOUND, async (t) => {
    const lines = consoleLines(t);
    const stopped = deferred();
    const s = await hono(t, (app, contexts) => {
      app.use(honoLifeline(contexts));
      app.get("/sse", (c) => c.body(webStream(untilStopped(c.var.ctx, stopped.resolve)), 200, { "content-type": "text/event-stream" }));
    });
    const call = s.c.request({ path: "/sse" });
    await call.until("data: 1");
    const report = await s.contexts.shutdown(s.server, 0);
    assert.equal(report.cancelled.length, 1);
    await assert.rejects(call.done);
    await stopped.promise;
    for (let i = 0; i < 5; i++) await settle();
    assert.deepEqual(lines, []);
  });

  it("a stream that fails for a real reason is still printed by node-server", BOUND, async (t) => {
    const lines = consoleLines(t);
    const boom = new Error("upstream broke");
    const s = await hono(t, (app, contexts) => {
      app.use(honoLifeline(contexts));
      app.get("/sse", (c) =>
        c.body(
          webStream(
            (async function* () {
              yield "data: 1\n\n";
              throw boom;
            })(),
          ),
          200,
          { "content-type": "text/event-stream" },
        ),
      );
    });
    await assert.rejects(s.c.request({ path: "/sse" }).done);
    for (let i = 0; i < 100 && lines.length === 0; i++) await settle();
    assert.deepEqual(lines, [[boom]]);
  });

  it("a plain-text response is left alone (status, headers and body unchanged)", BOUND, async (t) => {
    const s = await hono(t, (app, contexts) => {
      app.use(honoLifeline(contexts));
      app.get("/x", (c) => c.text("hello", 201, { "x-mine": "1" }));
    });
    const r = await s.c.request({ path: "/x" }).done;
    assert.equal(r.status, 201);
    assert.equal(r.body, "hello");
    assert.equal(r.headers["x-mine"], "1");
  });
});

after(() => assertNoLeaks());
