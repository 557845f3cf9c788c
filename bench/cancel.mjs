// Section a of `npm run bench` (a. withCancel + cancel under one long-lived parent); run alone with `node --expose-gc bench/cancel.mjs`.
import { CancelToken } from "@esfx/canceltoken";
import {
  background,
  Canceled,
  DeadlineExceeded,
  withCancel,
  withTimeout,
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
  await benchDeadlines({ row, check });
}

/**
 * benchDeadlines: a deadline's own cost beside the platform timer it would otherwise be (every lifeline timer on
 * the platform clock shares one setTimeout: packages/core/src/3-wait/alarm.ts). Cancelled early, one at a time
 * and with 1,000 in flight (a server with 1,000 requests open, each with a 5 s timeout), and left to fire.
 */
async function benchDeadlines({ row, check }) {
  const noop = () => {};
  const bg = background();
  const IN_FLIGHT = 1000;
  const oursCancel = (n) => {
    for (let i = 0; i < n; i++) withTimeout(bg, 5_000)[1]();
  };
  const platformCancel = (n) => {
    for (let i = 0; i < n; i++) clearTimeout(setTimeout(noop, 5_000));
  };
  // A ring of IN_FLIGHT live deadlines: each op makes one and cancels the oldest.
  const oursRing = withTimeoutRing();
  const platformRing = (() => {
    const ring = Array.from({ length: IN_FLIGHT }, () => setTimeout(noop, 5_000));
    let at = 0;
    return (n) => {
      for (let i = 0; i < n; i++) {
        clearTimeout(ring[at]);
        ring[at] = setTimeout(noop, 5_000);
        at = (at + 1) % IN_FLIGHT;
      }
    };
  })();
  function withTimeoutRing() {
    const ring = Array.from({ length: IN_FLIGHT }, () => withTimeout(bg, 5_000)[1]);
    let at = 0;
    return (n) => {
      for (let i = 0; i < n; i++) {
        ring[at]();
        ring[at] = withTimeout(bg, 5_000)[1];
        at = (at + 1) % IN_FLIGHT;
      }
    };
  }
  // n deadlines of 1 ms made at once, all left to fire (the last made fires last).
  const oursFire = async (n) => {
    let last;
    for (let i = 0; i < n; i++) last = withTimeout(bg, 1)[0];
    await last.done().recv(bg);
  };
  const platformFire = (n) =>
    new Promise((resolve) => {
      let left = n;
      const fired = () => {
        if (--left === 0) resolve();
      };
      for (let i = 0; i < n; i++) setTimeout(fired, 1);
    });
  {
    const [ctx] = withTimeout(bg, 1);
    await ctx.done().recv(bg);
    check(ctx.err() === DeadlineExceeded, "ours: a 1 ms deadline fired");
  }
  const [tCancel, tPCancel, tRing, tPRing, tFire, tPFire] = await timeOps([
    { fn: oursCancel },
    { fn: platformCancel },
    { fn: oursRing },
    { fn: platformRing },
    { fn: oursFire, maxN: 200_000 },
    { fn: platformFire, maxN: 200_000 },
  ]);
  platformRing(IN_FLIGHT); // clears nothing it armed: left to fire harmlessly 5 s from now
  const r = (bench, ours, peer, peerValue) => row({ bench, ours: fmtNs(ours), peer, peerValue: fmtNs(peerValue), ratio: fmtRatio(peerValue / ours), target: "", result: "", go: "" });
  r("a. withTimeout(bg, 5 s) + cancel", tCancel, "setTimeout(f, 5 s) + clearTimeout", tPCancel);
  r(`a. withTimeout(bg, 5 s) + cancel, ${IN_FLIGHT.toLocaleString("en")} in flight`, tRing, `setTimeout + clearTimeout, ${IN_FLIGHT.toLocaleString("en")} in flight`, tPRing);
  r("a. withTimeout(bg, 1 ms), left to fire (n at once)", tFire, "setTimeout(f, 1 ms), fired (n at once)", tPFire);
}

await standalone(import.meta.url, benchCancel);
