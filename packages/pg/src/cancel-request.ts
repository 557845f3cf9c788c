import net from "node:net";
import tls from "node:tls";
import type pg from "pg";
import { driver } from "./internal/driver.js";

/** CancelOutcome says how a wire CancelRequest ended: `eof` when the server closed the socket after reading it. */
export type CancelOutcome = "eof" | "timeout" | "error" | "refused-tls" | "no-key";

const CANCEL_CODE = 80877102; // 1234 << 16 | 5678 (protocol.sgml, CancelRequest)
const SSL_CODE = 80877103; // 1234 << 16 | 5679 (SSLRequest)

/**
 * sendCancelRequest returns how a PostgreSQL wire CancelRequest for `client`'s backend ended: `"eof"` once
 * the server read it and closed the socket (it has then signalled the backend), else why not.
 *
 * The request goes on a new socket to the address the client is actually connected to (the live socket's
 * peer, as pgx does: the configured host list may name several servers or a load balancer), with the same
 * transport security as the client: over TLS when the client's socket is TLS (SSLRequest first, or direct
 * TLS, with ALPN `postgresql`, when the client negotiated it directly), never the key in plaintext on a
 * connection that had TLS.
 * It writes the 16-byte message (length, code 80877102, backend PID, secret key) and reads to EOF, bounded
 * by `timeoutMs`, after which the socket is destroyed. Key lengths other than 4 bytes (protocol 3.2) are
 * sent as given.
 *
 * It does NOT tell whether the cancel had an effect (PostgreSQL never says); it does not touch the client's
 * own connection and borrows no pool slot; it needs no privilege (only the PID and key from BackendKeyData).
 */
export function sendCancelRequest(client: pg.ClientBase, timeoutMs: number): Promise<CancelOutcome> {
  const d = driver(client);
  const pid = d.processID;
  const key = d.secretKey;
  if (pid === null || key === null || key === undefined) return Promise.resolve("no-key");
  const keyBytes = typeof key === "number" ? int32(key) : Buffer.from(key);
  const message = Buffer.concat([int32(8 + 4 + keyBytes.length), int32(CANCEL_CODE), int32(pid), keyBytes]);
  const stream = d.connection.stream as net.Socket & { encrypted?: boolean };
  const secure = stream.encrypted === true;
  const direct = (client as unknown as { sslNegotiation?: string }).sslNegotiation === "direct";
  const tlsOptions: tls.ConnectionOptions = typeof d.ssl === "object" && d.ssl !== null ? { ...(d.ssl as tls.ConnectionOptions) } : {};
  const address = stream.remoteAddress;
  const target: net.NetConnectOpts =
    address !== undefined
      ? { host: address, port: stream.remotePort ?? d.port }
      : { path: d.host.startsWith("/") ? `${d.host}/.s.PGSQL.${d.port}` : d.host };
  const servername = address === undefined || net.isIP(d.host) !== 0 ? undefined : d.host;

  return new Promise<CancelOutcome>((resolve) => {
    let settled = false;
    let sockets: net.Socket[] = [];
    const finish = (outcome: CancelOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const s of sockets) s.destroy();
      sockets = [];
      resolve(outcome);
    };
    const timer = setTimeout(() => finish("timeout"), timeoutMs);
    const readToEof = (s: net.Socket): void => {
      s.on("data", () => {}); // the server sends nothing; whatever comes is read and dropped until EOF
      s.on("end", () => finish("eof"));
      s.on("close", () => finish("eof"));
    };
    const overTls = (raw: net.Socket): void => {
      // Direct TLS needs ALPN `postgresql`, as pg's own connection sends it: PostgreSQL 17 drops a direct TLS
      // connection without it unread, which would still end in EOF here, as if the cancel had been delivered.
      const alpn = direct ? { ALPNProtocols: ["postgresql"] } : {};
      const secured = tls.connect({ ...tlsOptions, ...alpn, socket: raw, ...(servername ? { servername } : {}) });
      sockets.push(secured);
      secured.on("error", () => finish("error"));
      secured.once("secureConnect", () => {
        readToEof(secured);
        secured.write(message);
      });
    };
    const raw = net.connect(target);
    sockets.push(raw);
    raw.on("error", () => finish("error"));
    raw.once("connect", () => {
      if (!secure) {
        readToEof(raw);
        raw.write(message);
      } else if (direct) {
        overTls(raw);
      } else {
        raw.once("data", (answer: Buffer) => {
          if (answer[0] !== 0x53 /* S */) return finish("refused-tls");
          overTls(raw);
        });
        raw.write(Buffer.concat([int32(8), int32(SSL_CODE)]));
      }
    });
  });
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n | 0);
  return b;
}
