// The conformance suite for Hono served through fetchHandler (the ctx made before Hono routes the request).
import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import { cause, type Context } from "@lifeline/core";
import { HttpContexts, ResponseCompleted } from "@lifeline/http";
import { ctxOf, fetchHandler, lifeline, type LifelineEnv } from "@lifeline/http/hono";
import { conformance } from "./conformance.js";
import { honoFetchTarget } from "./hono-target.js";
import { client, ended, listen } from "./support.js";

conformance(honoFetchTarget());

describe("@lifeline/http/hono fetchHandler", () => {
  it("puts the ctx in c.env.ctx; a lifeline middleware on the way passes it on as c.var.ctx", async (t) => {
    const contexts = new HttpContexts({ onError: () => {} });
    const seen: Array<Context | undefined> = [];
    const app = new Hono<LifelineEnv>();
    app.use("/mw", lifeline(contexts));
    app.get("/mw", (c) => (seen.push(c.env.ctx, c.var.ctx, ctxOf(c)), c.text("ok")));
    app.get("/plain", (c) => (seen.push(c.env.ctx, ctxOf(c)), c.text("ok")));
    const server = createAdaptorServer({ fetch: fetchHandler(contexts, app.fetch) }) as ReturnType<typeof createServer>;
    const c = client("http", await listen(server));
    t.after(async () => (c.close(), await contexts.shutdown(server, 0)));
    assert.equal((await c.request({ path: "/mw" }).done).body, "ok");
    assert.equal((await c.request({ path: "/plain" }).done).body, "ok");
    assert.equal(seen.length, 5);
    assert.equal(seen[0], seen[1]);
    assert.equal(seen[1], seen[2]);
    assert.equal(seen[3], seen[4]);
    assert.notEqual(seen[0], seen[3]);
    for (const ctx of [seen[0]!, seen[3]!]) {
      await ended(ctx);
      assert.equal(cause(ctx), ResponseCompleted);
    }
    assert.equal(contexts.stats.requests, 2);
  });

  it("refuses a contexts that is not an HttpContexts, or a fetch that is not a function", async () => {
    assert.throws(() => fetchHandler({} as HttpContexts, () => new Response()), { name: "TypeError", message: /fetchHandler: contexts must be an HttpContexts/ });
    const contexts = new HttpContexts();
    assert.throws(() => fetchHandler(contexts, "x" as unknown as () => Response), { name: "TypeError", message: "fetchHandler: fetch must be a function, got string" });
    await contexts.shutdown(createServer(), 0);
  });
});

after(() => assertNoLeaks());
