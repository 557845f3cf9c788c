/**
 * The deadline budget travels between services in the `timeout-ms` request header: the milliseconds the
 * caller still allows, as a non-negative integer.
 *
 * Relative, not an absolute time, because the two machines' clocks disagree (a skew of seconds would eat
 * or invent the whole budget); gRPC's `grpc-timeout` is relative for the same reason. Milliseconds as a bare
 * integer, because it parses strictly with one pattern. No `X-` prefix (RFC 6648). On the way in we also
 * accept `grpc-timeout` (`<1–8 digits><H|M|S|m|u|n>`); when both are present the smaller wins.
 */
export const TIMEOUT_HEADER = "timeout-ms";

/** The largest budget we parse (a day); anything larger is clamped by the server's own maximum anyway. */
const MAX_PARSED_MS = 86_400_000;

const GRPC_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000_001 };

type HeaderValue = string | string[] | undefined;

function single(value: HeaderValue): string | undefined {
  // A repeated header is ambiguous: ignore it rather than guess.
  if (Array.isArray(value)) return value.length === 1 ? value[0] : undefined;
  return value;
}

/** parseTimeoutMs parses a `timeout-ms` value strictly: 1–9 digits, nothing else (surrounding spaces allowed). */
export function parseTimeoutMs(value: HeaderValue): number | undefined {
  const v = single(value)?.trim();
  if (v === undefined || !/^\d{1,9}$/.test(v)) return undefined;
  return Math.min(Number(v), MAX_PARSED_MS);
}

/** parseGrpcTimeout parses a `grpc-timeout` value strictly (gRPC over HTTP/2 spec: 1–8 digits and a unit). */
export function parseGrpcTimeout(value: HeaderValue): number | undefined {
  const v = single(value)?.trim();
  const m = v === undefined ? null : /^(\d{1,8})([HMSmun])$/.exec(v);
  if (m === null) return undefined;
  return Math.min(Number(m[1]) * GRPC_UNIT_MS[m[2]!]!, MAX_PARSED_MS);
}

/**
 * incomingBudget returns the budget (ms) an upstream caller sent in `timeout-ms` or `grpc-timeout`, the
 * smaller of the two when both parse, or undefined when neither is present or both are garbage.
 */
export function incomingBudget(headers: Record<string, HeaderValue>): number | undefined {
  const a = parseTimeoutMs(headers[TIMEOUT_HEADER]);
  const b = parseGrpcTimeout(headers["grpc-timeout"]);
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/**
 * rawBudget is {@link incomingBudget} read from Node's `rawHeaders` (name, value, name, value, …), so that a
 * server whose handlers never read `req.headers` does not pay for Node building it (it is made lazily, on
 * first read). A header that appears more than once is ignored, as a repeated header is by incomingBudget.
 * @internal
 */
export function rawBudget(raw: readonly string[]): number | undefined {
  let ms: string | undefined;
  let grpc: string | undefined;
  let msSeen = 0;
  let grpcSeen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // Cheap checks first (length, first letter): almost every header is neither, and lower-casing allocates.
    const first = name.charCodeAt(0) | 0x20;
    if (name.length === 10 && first === 0x74 && name.toLowerCase() === TIMEOUT_HEADER) {
      msSeen++;
      ms = raw[i + 1];
    } else if (name.length === 12 && first === 0x67 && name.toLowerCase() === "grpc-timeout") {
      grpcSeen++;
      grpc = raw[i + 1];
    }
  }
  if (msSeen === 0 && grpcSeen === 0) return undefined;
  return incomingBudget({ [TIMEOUT_HEADER]: msSeen === 1 ? ms : undefined, "grpc-timeout": grpcSeen === 1 ? grpc : undefined });
}

/** formatTimeoutMs renders a budget for the `timeout-ms` header: whole milliseconds, rounded down. */
export function formatTimeoutMs(ms: number): string {
  return String(Math.max(0, Math.floor(ms)));
}
