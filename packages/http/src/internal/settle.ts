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
 * reset breaks a started response so that the client sees it cut short, never complete. Under HTTP/2 only
 * an RST_STREAM with an error code does that: `stream.close(code)` and `destroy()` without an error end
 * the stream with END_STREAM first, and the client reads a normal end (measured on Node 20-26).
 */
export function reset(res: Response): void {
  const stream = (res as Http2ServerResponse).stream as Http2ServerResponse["stream"] | undefined;
  if (stream === undefined) {
    res.destroy();
    return;
  }
  stream.once("error", () => {}); // the error is ours: the reset is deliberate
  stream.destroy(new Error("response reset"));
}

/**
 * answer ends the response of a failed handler so the client is not left waiting: `status` when nothing was
 * sent yet (500: a server error; else the request's context ended), else a reset, since a partial response
 * cannot be completed honestly; nothing when the response is already closed.
 */
export function answer(res: Response, status: number): void {
  if (!isOpen(res)) return;
  if (res.headersSent) reset(res);
  else res.writeHead(status, { "content-type": "text/plain" }).end(status === 500 ? "internal server error\n" : "request canceled\n");
}
