// Shared by the framework adapters: what to do with a response whose handler failed.
import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";

type Response = ServerResponse | Http2ServerResponse;

/**
 * clientError returns the status of an error that carries a 4xx `status`/`statusCode` (http-errors,
 * body-parser, Fastify's validation errors, Hono's HTTPException): the framework answers those itself.
 */
export function clientError(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as { status?: unknown; statusCode?: unknown };
  const status = typeof e.statusCode === "number" ? e.statusCode : e.status;
  return typeof status === "number" && status >= 400 && status < 500 ? status : undefined;
}

/** isOpen reports whether the response can still be written to. */
export function isOpen(res: Response): boolean {
  // Http2ServerResponse has no `destroyed`: its stream does.
  const r = res as { destroyed?: boolean; stream?: { destroyed: boolean } };
  return !res.writableEnded && r.destroyed !== true && r.stream?.destroyed !== true;
}

/**
 * abandon closes a response whose request context ended (deadline, shutdown, a cancelled parent) while its
 * handler was still running, so the client is not left waiting: a 503 when nothing was sent yet, else a
 * reset (a partial response cannot be completed honestly).
 */
export function abandon(res: Response): void {
  if (!isOpen(res)) return;
  if (res.headersSent) res.destroy();
  else res.writeHead(503, { "content-type": "text/plain" }).end("request canceled\n");
}
