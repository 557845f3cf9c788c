import { afterFunc, DeadlineExceeded, isContext, remaining, type Context } from "@lifeline/core";
import { BudgetExhaustedError } from "./errors.js";
import { formatTimeoutMs, parseTimeoutMs, TIMEOUT_HEADER } from "./timeout-header.js";

/**
 * FetchInit is the platform's `RequestInit` without `signal` (the ctx is the only thing that cancels a
 * {@link fetch}; the type rules a signal out, and one passed anyway is a TypeError), plus the budget options.
 */
export type FetchInit = Omit<RequestInit, "signal"> & {
  signal?: never;
  /**
   * minimumBudgetMs: when the ctx has a deadline and less than this is left (`remaining(ctx)`), the request
   * is not sent at all and fetch rejects with {@link BudgetExhaustedError}. Default 10; 0 turns it off.
   */
  minimumBudgetMs?: number;
  /**
   * marginMs is subtracted from the remaining budget before it is sent in the `timeout-ms` header, for the
   * time the answer takes to come back. Default 5.
   */
  marginMs?: number;
};

const DEFAULT_MINIMUM_BUDGET_MS = 10;
const DEFAULT_MARGIN_MS = 5;

/**
 * fetch returns the platform `fetch`'s response to `input`, with `ctx` in charge of the request's whole life.
 *
 * - The request is cancelled when `ctx` ends: while connecting, while waiting for the headers, and while the
 *   body is read. Every rejection caused by the ctx — of `fetch` itself and of `text()`, `json()`,
 *   `arrayBuffer()` or a body reader — is `ctx.err()` itself (core's `Canceled` or `DeadlineExceeded`),
 *   on every Node version, so `isCanceled`/`isDeadlineExceeded` hold; `cause(ctx)` says why.
 * - A body left unread when `ctx` ends is cancelled, so its connection does not stay checked out of the pool.
 * - When `ctx` has a deadline, the remaining budget minus `marginMs` is sent in the `timeout-ms` request
 *   header ({@link TIMEOUT_HEADER}), whole milliseconds. A `timeout-ms` the caller set that is smaller is kept
 *   (a caller may ask for less, never advertise more than the ctx allows); a larger or malformed one is
 *   replaced. Without a deadline the headers are left as they are.
 * - When less than `minimumBudgetMs` is left, nothing is sent: fetch rejects with {@link BudgetExhaustedError},
 *   whose `cause` is DeadlineExceeded, so a slow hop fails fast instead of passing a doomed request down the
 *   chain. An already-ended ctx rejects with `ctx.err()`, also without sending.
 *
 * What it does NOT do: no retries; no change to redirects (`init.redirect` applies as usual, and the
 * platform decides which headers a followed redirect keeps); no status checks (a 500 resolves like any
 * response). A `Request` given as `input` keeps its method, headers and body, but its own signal is
 * replaced by the ctx's, as an `init.signal` would replace it.
 *
 * The caller owns the response body: consume it (`text()`, `json()`, reading to the end) or cancel it
 * (`res.body?.cancel()`). Until one of those, or the end of the ctx, the request stays linked to the ctx;
 * afterwards nothing of it stays attached to the ctx, however long the ctx lives. A response without a body
 * (HEAD, 204, 304) is released at once. The response is a `Response` whose body is relayed through a stream
 * that watches for its end; `url`, `redirected`, `type` and `status` are those of the platform's response.
 *
 * @throws TypeError (as a rejection) if `ctx` is not a Context, `init.signal` is given, or a budget option
 * is not a finite non-negative number.
 */
export async function fetch(ctx: Context, input: string | URL | Request, init?: FetchInit): Promise<Response> {
  if (!isContext(ctx)) throw new TypeError(`fetch: ctx must be a Context, got ${describe(ctx)}`);
  if (init !== undefined && (typeof init !== "object" || init === null)) {
    throw new TypeError(`fetch: init must be an object, got ${describe(init)}`);
  }
  const { signal, minimumBudgetMs = DEFAULT_MINIMUM_BUDGET_MS, marginMs = DEFAULT_MARGIN_MS, ...requestInit } = init ?? {};
  if (signal !== undefined) {
    throw new TypeError(
      `fetch: init.signal is not allowed, the ctx cancels the request (derive a ctx with withCancel or withTimeout); got ${describe(signal)}`,
    );
  }
  checkMs("minimumBudgetMs", minimumBudgetMs);
  checkMs("marginMs", marginMs);

  const ended = ctx.err();
  if (ended !== undefined) throw ended;
  const budget = remaining(ctx);
  if (budget < minimumBudgetMs) throw new BudgetExhaustedError(budget, minimumBudgetMs, DeadlineExceeded);
  const sent: RequestInit = { ...requestInit };
  if (budget !== Infinity) sent.headers = withBudget(input, requestInit.headers, budget - marginMs);

  // The request gets a signal of its own, linked to the ctx by one afterFunc that is stopped as soon as the
  // response is done. Handing the platform ctx.signal instead leaves one listener of undici's on it per
  // request until garbage collection (measured: 100 consumed fetches, 100 listeners on Node 20–24, 1 on 26),
  // and listeners on one long-lived signal cost O(n) each (shared/PITFALLS.md).
  const controller = new AbortController();
  let body: RelayedBody | undefined = undefined; // set once the response arrives
  const stop = afterFunc(ctx, () => {
    const err = ctx.err()!;
    controller.abort(err);
    body?.end(err);
  });
  sent.signal = controller.signal;
  let res: Response;
  try {
    res = await globalThis.fetch(input, sent);
  } catch (error) {
    stop();
    // Node's fetch rejects with the signal's reason, which is ctx.err(); whatever else arrives once the ctx
    // ended (a network error racing the cancel) is reported as the ctx's end, as Go's http.Client does.
    throw ctx.err() ?? error;
  }
  const source = res.body;
  if (source === null) {
    stop();
    return res;
  }
  body = new RelayedBody(ctx, source, stop);
  // The ctx may have ended between the response and here, after the afterFunc ran without a body to end.
  const err = ctx.err();
  if (err !== undefined) body.end(err);
  return relay(res, body.stream);
}

/**
 * RelayedBody forwards a response body chunk by chunk, so that it knows when the body is done (read to the
 * end, failed, or cancelled by the reader) and can stop the afterFunc; and so that a ctx that ends errors
 * the body with `ctx.err()` on every Node version (Node 20 and 22 reject a body read after an abort with a
 * DOMException of their own, and a read pending when the abort lands could hang: nodejs/undici#4089).
 */
class RelayedBody {
  readonly stream: ReadableStream<Uint8Array>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #done = false;

  constructor(ctx: Context, source: ReadableStream<Uint8Array>, release: () => void) {
    this.#reader = source.getReader();
    const finish = (): void => {
      if (this.#done) return;
      this.#done = true;
      release();
    };
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: async (controller) => {
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await this.#reader.read();
          } catch (error) {
            finish();
            throw ctx.err() ?? error;
          }
          if (this.#done) return; // ended by the ctx while the read was pending: already errored
          if (chunk.done) {
            finish();
            controller.close();
          } else {
            controller.enqueue(chunk.value);
          }
        },
        cancel: (reason) => {
          finish();
          return this.#reader.cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
  }

  /** end errors the relayed body with the ctx's error and cancels the source, releasing its connection. */
  end(err: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#controller.error(err);
    this.#reader.cancel(err).catch(() => {}); // the source may already be errored by the abort: nothing to report
  }
}

/** relay returns a Response with `from`'s status, headers and metadata and `stream` as its body. */
function relay(from: Response, stream: ReadableStream<Uint8Array>): Response {
  // The constructor takes statuses 200–599 only (a server can send 700, and the platform passes it on) and
  // validates statusText; describeAs sets both as they came, so this construction cannot throw.
  const inRange = from.status >= 200 && from.status <= 599;
  const out = new Response(stream, { status: inRange ? from.status : 200, headers: from.headers });
  return describeAs(out, from);
}

/** describeAs gives `out` (and its clones) the fields a constructed Response cannot take from `from`. */
function describeAs(out: Response, from: Response): Response {
  const fields: PropertyDescriptorMap = {
    statusText: { value: from.statusText },
    url: { value: from.url },
    redirected: { value: from.redirected },
    type: { value: from.type },
    clone: { value: () => describeAs(Response.prototype.clone.call(out), from) },
  };
  if (out.status !== from.status) {
    fields.status = { value: from.status };
    fields.ok = { value: from.ok };
  }
  return Object.defineProperties(out, fields);
}

/** withBudget returns the request's headers with `timeout-ms` set to `budgetMs`, unless the caller set less. */
function withBudget(input: string | URL | Request, given: HeadersInit | undefined, budgetMs: number): Headers {
  // init.headers replaces a Request's own headers (fetch's rule), so start from whichever the platform would use.
  const headers = new Headers(given ?? (input instanceof Request ? input.headers : undefined));
  const theirs = parseTimeoutMs(headers.get(TIMEOUT_HEADER) ?? undefined);
  const ours = formatTimeoutMs(budgetMs);
  if (theirs === undefined || theirs > Number(ours)) headers.set(TIMEOUT_HEADER, ours);
  return headers;
}

function checkMs(name: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`fetch: ${name} must be a non-negative number of milliseconds, got ${describe(value)}`);
  }
}

function describe(value: unknown): string {
  if (value === null) return "`null`";
  if (typeof value === "string") return `\`${JSON.stringify(value)}\` (string)`;
  if (typeof value !== "object" && typeof value !== "function") return `\`${String(value)}\` (${typeof value})`;
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === "string" && name !== "" ? `an instance of ${name}` : "an object";
}
