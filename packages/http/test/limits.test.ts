// Regressions from a review: grace periods beyond setTimeout's range, budget headers that may only shorten a
// route's timeout, and route options checked where the route is defined.
import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import { connect } from "node:net";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { Channel, remaining, sleep } from "@lifeline/core";
import { HttpContexts } from "@lifeline/http";
import { lifeline as expressLifeline } from "@lifeline/http/express";
import { lifeline as fastifyLifeline } from "@lifeline/http/fastify";
import { lifeline as honoLifeline } from "@lifeline/http/hono";

async function listen(contexts: HttpContexts, fn: Parameters<HttpContexts["handler"]>[0], route?: { timeoutMs: number }) {
  const server = createServer(contexts.handler(fn, route)).listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/` };
}

describe("HttpContexts.shutdown grace", () => {
  it("with Infinity lets a running request finish (setTimeout would have fired after 1 ms)", { timeout: 5000 }, async () => {
    const contexts = new HttpContexts({ onError: () => {} });
    const running = new Channel<void>(1);
    const { server, url } = await listen(contexts, async (ctx, _req, res) => {
      running.trySend(undefined);
      await sleep(ctx, 100);
      res.end("done");
    });
    const answer = fetch(url).then((r) => r.text());
    await running.recv(contexts.ctx); // the request is running
    const report = await contexts.shutdown(server, Infinity);
    assert.deepEqual(report, { graceful: true, cancelled: [], upgraded: 0, leftOpen: 0 });
    assert.equal(await answer, "done");
  });
});

describe("an incoming budget header", () => {
  it("never lengthens the route's timeout, and a generous one does not shorten it", { timeout: 5000 }, async () => {
    const contexts = new HttpContexts({ onError: () => {} });
    const { server, url } = await listen(contexts, (ctx, _req, res) => res.end(String(remaining(ctx))), { timeoutMs: 120_000 });
    try {
      const generous = Number(await (await fetch(url, { headers: { "timeout-ms": "100000000" } })).text());
      assert.ok(generous > 110_000 && generous <= 120_000, `got ${generous}`);
      const tight = Number(await (await fetch(url, { headers: { "timeout-ms": "1000" } })).text());
      assert.ok(tight <= 1000 - 5 && tight > 500, `got ${tight}`);
    } finally {
      await contexts.shutdown(server, 0);
    }
  });
});

describe("an incoming budget header, as the client spelled it", () => {
  it("is found whatever its case, and ignored when repeated (read from rawHeaders on HTTP/1)", { timeout: 5000 }, async () => {
    const contexts = new HttpContexts({ onError: () => {} });
    const { server } = await listen(contexts, (ctx, _req, res) => res.end(String(Number.isFinite(remaining(ctx)) ? remaining(ctx) : "none")));
    const port = (server.address() as { port: number }).port;
    const ask = async (headers: string) => {
      const socket = connect(port, "127.0.0.1");
      let got = "";
      socket.setEncoding("utf8");
      socket.on("data", (chunk: string) => (got += chunk));
      await once(socket, "connect");
      socket.end(`GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers}\r\n`);
      await once(socket, "close");
      return got.slice(got.indexOf("\r\n\r\n") + 4);
    };
    try {
      const mixed = Number(await ask("Timeout-MS: 1000\r\n"));
      assert.ok(mixed <= 995 && mixed > 500, `got ${mixed}`);
      const grpc = Number(await ask("GRPC-Timeout: 2S\r\n"));
      assert.ok(grpc <= 1995 && grpc > 1000, `got ${grpc}`);
      assert.equal(await ask("timeout-ms: 1000\r\nTimeout-Ms: 2000\r\n"), "none");
    } finally {
      await contexts.shutdown(server, 0);
    }
  });
});

describe("route options", () => {
  const bad = { timeoutMs: "500" as unknown as number };
  it("are checked where the route is defined, with a TypeError naming the function", async () => {
    const contexts = new HttpContexts();
    assert.throws(() => contexts.handler(() => {}, bad), /^TypeError: HttpContexts\.handler: route\.timeoutMs must be a non-negative number/);
    assert.throws(() => express().use(expressLifeline(contexts, bad)), /^TypeError: lifeline: route\.timeoutMs must be/);
    assert.throws(() => new Hono().use(honoLifeline(contexts, bad)), /^TypeError: lifeline: route\.timeoutMs must be/);
    const app = Fastify();
    await app.register(fastifyLifeline, { contexts });
    assert.throws(() => app.get("/", { config: { lifeline: bad } }, async () => "ok"), /config\.lifeline: route\.timeoutMs must be/);
    await app.close();
    await contexts.shutdown(createServer(), 0);
  });
});

after(() => assertNoLeaks());
