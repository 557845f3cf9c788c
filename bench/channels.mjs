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

  const oursBuffered = async (n) => {
    const ch = new Channel(1);
    for (let i = 0; i < n; i++) {
      await ch.send(ctx, i);
      const [v] = await ch.recv(ctx);
      if (v !== i) check(false, "ours buffered: value");
    }
  };
  const tsBuffered = (unsafe) => async (n) => {
    const ch = new Chan(1).setUnsafe(unsafe);
    for (let i = 0; i < n; i++) {
      await ch.send(i, signal);
      const r = await ch.recv(signal);
      if (r.value !== i) check(false, "ts-chan buffered: value");
    }
  };
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

  const [tBuf, tTsBuf, tTsBufU] = await timeOps([{ fn: oursBuffered }, { fn: tsBuffered(false) }, { fn: tsBuffered(true) }]);
  const [tPp, tTsPp, tTsPpU] = await timeOps([{ fn: oursPingPong }, { fn: tsPingPong(false) }, { fn: tsPingPong(true) }]);
  const [tSel, tTsSel, tTsSelU] = await timeOps([{ fn: oursSelect }, { fn: tsSelect(false) }, { fn: tsSelect(true) }]);

  row({ bench: "d. buffered send+recv pair, awaited", ours: fmtNs(tBuf), peer: "ts-chan Chan(1) (default)", peerValue: fmtNs(tTsBuf), ratio: fmtRatio(tTsBuf / tBuf), target: "≥ 15×", result: verdict(tTsBuf / tBuf >= 15), go: GO.buffered });
  row({ bench: "d. buffered send+recv pair, awaited", ours: fmtNs(tBuf), peer: "ts-chan Chan(1).setUnsafe(true) (no macrotask yield)", peerValue: fmtNs(tTsBufU), ratio: fmtRatio(tTsBufU / tBuf), target: "(≥ 15×)", result: verdict(tTsBufU / tBuf >= 15), go: GO.buffered });
  row({ bench: "d. unbuffered ping-pong round trip", ours: fmtNs(tPp), peer: "ts-chan Chan(0) (default)", peerValue: fmtNs(tTsPp), ratio: fmtRatio(tTsPp / tPp), target: "≥ 5×", result: verdict(tTsPp / tPp >= 5), go: GO.pingPong });
  row({ bench: "d. unbuffered ping-pong round trip", ours: fmtNs(tPp), peer: "ts-chan Chan(0).setUnsafe(true) (no macrotask yield)", peerValue: fmtNs(tTsPpU), ratio: fmtRatio(tTsPpU / tPp), target: "(≥ 5×)", result: verdict(tTsPpU / tPp >= 5), go: GO.pingPong });
  row({ bench: "d. select [done, ch], parks then woken", ours: fmtNs(tSel), peer: "ts-chan Select.wait(signal) (default)", peerValue: fmtNs(tTsSel), ratio: fmtRatio(tTsSel / tSel), target: "", result: "", go: "" });
  row({ bench: "d. select [done, ch], parks then woken", ours: fmtNs(tSel), peer: "ts-chan Select.wait(signal) unsafe", peerValue: fmtNs(tTsSelU), ratio: fmtRatio(tTsSelU / tSel), target: "", result: "", go: "" });
  cancelCtx();
  ac.abort();
}

await standalone(import.meta.url, benchChannels);
