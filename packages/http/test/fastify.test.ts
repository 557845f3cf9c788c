import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import { createServer } from "node:http";
import { cause, type Context } from "@lifeline/core";
import { HttpContexts, ResponseCompleted } from "@lifeline/http";
import { ctxOf, errorHandler, lifeline, serverFactory } from "@lifeline/http/fastify";
import { conformance } from "./conformance.js";
import { fastifyTarget, FORMS, make } from "./fastify-target.js";
import { client, ended } from "./support.js";

for (const form of FORMS) conformance(fastifyTarget(false, form)); // over HTTP/2: fastify-h2.test.ts

for (const form of FORMS) describe(`@lifeline/http/fastify (${form})`, () => {
  async function start(build: (app: FastifyInstance, contexts: HttpContexts) => Promise<void>) {
    const reported: unknown[] = [];
    const contexts = new HttpContexts({ onError: (e) => reported.push(e) });
    const app = make(form, contexts);
    await build(app, contexts);
    await app.listen({ port: 0, host: "127.0.0.1" });
    const c = client("http", (app.server.address() as AddressInfo).port);
    return { contexts, reported, c, close: async () => (c.close(), await contexts.shutdown(app.server, 0), await app.close()) };
  }

  it("fails to register without an HttpContexts", async () => {
    const app = Fastify();
    app.register(lifeline, {} as { contexts: HttpContexts });
    await assert.rejects(
      async () => app.ready(),
      { name: "TypeError", message: /options.contexts must be an HttpContexts, got undefined/ },
    );
    await app.close();
  });

  it("errorHandler passes 4xx errors on to Fastify's default handler, unreported", async () => {
    const s = await start(async (app, contexts) => {
      await app.register(lifeline, { contexts });
      app.get("/teapot", async () => {
        throw Object.assign(new Error("short and stout"), { statusCode: 418 });
      });
    });
    try {
      const r = await s.c.request({ path: "/teapot" }).done;
      assert.equal(r.status, 418);
      assert.match(r.body, /short and stout/);
      assert.deepEqual(s.reported, []);
    } finally {
      await s.close();
    }
  });

  it("with errorHandler: false the app's own error handler runs, and can call lifeline's", async () => {
    const mine: unknown[] = [];
    const s = await start(async (app, contexts) => {
      await app.register(lifeline, { contexts, errorHandler: false });
      const lifelines = errorHandler(contexts);
      app.setErrorHandler<FastifyError>((error, request, reply) => {
        mine.push(error);
        return lifelines(error, request, reply);
      });
      app.get("/boom", async () => {
        throw new Error("boom");
      });
    });
    try {
      const r = await s.c.request({ path: "/boom" }).done;
      assert.equal(r.status, 500);
      assert.equal(mine.length, 1);
      assert.equal(s.reported.length, 1);
    } finally {
      await s.close();
    }
  });

  it("errorHandler refuses a contexts that is not an HttpContexts", () => {
    assert.throws(() => errorHandler({} as HttpContexts), { name: "TypeError", message: /errorHandler: contexts must be an HttpContexts/ });
  });
});

describe("@lifeline/http/fastify serverFactory", () => {
  it("makes the ctx before Fastify routes the request; request.ctx and ctxOf find it, and it ends with the response", async (t) => {
    const contexts = new HttpContexts({ onError: () => {} });
    const seen: Array<Context | null | undefined> = [];
    const app = Fastify({ serverFactory: serverFactory(contexts) });
    await app.register(lifeline, { contexts });
    app.get("/a", async (request) => (seen.push(request.ctx, ctxOf(request)), "a"));
    app.get("/b", async (request) => (seen.push(request.ctx, ctxOf(request)), "b"));
    await app.listen({ port: 0, host: "127.0.0.1" });
    const c = client("http", (app.server.address() as AddressInfo).port);
    t.after(async () => (c.close(), await contexts.shutdown(app.server, 0), await app.close()));
    assert.equal((await c.request({ path: "/a" }).done).body, "a");
    assert.equal((await c.request({ path: "/b" }).done).body, "b");
    assert.equal(seen.length, 4);
    assert.ok(seen[0] != null && seen[0] === seen[1]);
    assert.ok(seen[2] != null && seen[2] === seen[3]);
    assert.notEqual(seen[0], seen[2]);
    for (const ctx of [seen[0]!, seen[2]!]) {
      await ended(ctx);
      assert.equal(cause(ctx), ResponseCompleted);
    }
    assert.equal(contexts.stats.requests, 2);
  });

  it("a route with config.lifeline fails to register: behind serverFactory a route cannot set the deadline", async () => {
    const contexts = new HttpContexts();
    const app = Fastify({ serverFactory: serverFactory(contexts) });
    await app.register(lifeline, { contexts });
    assert.throws(() => app.get("/report", { config: { lifeline: { timeoutMs: 60_000 } } }, async () => "x"), {
      name: "TypeError",
      message: /^@lifeline\/http\/fastify: GET \/report config.lifeline: behind serverFactory the ctx is made before routing/,
    });
    await app.close();
    await contexts.shutdown(app.server, 0);
  });

  it("the plugin refuses another HttpContexts than the server's", async () => {
    const contexts = new HttpContexts();
    const other = new HttpContexts();
    const app = Fastify({ serverFactory: serverFactory(contexts) });
    app.register(lifeline, { contexts: other });
    await assert.rejects(async () => app.ready(), { name: "TypeError", message: /the server was made by serverFactory with another HttpContexts/ });
    await app.close();
    await contexts.shutdown(app.server, 0);
    await other.shutdown(app.server, 0);
  });

  it("refuses a contexts that is not an HttpContexts, bad route options, and HTTP/2", async () => {
    assert.throws(() => serverFactory({} as HttpContexts), { name: "TypeError", message: /serverFactory: contexts must be an HttpContexts/ });
    const contexts = new HttpContexts();
    assert.throws(() => serverFactory(contexts, { timeoutMs: -1 }), { name: "TypeError", message: /^serverFactory: route\.timeoutMs must be/ });
    assert.throws(() => serverFactory(contexts)(() => {}, { http2: true }), { name: "TypeError", message: /HTTP\/2 is not supported/ });
    await contexts.shutdown(createServer(), 0);
  });

  it("applies Fastify's server options to its server, as Fastify does to its own", async () => {
    const contexts = new HttpContexts();
    const app = Fastify({ serverFactory: serverFactory(contexts), keepAliveTimeout: 1234, requestTimeout: 4321, connectionTimeout: 999, maxRequestsPerSocket: 7 });
    assert.equal(app.server.keepAliveTimeout, 1234);
    assert.equal(app.server.requestTimeout, 4321);
    assert.equal(app.server.timeout, 999);
    assert.equal(app.server.maxRequestsPerSocket, 7);
    await app.close();
    await contexts.shutdown(app.server, 0);
  });
});

after(() => assertNoLeaks());
