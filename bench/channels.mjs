// Section d of `npm run bench` (d. Channels); run alone with `node --expose-gc bench/channels.mjs`.
import { Chan, Select, recv as tsRecv } from "ts-chan";
import {
  background,
  Channel,
  recv,
  select,
  withCancel,
} from "@lifeline/core";
import { fmtNs, fmtRatio, GO, standalone, timeOps } from "./harness.mjs";

/** benchChannels runs section d, reporting through the harness's `section` and `row`. */
export async function benchChannels({ section, row, verdict, check }) {
  section("d. channels (ns/op)");
  const [ctx, cancelCtx] = withCancel(background());
  const ac = new AbortController(); // ts-chan's analogue of ctx
  const signal = ac.signal;

  const oursBufferedCap = (cap) => async (n) => {
    const ch = new Channel(cap);
    for (let i = 0; i < n; i++) {
      await ch.send(ctx, i);
      const [v] = await ch.recv(ctx);
      if (v !== i) check(false, "ours buffered: value");
    }
  };
  const oursBuffered = oursBufferedCap(1);
  // The floor of any awaited buffered channel: the same producer/consumer over a bare array, one await per send
  // and one per receive (no ctx, no waiter queues, no closing, no result tuple).
  const floorBuffered = async (n) => {
    const buf = [];
    for (let i = 0; i < n; i++) {
      await buf.push(i);
      const v = await buf.shift();
      if (v !== i) check(false, "floor buffered: value");
    }
  };
  const tsBufferedCap = (cap, unsafe) => async (n) => {
    const ch = new Chan(cap).setUnsafe(unsafe);
    for (let i = 0; i < n; i++) {
      await ch.send(i, signal);
      const r = await ch.recv(signal);
      if (r.value !== i) check(false, "ts-chan buffered: value");
    }
  };
  const tsBuffered = (unsafe) => tsBufferedCap(1, unsafe);
  const oursPingPong = async (n) => {
    const ping = new Channel(0);
    const pong = new Channel(0);
    const echo = (async () => {
      for (let i = 0; i < n; i++) {
        const [v] = await ping.recv(ctx);
        await pong.send(ctx, v);
      }
    })();
    for (let i = 0; i < n; i++) {
      await ping.send(ctx, i);
      const [v] = await pong.recv(ctx);
      if (v !== i) check(false, "ours ping-pong: value");
    }
    await echo;
  };
  /**
   * Rendezvous is the floor of an unbuffered channel: one slot for a parked receiver (its resolver) or a parked
   * sender (its value and resolver), no queue, no ctx, no closing. The ping-pong below over it has the shape of
   * ours: per round trip four awaits (each side awaits its send and its receive), two of them resolver hand-offs
   * (the echo's parked receive of ping and its parked send of pong, as in ours).
   */
  class Rendezvous {
    receiver = null;
    sender = null;
    value = undefined;
    send(v) {
      const r = this.receiver;
      if (r !== null) {
        this.receiver = null;
        r(v);
        return undefined;
      }
      this.value = v;
      return new Promise((resolve) => (this.sender = resolve));
    }
    recv() {
      const s = this.sender;
      if (s !== null) {
        this.sender = null;
        const v = this.value;
        this.value = undefined;
        s();
        return v;
      }
      return new Promise((resolve) => (this.receiver = resolve));
    }
  }
  const floorPingPong = async (n) => {
    const ping = new Rendezvous();
    const pong = new Rendezvous();
    const echo = (async () => {
      for (let i = 0; i < n; i++) {
        const v = await ping.recv();
        await pong.send(v);
      }
    })();
    for (let i = 0; i < n; i++) {
      await ping.send(i);
      const v = await pong.recv();
      if (v !== i) check(false, "floor ping-pong: value");
    }
    await echo;
  };
  const tsPingPong = (unsafe) => async (n) => {
    const ping = new Chan(0).setUnsafe(unsafe);
    const pong = new Chan(0).setUnsafe(unsafe);
    const echo = (async () => {
      for (let i = 0; i < n; i++) {
        const r = await ping.recv(signal);
        await pong.send(r.value, signal);
      }
    })();
    for (let i = 0; i < n; i++) {
      await ping.send(i, signal);
      const r = await pong.recv(signal);
      if (r.value !== i) check(false, "ts-chan ping-pong: value");
    }
    await echo;
  };
  const oursSelect = async (n) => {
    const ch = new Channel(1);
    const done = ctx.done();
    for (let i = 0; i < n; i++) {
      const p = select([recv(done), recv(ch)]);
      ch.trySend(i);
      const r = await p;
      if (r.value !== i) check(false, "ours select: value");
    }
  };
  const tsSelect = (unsafe) => async (n) => {
    const ch = new Chan(1).setUnsafe(unsafe);
    const sel = new Select([tsRecv(ch)]).setUnsafe(unsafe);
    for (let i = 0; i < n; i++) {
      const p = sel.wait(signal);
      ch.trySend(i);
      const k = await p;
      const r = sel.recv(sel.cases[k]);
      if (r.value !== i) check(false, "ts-chan select: value");
    }
  };

  const [tBuf, tFloorBuf, tTsBuf, tTsBufU] = await timeOps([{ fn: oursBuffered }, { fn: floorBuffered }, { fn: tsBuffered(false) }, { fn: tsBuffered(true) }]);
  const [tBuf1k, tTsBuf1k] = await timeOps([{ fn: oursBufferedCap(1024) }, { fn: tsBufferedCap(1024, false) }]);
  const [tPp, tFloorPp, tTsPp, tTsPpU] = await timeOps([{ fn: oursPingPong }, { fn: floorPingPong }, { fn: tsPingPong(false) }, { fn: tsPingPong(true) }]);
  const times = (ours, floor) => `${fmtRatio(ours / floor)} the floor`;
  const [tSel, tTsSel, tTsSelU] = await timeOps([{ fn: oursSelect }, { fn: tsSelect(false) }, { fn: tsSelect(true) }]);

  row({ bench: "d. buffered send+recv pair, awaited", ours: fmtNs(tBuf), peer: "floor: bare array, one await per send and per receive", peerValue: fmtNs(tFloorBuf), ratio: times(tBuf, tFloorBuf), target: "≤ 1.5× the floor", result: verdict(tBuf <= 1.5 * tFloorBuf), go: GO.buffered });
  row({ bench: "d. buffered send+recv pair, awaited", ours: fmtNs(tBuf), peer: "ts-chan Chan(1) (default)", peerValue: fmtNs(tTsBuf), ratio: fmtRatio(tTsBuf / tBuf), target: "≥ 15×", result: verdict(tTsBuf / tBuf >= 15), go: GO.buffered });
  row({ bench: "d. buffered send+recv pair, awaited", ours: fmtNs(tBuf), peer: "ts-chan Chan(1).setUnsafe(true) (no macrotask yield)", peerValue: fmtNs(tTsBufU), ratio: fmtRatio(tTsBufU / tBuf), target: "(≥ 15×)", result: verdict(tTsBufU / tBuf >= 15), go: GO.buffered });
  row({ bench: "d. buffered send+recv pair, awaited, capacity 1024", ours: fmtNs(tBuf1k), peer: "ts-chan Chan(1024) (default)", peerValue: fmtNs(tTsBuf1k), ratio: fmtRatio(tTsBuf1k / tBuf1k), target: "≥ 10×", result: verdict(tTsBuf1k / tBuf1k >= 10), go: GO.buffered });
  row({ bench: "d. unbuffered ping-pong round trip", ours: fmtNs(tPp), peer: "floor: two resolver hand-offs per round trip (one-slot rendezvous, same shape)", peerValue: fmtNs(tFloorPp), ratio: times(tPp, tFloorPp), target: "≤ 1.5× the floor", result: verdict(tPp <= 1.5 * tFloorPp), go: GO.pingPong });
  row({ bench: "d. unbuffered ping-pong round trip", ours: fmtNs(tPp), peer: "ts-chan Chan(0) (default)", peerValue: fmtNs(tTsPp), ratio: fmtRatio(tTsPp / tPp), target: "≥ 5×", result: verdict(tTsPp / tPp >= 5), go: GO.pingPong });
  row({ bench: "d. unbuffered ping-pong round trip", ours: fmtNs(tPp), peer: "ts-chan Chan(0).setUnsafe(true) (no macrotask yield)", peerValue: fmtNs(tTsPpU), ratio: fmtRatio(tTsPpU / tPp), target: "(≥ 5×)", result: verdict(tTsPpU / tPp >= 5), go: GO.pingPong });
  row({ bench: "d. select [done, ch], parks then woken", ours: fmtNs(tSel), peer: "ts-chan Select.wait(signal) (default)", peerValue: fmtNs(tTsSel), ratio: fmtRatio(tTsSel / tSel), target: "", result: "", go: "" });
  row({ bench: "d. select [done, ch], parks then woken", ours: fmtNs(tSel), peer: "ts-chan Select.wait(signal) unsafe", peerValue: fmtNs(tTsSelU), ratio: fmtRatio(tTsSelU / tSel), target: "", result: "", go: "" });
  cancelCtx();
  ac.abort();
}

await standalone(import.meta.url, benchChannels);
