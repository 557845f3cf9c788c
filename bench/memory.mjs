// Section c of `npm run bench` (c. Memory retained under one long-lived parent / ctx); run alone with `node --expose-gc bench/memory.mjs`.
import { CancelToken } from "@esfx/canceltoken";
import { Chan, Select, recv as tsRecv } from "ts-chan";
import {
  background,
  Channel,
  recv,
  select,
  withCancel,
} from "@lifeline/core";
import { fmtBytes, retained, standalone } from "./harness.mjs";

/** _sink keeps results observable so no loop is optimised away. */
let _sink;

/** benchMemory runs section c, reporting through the harness's `section` and `row`. */
export async function benchMemory({ section, row, verdict, check }) {
  section("c. memory retained after GC (heapUsed delta) under one long-lived parent / ctx");
  const MiB = 1024 * 1024;
  const M = 1_000_000;
  const PEER = 200_000;

  // The long-lived parent/ctx lives across warm-up and measurement.
  const [parent, cancelParent] = withCancel(background());
  const oursSeq = async (n) => {
    for (let i = 0; i < n; i++) {
      const [, cancel] = withCancel(parent);
      cancel();
    }
    return parent;
  };
  const oursBurst = async (n) => {
    // n children alive at once (a traffic burst), then each ends by its own cancel: the parent must shrink back.
    const cancels = new Array(n);
    for (let i = 0; i < n; i++) cancels[i] = withCancel(parent)[1];
    for (let i = 0; i < n; i++) cancels[i]();
    return parent;
  };
  const acParent = new AbortController();
  const acSeq = async (n) => {
    const ps = acParent.signal;
    for (let i = 0; i < n; i++) {
      const ac = new AbortController();
      const onAbort = () => ac.abort(ps.reason);
      ps.addEventListener("abort", onAbort);
      ps.removeEventListener("abort", onAbort);
      ac.abort();
    }
    return acParent;
  };
  const anyParent = new AbortController();
  const anySeq = async (n) => {
    const sources = [anyParent.signal];
    for (let i = 0; i < n; i++) _sink = AbortSignal.any(sources);
    _sink = undefined;
    return anyParent;
  };
  const esfxParent = CancelToken.source();
  const esfxSeq = async (n) => {
    const parents = [esfxParent.token];
    for (let i = 0; i < n; i++) CancelToken.source(parents).cancel();
    return esfxParent;
  };

  const rOursSeq = await retained(oursSeq, M);
  const rOursBurst = await retained(oursBurst, M);
  const rAc = await retained(acSeq, PEER); // ~20 µs per op here (a DOMException per abort): bounded
  const rEsfx = await retained(esfxSeq, PEER); // ~14 µs per op here: bounded
  const rAny = await retained(anySeq, PEER);
  row({ bench: "c. 1M withCancel+cancel, one at a time", ours: fmtBytes(rOursSeq), peer: "AbortSignal.any([parent]), 200k", peerValue: fmtBytes(rAny), ratio: "", target: "< 1 MiB", result: verdict(rOursSeq < MiB), go: "" });
  row({ bench: "c. 1M withCancel+cancel, one at a time", ours: fmtBytes(rOursSeq), peer: "AbortController + listener (removed), 200k", peerValue: fmtBytes(rAc), ratio: "", target: "", result: "", go: "" });
  row({ bench: "c. 1M withCancel+cancel, one at a time", ours: fmtBytes(rOursSeq), peer: "@esfx source([parent]) + cancel, 200k", peerValue: fmtBytes(rEsfx), ratio: "", target: "", result: "", go: "" });
  row({ bench: "c. 1M children alive at once, then each cancelled", ours: fmtBytes(rOursBurst), peer: "", peerValue: "", ratio: "", target: "< 1 MiB", result: verdict(rOursBurst < MiB), go: "" });

  // select / recv against one long-lived ctx.
  const [ctx, cancelCtx] = withCancel(background());
  const done = ctx.done();
  const ch = new Channel(1);
  const selParked = async (n) => {
    let got = 0;
    for (let i = 0; i < n; i++) {
      const p = select([recv(done), recv(ch)]); // nothing ready: parks a waiter on done and on ch
      ch.trySend(i); // wakes it through ch; the waiter on done must go
      const r = await p;
      got += r.index;
    }
    check(got === n, "select always took the channel case");
    return ctx;
  };
  const selReady = async (n) => {
    for (let i = 0; i < n; i++) {
      ch.trySend(i);
      const r = await select([recv(done), recv(ch)]);
      check(r.index === 1 && r.value === i, "select got the buffered value");
    }
    return ctx;
  };
  const recvParked = async (n) => {
    for (let i = 0; i < n; i++) {
      const p = ch.recv(ctx); // parks; listens on ctx
      ch.trySend(i);
      const [v] = await p;
      if (v !== i) check(false, "recv got the value sent");
    }
    return ctx;
  };
  const recvReady = async (n) => {
    for (let i = 0; i < n; i++) {
      ch.trySend(i);
      const [v] = await ch.recv(ctx);
      if (v !== i) check(false, "recv got the value sent");
    }
    return ctx;
  };
  const never = new Promise(() => {});
  const raceLeak = async (n) => {
    // The platform idiom: race the work against a long-lived "done" promise.
    for (let i = 0; i < n; i++) await Promise.race([never, Promise.resolve(i)]);
    return [never]; // (returning the promise itself would adopt it and never settle)
  };
  const tsAc = new AbortController();
  const tch = new Chan(1);
  const tsRecvParked = async (n) => {
    for (let i = 0; i < n; i++) {
      const p = tch.recv(tsAc.signal);
      tch.trySend(i);
      const r = await p;
      if (r.value !== i) check(false, "ts-chan recv got the value sent");
    }
    return tsAc;
  };
  const tsSel = new Select([tsRecv(tch)]);
  const tsSelParked = async (n) => {
    for (let i = 0; i < n; i++) {
      const p = tsSel.wait(tsAc.signal); // ts-chan's analogue of a ctx.done() case is the abort signal
      tch.trySend(i);
      const k = await p;
      const r = tsSel.recv(tsSel.cases[k]);
      if (r.value !== i) check(false, "ts-chan select got the value sent");
    }
    return tsAc;
  };

  const rSelParked = await retained(selParked, M);
  const rSelReady = await retained(selReady, M);
  const rRecvParked = await retained(recvParked, M);
  const rRecvReady = await retained(recvReady, M);
  const rRace = await retained(raceLeak, PEER);
  const rTsRecv = await retained(tsRecvParked, PEER, 2_000);
  const rTsSel = await retained(tsSelParked, PEER, 2_000);
  row({ bench: "c. 1M select([recv(ctx.done()), recv(ch)]), parks then woken", ours: fmtBytes(rSelParked), peer: "Promise.race([longLived, p]), 200k", peerValue: fmtBytes(rRace), ratio: "", target: "< 1 MiB", result: verdict(rSelParked < MiB), go: "" });
  row({ bench: "c. 1M select(…), value already buffered", ours: fmtBytes(rSelReady), peer: "ts-chan Select.wait(signal), 200k", peerValue: fmtBytes(rTsSel), ratio: "", target: "< 1 MiB", result: verdict(rSelReady < MiB), go: "" });
  row({ bench: "c. 1M ch.recv(ctx), parks then woken", ours: fmtBytes(rRecvParked), peer: "ts-chan Chan.recv(signal), 200k", peerValue: fmtBytes(rTsRecv), ratio: "", target: "< 1 MiB", result: verdict(rRecvParked < MiB), go: "" });
  row({ bench: "c. 1M ch.recv(ctx), value already buffered", ours: fmtBytes(rRecvReady), peer: "", peerValue: "", ratio: "", target: "< 1 MiB", result: verdict(rRecvReady < MiB), go: "" });

  cancelParent();
  cancelCtx();
  acParent.abort();
  anyParent.abort();
  esfxParent.cancel();
  tsAc.abort();
}

await standalone(import.meta.url, benchMemory);
