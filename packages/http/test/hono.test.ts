import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { background, withCancel } from "@lifeline/core";
import { HttpContexts } from "@lifeline/http";
import { errorHandler, lifeline, type LifelineEnv } from "@lifeline/http/hono";
import { conformance } from "./conformance.js";
import { honoTarget } from "./hono-target.js";
import { client, listen } from "./support.js";

conformance(honoTarget(false)); // over HTTP/2: hono-h2.test.ts

describe("@lifeline/http/hono", () => {
  async function start(build: (app: Hono<LifelineEnv>, contexts: HttpContexts) => void) {
    const reported: unknown[] = [];
    const contexts = new HttpContexts({ onError: (e) => reported.push(e) });
    const app = new Hono<LifelineEnv>();
    build(app, contexts);
    const server = createAdaptorServer({ fetch: app.fetch }) as ReturnType<typeof createServer>;
    const c = client("http", await listen(server));
    return { contexts, reported, c, close: async () => (c.close(), await contexts.shutdown(server, 0)) };
  }

  it("refuses a contexts that is not an HttpContexts", () => {
    assert.throws(() => lifeline({} as HttpContexts), { name: "TypeError", message: /lifeline: contexts must be an HttpContexts, got object/ });
    assert.throws(() => errorHandler(undefined as unknown as HttpContexts), { name: "TypeError", message: /errorHandler: contexts must be an HttpContexts, got undefined/ });
  });

  it("fails with a TypeError outside @hono/node-server (no node request to watch)", async (t) => {
    // No server to shut down: the root hangs off a parent that the test cancels.
    const [parent, cancel] = withCancel(background());
    t.after(cancel);
    const contexts = new HttpContexts({ parent });
    const app = new Hono<LifelineEnv>();
    let failure: unknown;
    app.use(lifeline(contexts));
    app.get("/x", (c) => c.text("unreachable"));
    app.onError((error, c) => ((failure = error), c.text("failed", 500)));
    const r = await app.request("/x");
    assert.equal(r.status, 500);
    assert.ok(failure instanceof TypeError);
    assert.match(failure.message, /serve the app with @hono\/node-server/);
    assert.equal(contexts.stats.requests, 0);
  });

  it("a second lifeline with route options fails the request with a TypeError (500, reported)", async () => {
    const s = await start((app, contexts) => {
      app.use(lifeline(contexts));
      app.get("/x", lifeline(contexts, { timeoutMs: 10 }), (c) => c.text("unreachable"));
      app.onError(errorHandler(contexts));
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

  it("errorHandler answers HTTPException and 4xx errors as Hono does, unreported", async () => {
    const s = await start((app, contexts) => {
      app.use(lifeline(contexts));
      app.get("/exception", () => {
        throw new HTTPException(401, { message: "who are you" });
      });
      app.get("/teapot", () => {
        throw Object.assign(new Error("short and stout"), { status: 418 });
      });
      app.onError(errorHandler(contexts));
    });
    try {
      const a = await s.c.request({ path: "/exception" }).done;
      assert.equal(a.status, 401);
      assert.equal(a.body, "who are you");
      const b = await s.c.request({ path: "/teapot" }).done;
      assert.equal(b.status, 418);
      assert.equal(b.body, "short and stout");
      assert.deepEqual(s.reported, []);
      assert.equal(s.contexts.stats.completed, 2);
    } finally {
      await s.close();
    }
  });
});

after(() => assertNoLeaks());
