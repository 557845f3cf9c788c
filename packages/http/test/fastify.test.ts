import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import { HttpContexts } from "@lifeline/http";
import { errorHandler, lifeline } from "@lifeline/http/fastify";
import { conformance } from "./conformance.js";
import { fastifyTarget } from "./fastify-target.js";
import { client } from "./support.js";

conformance(fastifyTarget(false)); // over HTTP/2: fastify-h2.test.ts

describe("@lifeline/http/fastify", () => {
  async function start(build: (app: FastifyInstance, contexts: HttpContexts) => Promise<void>) {
    const reported: unknown[] = [];
    const contexts = new HttpContexts({ onError: (e) => reported.push(e) });
    const app = Fastify();
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

after(() => assertNoLeaks());
