// Issue 9, section 1, honest types: `req.ctx` (Express) and `request.ctx` (Fastify) are typed as possibly
// missing, because on a route that lifeline does not cover they are; `ctxOf(req)` returns a `Context` or
// throws a TypeError naming the missing middleware. This file must compile: each @ts-expect-error line is a
// type error the declarations must keep reporting (tsc fails the build if one stops being an error).
import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Request, type RequestHandler } from "express";
import Fastify, { type FastifyRequest } from "fastify";
import { Hono, type Context as HonoContext } from "hono";
import { createAdaptorServer } from "@hono/node-server";
import type { Context } from "@lifeline/core";
import { HttpContexts } from "@lifeline/http";
import { ctxOf as expressCtx, lifeline as expressLifeline } from "@lifeline/http/express";
import { ctxOf as fastifyCtx, lifeline as fastifyLifeline } from "@lifeline/http/fastify";
import { ctxOf as honoCtx, lifeline as honoLifeline } from "@lifeline/http/hono";
import { client, listen } from "./support.js";

// Compile-time checks: never called, only type-checked.
export function typeChecks(req: Request, request: FastifyRequest, c: HonoContext): Context[] {
  // @ts-expect-error req.ctx is undefined on a route no lifeline middleware ran before
  const a: Context = req.ctx;
  // @ts-expect-error request.ctx is null outside the scope the plugin is registered in
  const b: Context = request.ctx;
  // @ts-expect-error ctxOf takes the framework's request, not anything
  expressCtx({});
  const maybe: Context | undefined = req.ctx; // what the augmentation says: maybe there, maybe not
  const sure: Context = expressCtx(req);
  const sureToo: Context = fastifyCtx(request);
  const honoSure: Context = honoCtx(c);
  return [a, b, sure, sureToo, honoSure, ...(maybe === undefined ? [] : [maybe])];
}

describe("ctxOf", () => {
  it("Express: returns req.ctx behind lifeline, and throws a TypeError naming the middleware on a route without it", async (t) => {
    const contexts = new HttpContexts({ onError: () => {} });
    const seen: unknown[] = [];
    const probe: RequestHandler = (req, res) => {
      try {
        seen.push(expressCtx(req));
      } catch (e) {
        seen.push(e);
      }
      res.end();
    };
    const app = express();
    app.get("/bare", probe);
    app.get("/covered", expressLifeline(contexts), probe);
    const server = createServer(app);
    const c = client("http", await listen(server));
    t.after(async () => (c.close(), await contexts.shutdown(server, 0)));
    await c.request({ path: "/bare" }).done;
    await c.request({ path: "/covered" }).done;
    assert.ok(seen[0] instanceof TypeError);
    assert.equal(
      seen[0].message,
      "ctxOf: GET /bare has no ctx: mount lifeline(contexts) from @lifeline/http/express before this route (app.use(lifeline(contexts)))",
    );
    assert.equal(typeof (seen[1] as Context).err, "function");
  });

  it("Fastify: throws a TypeError naming the plugin on a route outside its scope", async (t) => {
    const contexts = new HttpContexts({ onError: () => {} });
    const seen: unknown[] = [];
    const app = Fastify();
    app.get("/bare", async (request) => {
      try {
        seen.push(fastifyCtx(request));
      } catch (e) {
        seen.push(e);
      }
      return "ok";
    });
    await app.register(async (scope) => {
      await scope.register(fastifyLifeline, { contexts });
      scope.get("/covered", async (request) => (seen.push(fastifyCtx(request)), "ok"));
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const c = client("http", (app.server.address() as AddressInfo).port);
    t.after(async () => (c.close(), await contexts.shutdown(app.server, 0), await app.close()));
    await c.request({ path: "/bare" }).done;
    await c.request({ path: "/covered" }).done;
    assert.ok(seen[0] instanceof TypeError);
    assert.match(seen[0].message, /^ctxOf: GET \/bare has no ctx: register the lifeline plugin from @lifeline\/http\/fastify/);
    assert.equal(typeof (seen[1] as Context).err, "function");
  });

  it("Hono: throws a TypeError naming the middleware on a route without it", async (t) => {
    const contexts = new HttpContexts({ onError: () => {} });
    const seen: unknown[] = [];
    const app = new Hono();
    const probe = (c: HonoContext) => {
      try {
        seen.push(honoCtx(c));
      } catch (e) {
        seen.push(e);
      }
      return c.text("ok");
    };
    app.get("/bare", probe);
    app.get("/covered", honoLifeline(contexts), probe);
    const server = createAdaptorServer({ fetch: app.fetch }) as ReturnType<typeof createServer>;
    const c = client("http", await listen(server));
    t.after(async () => (c.close(), await contexts.shutdown(server, 0)));
    await c.request({ path: "/bare" }).done;
    await c.request({ path: "/covered" }).done;
    assert.ok(seen[0] instanceof TypeError);
    assert.match(seen[0].message, /^ctxOf: GET \/bare has no ctx: register lifeline\(contexts\) from @lifeline\/http\/hono/);
    assert.equal(typeof (seen[1] as Context).err, "function");
  });
});

after(() => assertNoLeaks());
