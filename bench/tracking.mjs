// Section g of `npm run bench` (g. Tracking overhead (issue 5)); run alone with `node --expose-gc bench/tracking.mjs`.
import {
  background,
  captureTaskStacks,
  Channel,
  go,
  setTracker,
  tasks,
  withCancel,
} from "@lifeline/core";
import { fmtNs, fmtRatio, standalone, timeOps } from "./harness.mjs";

/** benchTracking runs section g, reporting through the harness's `section` and `row`. */
export async function benchTracking({ section, row, verdict, check }) {
  section("g. tracking overhead: the task registry, a do-nothing tracker, creation stacks (ns/op)");
  const [ctx, cancelCtx] = withCancel(background());
  const noopTracker = { begin() {}, end() {} };
  /** under runs `fn(n)` with the tracker `t` installed and creation stacks `stacks`, then switches both off. */
  const under = (t, stacks, fn) => async (n) => {
    setTracker(t);
    captureTaskStacks(stacks);
    try {
      await fn(n);
    } finally {
      setTracker(undefined);
      captureTaskStacks(false);
    }
  };

  // spawn + join: go(ctx, fn) and await it.
  const body = async () => {};
  const spawnJoin = async (n) => {
    for (let i = 0; i < n; i++) await go(ctx, body);
  };
  // The same promise work as go() + await, without the Task: fn in a microtask, one reaction on its
  // promise (go's bookkeeping on settle), and the caller's await.
  const ignore = () => {};
  const promiseChain = async (n) => {
    for (let i = 0; i < n; i++) {
      const p = Promise.resolve(ctx).then(body);
      p.then(ignore, ignore);
      await p;
    }
  };

  // Channel ops, under a task's context (the registry records what the task waits on) or a plain one.
  const buffered = async (c, n) => {
    const ch = new Channel(1);
    for (let i = 0; i < n; i++) {
      await ch.send(c, i);
      const [v] = await ch.recv(c);
      if (v !== i) check(false, "buffered: value");
    }
  };
  const parked = async (c, n) => {
    const ch = new Channel(1);
    for (let i = 0; i < n; i++) {
      const p = ch.recv(c); // nothing buffered: parks (a task records "chan recv"; a tracker hears a wait)
      ch.trySend(i);
      const [v] = await p;
      if (v !== i) check(false, "parked: value");
    }
  };
  const inTask = (op) => (n) => go(ctx, (tctx) => op(tctx, n));
  const plain = (op) => (n) => op(ctx, n);

  // Sanity: a parked recv under a task's ctx is recorded on the task; the do-nothing tracker is really called.
  {
    let calls = 0;
    setTracker({ begin: () => void calls++, end: () => void calls++ });
    const t = go(ctx, async (tctx) => {
      const ch = new Channel(0);
      const p = ch.recv(tctx);
      check(tasks().find((x) => x.ctx === tctx)?.blockedOn === "chan recv", "the task is recorded as blocked on chan recv");
      ch.trySend(1);
      await p;
    });
    await t;
    setTracker(undefined);
    check(calls >= 4, `a tracker hears the task and the wait begin and end (${calls} calls)`);
  }

  const [sOff, sChain, sTrack, sStacks] = await timeOps([
    { fn: under(undefined, false, spawnJoin) },
    { fn: promiseChain },
    { fn: under(noopTracker, false, spawnJoin) },
    { fn: under(undefined, true, spawnJoin), maxN: 500_000 },
  ]);
  const [bTask, bPlain, bTrack, bStacks] = await timeOps([
    { fn: under(undefined, false, inTask(buffered)) },
    { fn: plain(buffered) },
    { fn: under(noopTracker, false, inTask(buffered)) },
    { fn: under(undefined, true, inTask(buffered)) },
  ]);
  // For scale: the registry's time stamps (Task.createdAt, since, ctxEndedAt) are each one read of this clock.
  let clockSink = 0;
  const origin = performance.timeOrigin; // read once, as the core does
  const twoClockReads = (n) => {
    for (let i = 0; i < n; i++) clockSink += origin + performance.now() - (origin + performance.now());
  };
  const [pTask, pPlain, pTrack, pStacks, tClock2] = await timeOps([
    { fn: under(undefined, false, inTask(parked)) },
    { fn: plain(parked) },
    { fn: under(noopTracker, false, inTask(parked)) },
    { fn: under(undefined, true, inTask(parked)) },
    { fn: twoClockReads },
  ]);
  check(clockSink <= 0, "clock reads: the monotonic clock never goes back");
  const added = (ours, base) => `${ours >= base ? "+" : "−"}${Math.abs((ours / base - 1) * 100).toFixed(0)}%`;
  const within10 = (ours, base) => ours <= base * 1.1;

  row({ bench: "g. spawn + join (await go(ctx, fn)), tracker off, stacks off", ours: `${fmtNs(sOff)} (${added(sOff, sChain)})`, peer: "same promise chain without a Task: Promise.resolve(ctx).then(fn) + await", peerValue: fmtNs(sChain), ratio: fmtRatio(sChain / sOff), target: "registry adds ≤ 10% (bound: the whole Task)", result: verdict(within10(sOff, sChain)), go: "" });
  row({ bench: "g. spawn + join (await go(ctx, fn)): the whole Task", ours: `${fmtNs(sOff)} (${added(sOff, sChain)})`, peer: "same promise chain without a Task: Promise.resolve(ctx).then(fn) + await", peerValue: fmtNs(sChain), ratio: fmtRatio(sChain / sOff), target: "≤ +50% (issue 13)", result: verdict(sOff <= sChain * 1.5), go: "" });
  row({ bench: "g. spawn + join, do-nothing tracker installed", ours: `${fmtNs(sTrack)} (${added(sTrack, sOff)})`, peer: "tracker off", peerValue: fmtNs(sOff), ratio: fmtRatio(sOff / sTrack), target: "", result: "", go: "" });
  row({ bench: "g. spawn + join, captureTaskStacks(true)", ours: `${fmtNs(sStacks)} (${added(sStacks, sOff)})`, peer: "stacks off", peerValue: fmtNs(sOff), ratio: fmtRatio(sOff / sStacks), target: "", result: "", go: "" });
  row({ bench: "g. buffered send+recv pair under a task's ctx (never parks)", ours: `${fmtNs(bTask)} (${added(bTask, bPlain)})`, peer: "same under a plain ctx (nothing to record)", peerValue: fmtNs(bPlain), ratio: fmtRatio(bPlain / bTask), target: "registry adds ≤ 10%", result: verdict(within10(bTask, bPlain)), go: "" });
  row({ bench: "g. buffered send+recv pair, task ctx: tracker / stacks", ours: `${fmtNs(bTrack)} (${added(bTrack, bTask)}) / ${fmtNs(bStacks)} (${added(bStacks, bTask)})`, peer: "tracker off, stacks off", peerValue: fmtNs(bTask), ratio: `${fmtRatio(bTask / bTrack)} / ${fmtRatio(bTask / bStacks)}`, target: "", result: "", go: "" });
  row({ bench: "g. recv that parks, woken by trySend, under a task's ctx", ours: `${fmtNs(pTask)} (${added(pTask, pPlain)})`, peer: "same under a plain ctx (no task to record on)", peerValue: fmtNs(pPlain), ratio: fmtRatio(pPlain / pTask), target: "registry adds ≤ 10%", result: verdict(within10(pTask, pPlain)), go: "" });
  row({ bench: "g. two reads of the registry's clock (timeOrigin + performance.now()), for scale", ours: fmtNs(tClock2), peer: "recv that parks: task ctx minus plain ctx (rows above)", peerValue: fmtNs(pTask - pPlain), ratio: "", target: "", result: "", go: "" });
  row({ bench: "g. recv that parks, task ctx: tracker / stacks", ours: `${fmtNs(pTrack)} (${added(pTrack, pTask)}) / ${fmtNs(pStacks)} (${added(pStacks, pTask)})`, peer: "tracker off, stacks off", peerValue: fmtNs(pTask), ratio: `${fmtRatio(pTask / pTrack)} / ${fmtRatio(pTask / pStacks)}`, target: "", result: "", go: "" });
  cancelCtx();
}

await standalone(import.meta.url, benchTracking);
