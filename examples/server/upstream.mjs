// The deliberately slow upstream API of seed 002 ("The upstream API decides to take ten seconds to
// respond"): a second HTTP server in the same process, on its own loopback port. It ignores the caller's
// budget header on purpose (a badly behaved upstream), but its own work is tied to its request context,
// so when our call gives up and disconnects, the upstream stops sleeping too: no work left behind on
// either side.
import { createServer } from "node:http";
import { once } from "node:events";
import { sleep } from "@lifeline/core";
import { HttpContexts, TIMEOUT_HEADER } from "@lifeline/http";

/**
 * startUpstream listens on 127.0.0.1, a free port, and returns `{ url, contexts, seen, close }`.
 * `GET /data?delay=ms` answers after `delay` (default `delayMs`); `GET /status` answers at once.
 * `seen.budgetMs` is the last budget a caller of /data sent in the `timeout-ms` header. `close()` shuts it down.
 */
export async function startUpstream({ delayMs }) {
  const contexts = new HttpContexts({ trustTimeoutHeader: false });
  const seen = { budgetMs: undefined };
  const server = createServer(
    contexts.handler(async (ctx, req, res) => {
      const url = new URL(req.url ?? "/", "http://upstream");
      if (url.pathname === "/status") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true, at: Date.now() }));
      } else if (url.pathname === "/data") {
        const budget = req.headers[TIMEOUT_HEADER];
        if (budget !== undefined) seen.budgetMs = Number(budget);
        const delay = clampDelay(url.searchParams.get("delay"), delayMs);
        await sleep(ctx, delay); // rejects when the caller hangs up: the handler ends, counted as a disconnect
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data: "upstream data", tookMs: delay }));
      } else {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      }
    }),
  );
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    contexts,
    seen,
    close: () => contexts.shutdown(server, 0),
  };
}

/** clampDelay reads a `delay` query parameter: whole ms in [0, 60 000], else the fallback. */
export function clampDelay(value, fallback) {
  if (value === null || !/^\d{1,6}$/.test(value)) return fallback;
  return Math.min(Number(value), 60_000);
}

