// Section b of `npm run bench` (b. Cancelling a parent with many children); run alone with `node --expose-gc bench/cancel-tree.mjs`.
import { setMaxListeners } from "node:events";
import { CancelToken } from "@esfx/canceltoken";
import {
  background,
  Canceled,
  withCancel,
} from "@lifeline/core";
import { fmtNs, fmtRatio, gc, median, nowNs, standalone } from "./harness.mjs";

/** benchCancelTree runs section b, reporting through the harness's `section` and `row`. */
export async function benchCancelTree({ section, row, verdict, check }) {
  section("b. cancel a parent with N children (ns per child)");

  /**
   * fanOnce builds `trees` parents with n children each, then times cancelling every parent: ns per child. Several
   * trees per sample keep the timed window long (tens of ms) even for a small n, so one preemption by another
   * process on this 2-CPU machine cannot dominate it. Before the timed part it collects garbage and idles briefly,
   * so that V8's concurrent sweeping of the previous round's garbage is not competing for the CPU meanwhile.
   */
  async function fanOnce(n, make, trees) {
    gc();
    const t0 = nowNs();
    const built = [];
    for (let t = 0; t < trees; t++) built.push(make(n));
    const t1 = nowNs();
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const t2 = nowNs();
    for (const b of built) b.fire();
    const t3 = nowNs();
    for (const b of built) check(b.verify(), `fan-out of ${n}: every child ended`);
    return { build: Number(t1 - t0) / (n * trees), cancel: Number(t3 - t2) / (n * trees) };
  }
  /** fanOut runs each case [n, make, trees, reps] `reps` times, interleaved, and returns the medians per case. */
  async function fanOut(cases) {
    const got = cases.map(() => ({ build: [], cancel: [] }));
    const rounds = Math.max(...cases.map((c) => c[3]));
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < cases.length; k++) {
        const [n, make, trees, reps] = cases[k];
        if (r >= reps) continue;
        const x = await fanOnce(n, make, trees);
        got[k].build.push(x.build);
        got[k].cancel.push(x.cancel);
      }
    }
    gc();
    if (process.env.BENCH_DEBUG) got.forEach((g, k) => console.error(`    [${cases[k][0]}] cancel ns/child: ${g.cancel.map((x) => x.toFixed(0)).join(" ")}`));
    return got.map((g) => ({ build: median(g.build), cancel: median(g.cancel) }));
  }

  const ours = (n) => {
    const [parent, cancelParent] = withCancel(background());
    const kids = new Array(n);
    for (let i = 0; i < n; i++) kids[i] = withCancel(parent)[0];
    return { fire: cancelParent, verify: () => kids[0].err() === Canceled && kids[n - 1].err() === Canceled };
  };
  const esfx = (n) => {
    const parent = CancelToken.source();
    const parents = [parent.token];
    const kids = new Array(n);
    for (let i = 0; i < n; i++) kids[i] = CancelToken.source(parents);
    return { fire: () => parent.cancel(), verify: () => kids[0].token.signaled && kids[n - 1].token.signaled };
  };
  const acListener = (n) => {
    const parent = new AbortController();
    const ps = parent.signal;
    setMaxListeners(n + 1, ps); // as an app would, to silence Node 20's MaxListenersExceededWarning
    const kids = new Array(n);
    for (let i = 0; i < n; i++) {
      const ac = new AbortController();
      ps.addEventListener("abort", () => ac.abort(ps.reason));
      kids[i] = ac;
    }
    return { fire: () => parent.abort(), verify: () => kids[0].signal.aborted && kids[n - 1].signal.aborted };
  };
  const signalAny = (n) => {
    const parent = new AbortController();
    const sources = [parent.signal];
    const kids = new Array(n);
    for (let i = 0; i < n; i++) kids[i] = AbortSignal.any(sources);
    return { fire: () => parent.abort(), verify: () => kids[0].aborted && kids[n - 1].aborted };
  };

  ours(1000).fire(); // warm up
  const t0 = performance.now();
  // [children per parent, candidate, parents per sample, samples]
  const [o100k, o1m, e100k, e1m, ac10k, any100k] = await fanOut([
    [100_000, ours, 10, 5], // 10 trees of 100k: the same 1M children per sample as the 1M case, in smaller trees
    [1_000_000, ours, 1, 5],
    [100_000, esfx, 1, 3], // ~5 µs per child to build here: fewer, and one tree
    [1_000_000, esfx, 1, 1],
    [10_000, acListener, 1, 3], // O(n²) to build: bounded
    [100_000, signalAny, 1, 3], // leaks until its parent goes: bounded
  ]);
  const growth = o1m.cancel / o100k.cancel;
  console.error(`  (fan-out section: ${((performance.now() - t0) / 1000).toFixed(1)} s)`);

  row({ bench: "b. cancel parent, 100k children (per child)", ours: fmtNs(o100k.cancel), peer: "@esfx, 100k children", peerValue: fmtNs(e100k.cancel), ratio: fmtRatio(e100k.cancel / o100k.cancel), target: "< 1 µs", result: verdict(o100k.cancel < 1000), go: "" });
  row({ bench: "b. cancel parent, 1M children (per child)", ours: fmtNs(o1m.cancel), peer: "@esfx, 1M children", peerValue: fmtNs(e1m.cancel), ratio: fmtRatio(e1m.cancel / o1m.cancel), target: "< 1 µs", result: verdict(o1m.cancel < 1000), go: "" });
  row({ bench: "b. linear growth: per-child 1M ÷ per-child 100k", ours: growth.toFixed(2), peer: "@esfx, same ratio", peerValue: (e1m.cancel / e100k.cancel).toFixed(2), ratio: "", target: "≈ 1 (< 2; O(n²) gives ~10)", result: verdict(growth < 2), go: "" });
  row({ bench: "b. cancel parent (per child), platform", ours: fmtNs(o100k.cancel) + " (100k)", peer: "AbortController + listener per child, 10k", peerValue: fmtNs(ac10k.cancel), ratio: fmtRatio(ac10k.cancel / o100k.cancel), target: "", result: "", go: "" });
  row({ bench: "b. cancel parent (per child), platform", ours: fmtNs(o100k.cancel) + " (100k)", peer: "AbortSignal.any([parent]), 100k", peerValue: fmtNs(any100k.cancel), ratio: fmtRatio(any100k.cancel / o100k.cancel), target: "", result: "", go: "" });
  row({ bench: "b. build N children (per child)", ours: `${fmtNs(o100k.build)} (100k), ${fmtNs(o1m.build)} (1M)`, peer: "AbortController + listener, 10k (O(n²) add)", peerValue: fmtNs(ac10k.build), ratio: fmtRatio(ac10k.build / o100k.build), target: "", result: "", go: "" });
  row({ bench: "b. build N children (per child)", ours: fmtNs(o100k.build) + " (100k)", peer: "@esfx 100k / AbortSignal.any 100k", peerValue: `${fmtNs(e100k.build)} / ${fmtNs(any100k.build)}`, ratio: `${fmtRatio(e100k.build / o100k.build)} / ${fmtRatio(any100k.build / o100k.build)}`, target: "", result: "", go: "" });
}

await standalone(import.meta.url, benchCancelTree);
