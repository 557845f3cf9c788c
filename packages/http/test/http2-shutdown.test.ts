// HTTP/2 shutdown with a session that connected but never sent a request: without watch(), such a session keeps
// server.close() waiting forever (an HTTP/2 server has no closeAllConnections).
import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { once } from "node:events";
import http2 from "node:http2";
import { HttpContexts } from "@lifeline/http";

describe("HttpContexts.watch", () => {
  it("lets shutdown close an HTTP/2 session that never made a request", { timeout: 4000 }, async () => {
    const contexts = new HttpContexts({ onError: () => {} });
    const server = contexts.watch(http2.createServer(contexts.handler((_ctx, _req, res) => res.end("hi"))));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as { port: number };
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => {}); // the shutdown resets it
    await once(session, "connect");
    const closed = once(session, "close");
    const report = await contexts.shutdown(server, 50);
    assert.deepEqual(report, { graceful: true, cancelled: [], upgraded: 0, leftOpen: 0 });
    await closed; // the server closed the idle session (GOAWAY, then destroyed after the grace period)
  });

  it("returns the server it watches", async () => {
    const contexts = new HttpContexts();
    const server = http2.createServer();
    assert.equal(contexts.watch(server), server);
    await contexts.shutdown(server, 0); // never listened: shutdown still ends the root context
  });
});

after(() => assertNoLeaks());
