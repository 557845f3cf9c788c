import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { assertNoLeaks } from "@lifeline/testing";
import { background, Canceled, withCancel } from "@lifeline/core";
import { query, type StopReport } from "@lifeline/pg";
import pg from "pg";
import { activePid, admin, DB, appName } from "./support.js";

/**
 * A relay in front of PostgreSQL that passes the first connection (the client's own) at once and holds every
 * later one (a CancelRequest) until release(): the test decides when the server reads the cancel.
 */
async function holdingRelay(): Promise<{ port: number; release(): void; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const held: (() => void)[] = [];
  let released = false;
  let first = true;
  const server = net.createServer((inbound) => {
    const pass = (): void => {
      const outbound = net.connect(DB.port, DB.host);
      sockets.add(outbound);
      inbound.pipe(outbound).pipe(inbound);
      outbound.on("error", () => inbound.destroy()).on("close", () => inbound.destroy());
      inbound.on("error", () => outbound.destroy()).on("close", () => outbound.destroy());
    };
    sockets.add(inbound);
    inbound.pause();
    if (first || released) pass();
    else held.push(pass);
    first = false;
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    release() {
      released = true;
      for (const f of held.splice(0)) f();
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe("fence and pg's own queue", () => {
  it("a query queued on the client behind a cancelled one is not sent before the cancel is known delivered", async () => {
    const relay = await holdingRelay();
    const name = appName("fence-queue");
    const client = new pg.Client({ ...DB, port: relay.port, application_name: name });
    client.on("error", () => {});
    await client.connect();
    try {
      const [ctxA, cancelA] = withCancel(background());
      const a = query(ctxA, client, "select pg_sleep(0.2) as a");
      // B is queued in pg's queue behind A, under a ctx that never ends.
      const b = query(background(), client, "select 'fence-queue-b', pg_sleep(1) as b");
      await activePid(name, "pg_sleep(0.2)");
      // The first ReadyForQuery from here on ends A (pg's own listener, which sends its next queued query, ran
      // first): was B put on the wire while the CancelRequest was still held back?
      const conn = (client as unknown as { connection: { once(e: string, f: () => void): void } }).connection;
      const aEnded = new Promise<boolean>((resolve) =>
        conn.once("readyForQuery", () => resolve((client as unknown as { _activeQuery: unknown })._activeQuery != null)),
      );
      cancelA(); // the CancelRequest is held by the relay: A ends by itself on the server
      assert.equal(await aEnded, false, "B was sent while A's CancelRequest had not been delivered");
      relay.release(); // the cancel lands now; it must not hit B
      await a.then(
        () => {},
        () => {},
      );
      const rb = await b;
      assert.equal(rb.rows[0]!.b, "");
    } finally {
      relay.release();
      await client.end().catch(() => {});
      await relay.close();
    }
  });

  it("a call made while a cancelled one's fence is up leaves at once when its own ctx ends, and says so", async () => {
    const relay = await holdingRelay();
    const name = appName("fence-wait");
    const client = new pg.Client({ ...DB, port: relay.port, application_name: name });
    client.on("error", () => {});
    await client.connect();
    try {
      const [ctxA, cancelA] = withCancel(background());
      const a = query(ctxA, client, "select pg_sleep(30)", [], { graceMs: 60_000, cancelTimeoutMs: 60_000 });
      await activePid(name, "pg_sleep(30)");
      cancelA(); // the CancelRequest is held by the relay: A's fence stays up
      await new Promise((r) => setImmediate(r));
      const [ctxB, cancelB] = withCancel(background());
      const stops: StopReport[] = [];
      let b: unknown = "pending";
      query(ctxB, client, "select 'never sent'", [], { onStop: (r) => stops.push(r) }).then(
        () => (b = "resolved"),
        (e: unknown) => (b = e),
      );
      cancelB();
      await new Promise((r) => setImmediate(r)); // every microtask has run: a call that left has settled
      assert.equal(b, Canceled, "B waited on A's fence although its own ctx had ended");
      assert.deepEqual(
        stops.map((r) => r.stoppedBy),
        ["not-sent"],
      );
      relay.release();
      await assert.rejects(a, (e) => e === Canceled);
      assert.equal((await query(background(), client, "select 'after' as x")).rows[0]!.x, "after");
    } finally {
      relay.release();
      await client.end().catch(() => {});
      await relay.close();
    }
  });
});

after(async () => {
  await admin.end();
  assertNoLeaks();
});
