import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import express, { type ErrorRequestHandler, type RequestHandler } from "express";
import { cause, type Context } from "@lifeline/core";
import { HttpContexts, ResponseCompleted } from "@lifeline/http";
import { ctxOf, errorHandler, lifeline, requestListener } from "@lifeline/http/express";
import { conformance, type Route, type Target } from "./conformance.js";
import { closer, pathname } from "./targets.js";
import { client, ended, listen, text } from "./support.js";

/** handle runs a neutral route as an Express 5 handler (a rejection goes to the error handlers). */
function handle(route: Route): RequestHandler {
  return async (req, res) => {
    const ctx: Context = ctxOf(req);
    const a = await route.run(ctx, () => text(req));
    if ("text" in a) {
      res.status(a.status ?? 200).type("text/plain").send(a.text);
      return;
    }
    res.status(200).type("text/event-stream");
    for await (const chunk of a.stream) res.write(chunk);
    res.end();
  };
}

/** Form is how the app gets its ctx: the middleware (`app.use(lifeline(contexts))`) or the front door (`requestListener`). */
type Form = "middleware" | "requestListener";
const FORMS: readonly Form[] = ["middleware", "requestListener"];

/** serve serves `app` in `form`: as its own listener (behind lifeline middleware), or behind requestListener. */
function serve(form: Form, contexts: HttpContexts, app: express.Express) {
  return createServer(form === "middleware" ? app : requestListener(contexts, app));
}

function expressTarget(form: Form): Target {
  return {
    name: form === "middleware" ? "Express 5" : "Express 5 with requestListener",
    protocol: "http",
    async start(contexts, routes) {
      const app = express();
      const entries = Object.entries(routes);
      if (form === "requestListener") {
        // The ctx is made before routing: a route with its own timeout gets its own front door (on its path).
        for (const [path, route] of entries) app.all(path, handle(route));
        app.use(errorHandler(contexts));
        const plain = requestListener(contexts, app);
        const timed = new Map(entries.filter(([, r]) => r.timeoutMs !== undefined).map(([path, r]) => [path, requestListener(contexts, app, { timeoutMs: r.timeoutMs! })]));
        const server = createServer((req, res) => (timed.get(pathname(req.url)) ?? plain)(req, res));
        return { port: await listen(server), server, close: closer(server) };
      }
      // A route with its own timeout mounts lifeline itself, before the app-wide one sees the request.
      for (const [path, route] of entries) {
        if (route.timeoutMs !== undefined) app.all(path, lifeline(contexts, { timeoutMs: route.timeoutMs }), handle(route));
      }
      app.use(lifeline(contexts));
      for (const [path, route] of entries) if (route.timeoutMs === undefined) app.all(path, handle(route));
      app.use(errorHandler(contexts));
      const server = createServer(app);
      return { port: await listen(server), server, close: closer(server) };
    },
  };
}

for (const form of FORMS) conformance(expressTarget(form));

for (const form of FORMS) describe(`@lifeline/http/express (${form})`, () => {
  async function start(build: (app: express.Express, contexts: HttpContexts) => void) {
    const reported: unknown[] = [];
    const contexts = new HttpContexts({ onError: (e) => reported.push(e) });
    const app = express();
    build(app, contexts);
    const server = serve(form, contexts, app);
    const port = await listen(server);
    const c = client("http", port);
    return { contexts, reported, c, close: async () => (c.close(), await contexts.shutdown(server, 0)) };
  }

  it("refuses a contexts that is not an HttpContexts", () => {
    assert.throws(() => lifeline({} as HttpContexts), { name: "TypeError", message: /lifeline: contexts must be an HttpContexts, got object/ });
    assert.throws(() => errorHandler(null as unknown as HttpContexts), { name: "TypeError", message: /errorHandler: contexts must be an HttpContexts, got null/ });
    assert.throws(() => requestListener({} as HttpContexts, express()), { name: "TypeError", message: /requestListener: contexts must be an HttpContexts, got object/ });
  });

  it("a second lifeline without options on the same request keeps the first ctx", async () => {
    const seen: Context[] = [];
    const s = await start((app, contexts) => {
      const capture: RequestHandler = (req, _res, next) => (seen.push(ctxOf(req)), next());
      app.use(lifeline(contexts), capture);
      app.get("/x", lifeline(contexts), capture, (_req, res) => void res.send("ok"));
    });
    try {
      assert.equal((await s.c.request({ path: "/x" }).done).body, "ok");
      assert.equal(seen.length, 2);
      assert.equal(seen[0], seen[1]);
      assert.equal(s.contexts.stats.requests, 1);
      await ended(seen[0]!);
      assert.equal(cause(seen[0]!), ResponseCompleted);
    } finally {
      await s.close();
    }
  });

  it("a second lifeline with route options fails the request with a TypeError (500, reported)", async () => {
    const s = await start((app, contexts) => {
      app.use(lifeline(contexts));
      app.get("/x", lifeline(contexts, { timeoutMs: 10 }), (_req, res) => void res.send("unreachable"));
      app.use(errorHandler(contexts));
    });
    try {
      const r = await s.c.request({ path: "/x" }).done;
      assert.equal(r.status, 500);
      assert.equal(s.reported.length, 1);
      assert.match(String(s.reported[0]), /TypeError: lifeline: GET \/x already has a ctx/);
    } finally {
      await s.close();
    }
  });

  it("errorHandler passes 4xx errors on to the next error handler, unreported", async () => {
    const passed: unknown[] = [];
    const s = await start((app, contexts) => {
      app.use(lifeline(contexts));
      app.get("/teapot", () => {
        throw Object.assign(new Error("short and stout"), { status: 418 });
      });
      app.use(errorHandler(contexts));
      app.use(((error, _req, res, _next) => {
        passed.push(error);
        res.status((error as { status: number }).status).end();
      }) satisfies ErrorRequestHandler);
    });
    try {
      const r = await s.c.request({ path: "/teapot" }).done;
      assert.equal(r.status, 418);
      assert.equal(passed.length, 1);
      assert.deepEqual(s.reported, []);
      assert.equal(s.contexts.stats.failed, 0);
    } finally {
      await s.close();
    }
  });
});

describe("@lifeline/http/express requestListener", () => {
  it("gives every route req.ctx (the ctx ctxOf finds) with no middleware, and it ends with the response", async (t) => {
    const contexts = new HttpContexts({ onError: () => {} });
    const seen: Array<Context | undefined> = [];
    const app = express();
    app.get("/a", (req, res) => (seen.push(req.ctx, ctxOf(req)), void res.send("a")));
    app.get("/b", (req, res) => (seen.push(req.ctx, ctxOf(req)), void res.send("b")));
    const server = createServer(requestListener(contexts, app));
    const c = client("http", await listen(server));
    t.after(async () => (c.close(), await contexts.shutdown(server, 0)));
    assert.equal((await c.request({ path: "/a" }).done).body, "a");
    assert.equal((await c.request({ path: "/b" }).done).body, "b");
    assert.equal(seen.length, 4);
    assert.ok(seen[0] !== undefined && seen[0] === seen[1]);
    assert.ok(seen[2] !== undefined && seen[2] === seen[3]);
    assert.notEqual(seen[0], seen[2]);
    for (const ctx of [seen[0]!, seen[2]!]) {
      await ended(ctx);
      assert.equal(cause(ctx), ResponseCompleted);
    }
    assert.equal(contexts.stats.requests, 2);
  });

  it("refuses an app that is not a function, and bad route options, when it is made", async () => {
    const contexts = new HttpContexts();
    assert.throws(() => requestListener(contexts, {} as unknown as express.Express), { name: "TypeError", message: "requestListener: app must be a function (an Express app), got object" });
    assert.throws(() => requestListener(contexts, express(), { timeoutMs: -1 }), { name: "TypeError", message: /^requestListener: route\.timeoutMs must be/ });
    await contexts.shutdown(createServer(), 0);
  });
});

after(() => assertNoLeaks());
