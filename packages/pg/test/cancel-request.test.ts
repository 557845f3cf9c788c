import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { assertNoLeaks } from "@lifeline/testing";
import { sendCancelRequest } from "@lifeline/pg";
import pg from "pg";
import { CERT, KEY } from "./tls-fixture.js";

// The local PostgreSQL runs without TLS, so the TLS path of the CancelRequest is tested against a responder that
// speaks just enough of the protocol over real TLS: SSLRequest → 'S' → TLS; a StartupMessage gets AuthenticationOk,
// BackendKeyData and ReadyForQuery (so a real pg.Client connects through it); a CancelRequest is recorded.

const SSL_CODE = 80877103;
const CANCEL_CODE = 80877102;
const PID = 4242;
const SECRET = 0x1234abcd;

interface Seen {
  /** cancels received over TLS, and in plaintext (which must never happen once the connection had TLS). */
  tlsCancels: { pid: number; key: number }[];
  plainCancels: { pid: number; key: number }[];
  sslRequests: number;
  noAlpn: number;
}

/** frames reads length-prefixed untyped messages (startup phase: Int32 length first) from a socket. */
function onFrame(sock: net.Socket, f: (msg: Buffer) => void): void {
  let buf = Buffer.alloc(0);
  sock.on("data", (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 4 && buf.length >= buf.readInt32BE(0)) {
      const len = buf.readInt32BE(0);
      const msg = buf.subarray(0, len);
      buf = buf.subarray(len);
      f(msg);
    }
  });
}

/**
 * responder speaks PostgreSQL's startup over TLS after an SSLRequest, or (direct) over TLS from the first byte, as
 * PostgreSQL 17's direct SSL negotiation does: then, like the server, it drops a connection that did not negotiate
 * ALPN `postgresql` before reading anything (counted in `seen.noAlpn`).
 */
async function responder(direct = false): Promise<{ port: number; seen: Seen; refuseTls: { on: boolean }; close(): Promise<void> }> {
  const seen: Seen = { tlsCancels: [], plainCancels: [], sslRequests: 0, noAlpn: 0 };
  const refuseTls = { on: false };
  const sockets = new Set<net.Socket>();
  const session = (sock: net.Socket, secure: boolean): void => {
    let started = false;
    onFrame(sock, (msg) => {
      if (started) return; // after startup, typed messages (Terminate): nothing to answer
      const code = msg.readInt32BE(4);
      if (code === SSL_CODE && !secure) {
        seen.sslRequests++;
        sock.removeAllListeners("data");
        if (refuseTls.on) {
          sock.write("N");
          return;
        }
        sock.write("S");
        const secured = new tls.TLSSocket(sock, { isServer: true, key: KEY, cert: CERT });
        sockets.add(secured);
        secured.on("error", () => {});
        session(secured, true);
      } else if (code === CANCEL_CODE) {
        (secure ? seen.tlsCancels : seen.plainCancels).push({ pid: msg.readInt32BE(8), key: msg.readInt32BE(12) });
        sock.end();
      } else {
        started = true;
        const auth = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]); // AuthenticationOk
        const key = Buffer.alloc(13);
        key.write("K", 0);
        key.writeInt32BE(12, 1);
        key.writeInt32BE(PID, 5);
        key.writeInt32BE(SECRET, 9);
        const ready = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]); // ReadyForQuery 'I'
        sock.write(Buffer.concat([auth, key, ready]));
      }
    });
  };
  const server = direct
    ? tls.createServer({ key: KEY, cert: CERT, ALPNProtocols: ["postgresql"] }, (secured) => {
        sockets.add(secured);
        secured.on("error", () => {});
        secured.on("close", () => sockets.delete(secured));
        if (secured.alpnProtocol !== "postgresql") {
          seen.noAlpn++;
          secured.destroy();
          return;
        }
        session(secured, true);
      })
    : net.createServer((sock) => {
        sockets.add(sock);
        sock.on("error", () => {});
        sock.on("close", () => sockets.delete(sock));
        session(sock, false);
      });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    refuseTls,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe("sendCancelRequest", () => {
  it("sends the CancelRequest over TLS when the connection is TLS, to the live peer, and reads to EOF", async () => {
    const r = await responder();
    const client = new pg.Client({ host: "127.0.0.1", port: r.port, user: "u", database: "d", ssl: { ca: CERT } });
    client.on("error", () => {});
    try {
      await client.connect();
      assert.equal((client.connection as unknown as { stream: { encrypted?: boolean } }).stream.encrypted, true);
      assert.equal(await sendCancelRequest(client, 5000), "eof");
      assert.deepEqual(r.seen.tlsCancels, [{ pid: PID, key: SECRET }]);
      assert.deepEqual(r.seen.plainCancels, [], "the key never travels in plaintext");
      assert.equal(r.seen.sslRequests, 2, "one for the connection, one for the cancel");
    } finally {
      await client.end();
      await r.close();
    }
  });

  it("sends it over direct TLS, with ALPN `postgresql`, when the connection negotiated TLS directly", async () => {
    const r = await responder(true);
    const client = new pg.Client({ host: "127.0.0.1", port: r.port, user: "u", database: "d", ssl: { ca: CERT }, sslnegotiation: "direct" } as pg.ClientConfig);
    client.on("error", () => {});
    try {
      await client.connect();
      assert.equal(await sendCancelRequest(client, 5000), "eof");
      assert.deepEqual(r.seen.tlsCancels, [{ pid: PID, key: SECRET }], "the server read the cancel");
      assert.equal(r.seen.noAlpn, 0, "a direct TLS connection without ALPN is dropped unread");
      assert.equal(r.seen.sslRequests, 0);
    } finally {
      await client.end();
      await r.close();
    }
  });

  it("does not send the key when the server refuses TLS for the cancel connection", async () => {
    const r = await responder();
    const client = new pg.Client({ host: "127.0.0.1", port: r.port, user: "u", database: "d", ssl: { ca: CERT } });
    client.on("error", () => {});
    try {
      await client.connect();
      r.refuseTls.on = true;
      assert.equal(await sendCancelRequest(client, 5000), "refused-tls");
      assert.deepEqual(r.seen.tlsCancels, []);
      assert.deepEqual(r.seen.plainCancels, []);
    } finally {
      await client.end();
      await r.close();
    }
  });

  it("sends it in plaintext to a plaintext connection, and reports a peer that is gone", async () => {
    const r = await responder();
    const client = new pg.Client({ host: "127.0.0.1", port: r.port, user: "u", database: "d" });
    client.on("error", () => {});
    try {
      await client.connect();
      assert.equal(await sendCancelRequest(client, 5000), "eof");
      assert.deepEqual(r.seen.plainCancels, [{ pid: PID, key: SECRET }]);
      await r.close();
      assert.equal(await sendCancelRequest(client, 5000), "error", "connection refused: nothing delivered");
    } finally {
      await client.end();
    }
  });

  it("reports a client that never connected (no BackendKeyData)", async () => {
    assert.equal(await sendCancelRequest(new pg.Client({}), 1000), "no-key");
  });
});

after(() => assertNoLeaks());
