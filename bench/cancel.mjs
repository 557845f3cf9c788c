// Section a of `npm run bench` (a. withCancel + cancel under one long-lived parent); run alone with `node --expose-gc bench/cancel.mjs`.
import { CancelToken } from "@esfx/canceltoken";
import {
  background,
  Canceled,
  withCancel,
} from "@lifeline/core";
import { fmtNs, fmtRatio, GO, standalone, timeOps } from "./harness.mjs";

/** _sink keeps results observable so no loop is optimised away. */
let _sink;

/** benchCancel runs section a, reporting through the harness's `section` and `row`. */
export async function benchCancel({ section, row, verdict, check }) {
  section("a. withCancel(parent) + cancel() under one long-lived parent (ns/op)");

  const ours = (n) => {
    const [parent, cancelParent] = withCancel(background());
    for (let i = 0; i < n; i++) {
      const [, cancel] = withCancel(parent);
      cancel();
    }
    cancelParent();
  };
  const oursSignal = (n) => {
    const [parent, cancelParent] = withCancel(background());
    for (let i = 0; i < n; i++) {
      const [ctx, cancel] = withCancel(parent);
      _sink = ctx.signal; // the lazily created AbortSignal, as a fetch-bound ctx would
      cancel();
    }
    cancelParent();
  };
  const acListener = (n) => {
    const parent = new AbortController();
    const ps = parent.signal;
    for (let i = 0; i < n; i++) {
      const ac = new AbortController();
      const onAbort = () => ac.abort(ps.reason);
      ps.addEventListener("abort", onAbort);
      ps.removeEventListener("abort", onAbort);
      ac.abort();
    }
    parent.abort();
  };
  const signalAny = (n) => {
    const parent = new AbortController(); // a fresh parent per sample, so the leak of one sample is freed
    const sources = [parent.signal];
    for (let i = 0; i < n; i++) _sink = AbortSignal.any(sources);
    parent.abort();
  };
  const esfx = (n) => {
    const parent = CancelToken.source();
    const parents = [parent.token];
    for (let i = 0; i < n; i++) {
      const src = CancelToken.source(parents);
      src.cancel();
    }
    parent.cancel();
  };

  // Sanity: each candidate really links child to parent.
  {
    const [p, cp] = withCancel(background());
    const [c] = withCancel(p);
    cp();
    check(c.err() === Canceled, "ours: child of a cancelled parent is cancelled");
    const parent = CancelToken.source();
    const s = CancelToken.source([parent.token]);
    parent.cancel();
    check(s.token.signaled, "esfx: linked source is signaled");
  }

  const [tOurs, tOursSignal, tAc, tAny, tEsfx] = await timeOps([
    { fn: ours },
    { fn: oursSignal },
    { fn: acListener },
    { fn: signalAny, maxN: 20_000 }, // leaks until its parent goes: a fresh parent per sample, bounded
    { fn: esfx },
  ]);

  row({ bench: "a. withCancel+cancel", ours: fmtNs(tOurs), peer: "AbortController + parent listener", peerValue: fmtNs(tAc), ratio: fmtRatio(tAc / tOurs), target: "≥ 40×", result: verdict(tAc / tOurs >= 40), go: GO.withCancel });
  row({ bench: "a. withCancel+cancel", ours: fmtNs(tOurs), peer: "AbortSignal.any([parent.signal]) (cannot cancel; leaks)", peerValue: fmtNs(tAny), ratio: fmtRatio(tAny / tOurs), target: "", result: "", go: GO.withCancel });
  row({ bench: "a. withCancel+cancel", ours: fmtNs(tOurs), peer: "@esfx CancelToken.source([parent]) + cancel", peerValue: fmtNs(tEsfx), ratio: fmtRatio(tEsfx / tOurs), target: "", result: "", go: GO.withCancel });
  row({ bench: "a. withCancel + read ctx.signal + cancel", ours: fmtNs(tOursSignal), peer: "AbortController + parent listener", peerValue: fmtNs(tAc), ratio: fmtRatio(tAc / tOursSignal), target: "", result: "", go: "" });
}

await standalone(import.meta.url, benchCancel);
