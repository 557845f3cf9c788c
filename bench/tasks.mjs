// Section f of `npm run bench` (f. Tasks (issue 3)); run alone with `node --expose-gc bench/tasks.mjs`.
import { createScope, run as effRun, spawn as effSpawn, suspend as effSuspend } from "effection";
import pLimit from "p-limit";
import {
  background,
  go,
  recv,
  select,
  Semaphore,
  setTracker,
  tasks,
  withCancel,
  withErrGroup,
} from "@lifeline/core";
import { fmtBytes, fmtNs, fmtRatio, median, nowNs, retained, standalone, timeOps } from "./harness.mjs";

/** benchTasks runs section f, reporting through the harness's `section` and `row`. */
export async function benchTasks({ section, row, verdict, check }) {
  section("f. tasks: spawn + cancel + join, errgroup, semaphore, memory");
  const [parent, cancelParent] = withCancel(background());
  const startTasks = tasks().length;

  // A cooperative task: it waits for its context to end, as `<-ctx.Done()` in Go.
  const waitDone = async (ctx) => {
    await select([recv(ctx.done())]);
  };
  const oursParked = async (n) => {
    for (let i = 0; i < n; i++) {
      const [c, cancel] = withCancel(parent);
      const t = go(c, waitDone);
      await null; // the task runs to its select and parks there (checked below)
      cancel();
      await t;
    }
  };
  const oursAtOnce = async (n) => {
    // The literal pattern: cancel() before the task's first step, which then finds its ctx already done.
    for (let i = 0; i < n; i++) {
      const [c, cancel] = withCancel(parent);
      const t = go(c, waitDone);
      cancel();
      await t;
    }
  };
  const bare = async () => {};
  const bareAsync = async (n) => {
    for (let i = 0; i < n; i++) await bare();
  };
  const waitAbort = (signal) => new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
  const acTask = async (n) => {
    // The platform's version: an async function that waits for its AbortSignal.
    for (let i = 0; i < n; i++) {
      const ac = new AbortController();
      const p = waitAbort(ac.signal);
      await null;
      ac.abort();
      await p;
    }
  };
  let effStarted = 0;
  let effHalted = 0;
  function* suspender() {
    effStarted++;
    try {
      yield* effSuspend();
    } finally {
      effHalted++;
    }
  }
  const effScopeRun = async (n) => {
    // Effection's entry from async code: scope.run starts the operation, which runs to its suspend; halt() ends it.
    const [scope, destroy] = createScope();
    for (let i = 0; i < n; i++) {
      const t = scope.run(suspender);
      await t.halt();
    }
    await destroy();
  };
  const effSpawnHalt = (n) =>
    // Inside one operation: spawn a child and halt it at once (it has not started: "at the next opportunity").
    effRun(function* () {
      for (let i = 0; i < n; i++) {
        const t = yield* effSpawn(suspender);
        yield* t.halt();
      }
    });

  // Sanity: our task really parks before it is cancelled; Effection's really starts and is torn down.
  {
    const [c, cancel] = withCancel(parent);
    const t = go(c, waitDone);
    await null;
    check(t.state === "blocked" && tasks().length === startTasks + 1, `ours: the task is parked in its select (${t.state})`);
    cancel();
    await t;
    check(tasks().length === startTasks, "ours: the registry forgot the task");
    await effScopeRun(10);
    check(effStarted === 10 && effHalted === 10, "effection: scope.run children started and were halted");
  }

  const [tParked, tAtOnce, tBare, tAc, tEff, tEffSpawn] = await timeOps([
    { fn: oursParked },
    { fn: oursAtOnce },
    { fn: bareAsync },
    { fn: acTask },
    { fn: effScopeRun, maxN: 20_000 },
    { fn: effSpawnHalt, maxN: 20_000 },
  ]);
  check(tasks().length === startTasks, "no task left behind by the timed loops");

  row({ bench: "f. spawn + cancel + join, task parked on ctx.done()", ours: fmtNs(tParked), peer: "Effection 4: scope.run(suspend) + await halt()", peerValue: fmtNs(tEff), ratio: fmtRatio(tEff / tParked), target: "≥ 20×", result: verdict(tEff / tParked >= 20), go: "" });
  row({ bench: "f. spawn + cancel + join, task parked on ctx.done()", ours: fmtNs(tParked), peer: "bare async fn call + await", peerValue: fmtNs(tBare), ratio: fmtRatio(tBare / tParked), target: "≤ 1 µs per task", result: verdict(tParked <= 1000), go: "" });
  row({ bench: "f. spawn + cancel + join, task parked on ctx.done()", ours: fmtNs(tParked), peer: "AbortController + async fn awaiting 'abort'", peerValue: fmtNs(tAc), ratio: fmtRatio(tAc / tParked), target: "", result: "", go: "" });
  row({ bench: "f. spawn + cancel before its first step + join", ours: fmtNs(tAtOnce), peer: "Effection 4: spawn + halt in one run() (child not started)", peerValue: fmtNs(tEffSpawn), ratio: fmtRatio(tEffSpawn / tAtOnce), target: "(≥ 20×)", result: verdict(tEffSpawn / tAtOnce >= 20), go: "" });
  row({ bench: "f. spawn + cancel before its first step + join", ours: fmtNs(tAtOnce), peer: "bare async fn call + await", peerValue: fmtNs(tBare), ratio: fmtRatio(tBare / tAtOnce), target: "(≤ 1 µs)", result: verdict(tAtOnce <= 1000), go: "" });

  // errgroup: 100k tiny tasks, at most 64 at once.
  const JOBS = 100_000;
  const LIMIT = 64;
  let done = 0;
  let running = 0;
  let peak = 0;
  const tiny = async () => {
    running++;
    if (running > peak) peak = running;
    await null; // one suspension, so tasks overlap and the limit matters
    running--;
    done++;
  };
  const groupQueued = async (jobs) => {
    const [g] = withErrGroup(parent);
    g.setLimit(LIMIT);
    for (let i = 0; i < jobs; i++) void g.go(tiny);
    await g.wait();
  };
  const pLimited = async (jobs) => {
    const limit = pLimit(LIMIT);
    const all = new Array(jobs);
    for (let i = 0; i < jobs; i++) all[i] = limit(tiny);
    await Promise.all(all);
  };
  const promisePool = async (jobs) => {
    let next = 0;
    const worker = async () => {
      while (next < jobs) {
        next++;
        await tiny();
      }
    };
    const workers = new Array(LIMIT);
    for (let i = 0; i < LIMIT; i++) workers[i] = worker();
    await Promise.all(workers);
  };
  /**
   * timeRuns returns the median ms of each candidate's whole run, interleaved, after a warm-up run of a tenth
   * of the jobs each.
   * A candidate whose run takes over 2 s is not run again: its first timed run stands (the bench stays bounded).
   */
  async function timeRuns(entries, samples) {
    const per = entries.map(() => []);
    for (const e of entries) await e(JOBS / 10);
    for (let s = 0; s < samples; s++) {
      for (let k = 0; k < entries.length; k++) {
        if (per[k].length > 0 && per[k][0] > 2000) continue;
        done = 0;
        peak = 0;
        const t0 = nowNs();
        await entries[k](JOBS);
        per[k].push(Number(nowNs() - t0) / 1e6);
        check(done === JOBS && peak <= LIMIT && peak >= LIMIT / 2, `candidate ${k}: ${done} of ${JOBS} ran, at most ${peak} at once (limit ${LIMIT})`);
      }
    }
    return per.map((xs) => ({ ms: median(xs), runs: xs.length }));
  }
  const [gQueued, gPLimit, gPool] = await timeRuns([groupQueued, pLimited, promisePool], 5);
  const perRun = ({ ms, runs }) => `${ms.toFixed(1)} ms (${fmtNs((ms * 1e6) / JOBS)}/task${runs === 1 ? "; 1 run" : ""})`;
  row({ bench: "f. errgroup, 100k tiny tasks, limit 64: g.go() × 100k then wait()", ours: perRun(gQueued), peer: "p-limit 7: limit(fn) × 100k then Promise.all", peerValue: perRun(gPLimit), ratio: fmtRatio(gPLimit.ms / gQueued.ms), target: "", result: "", go: "" });
  row({ bench: "f. errgroup, 100k tiny tasks, limit 64: g.go() × 100k then wait()", ours: perRun(gQueued), peer: "plain Promise pool: 64 async workers on a counter", peerValue: perRun(gPool), ratio: fmtRatio(gPool.ms / gQueued.ms), target: "", result: "", go: "" });

  // Semaphore: an acquire/release pair.
  const [semCtx, cancelSemCtx] = withCancel(background());
  /** PlainSemaphore is the baseline: a counter and a FIFO of resolvers, no cancellation, no weights. */
  class PlainSemaphore {
    #free;
    #queue = [];
    #head = 0;
    constructor(n) {
      this.#free = n;
    }
    acquire() {
      if (this.#free > 0 && this.#head === this.#queue.length) {
        this.#free--;
        return Promise.resolve();
      }
      return new Promise((resolve) => this.#queue.push(resolve));
    }
    release() {
      if (this.#head < this.#queue.length) {
        const next = this.#queue[this.#head];
        this.#queue[this.#head++] = undefined;
        if (this.#head === this.#queue.length) this.#queue.length = this.#head = 0;
        next();
      } else this.#free++;
    }
  }
  const semUncontended = async (n) => {
    const sem = new Semaphore(1);
    for (let i = 0; i < n; i++) {
      await sem.acquire(semCtx);
      sem.release();
    }
  };
  const plainUncontended = async (n) => {
    const sem = new PlainSemaphore(1);
    for (let i = 0; i < n; i++) {
      await sem.acquire();
      sem.release();
    }
  };
  // Contended: 3 workers on 1 permit; each holds it across one suspension, so 2 are always queued.
  const contended = (sem, acquire) => async (n) => {
    let holders = 0;
    const worker = async (m) => {
      for (let i = 0; i < m; i++) {
        await acquire(sem);
        if (++holders !== 1) check(false, "semaphore: one holder at a time");
        await null;
        holders--;
        sem.release();
      }
    };
    const third = Math.ceil(n / 3);
    await Promise.all([worker(third), worker(third), worker(third)]);
  };
  const semContended = contended(new Semaphore(1), (s) => s.acquire(semCtx));
  const plainContended = contended(new PlainSemaphore(1), (s) => s.acquire());
  {
    // Sanity: in the contended loop nearly every acquire queues (a tracker counts the parked waits).
    let waits = 0;
    setTracker({ begin: (kind, _s, what) => void (kind === "wait" && what.startsWith("semaphore") && waits++), end() {} });
    await contended(new Semaphore(1), (s) => s.acquire(semCtx))(3000);
    setTracker(undefined);
    check(waits >= 2900, `semaphore contended: ${waits} of 3000 acquires waited`);
  }
  const [sUn, pUn, sCo, pCo] = await timeOps([{ fn: semUncontended }, { fn: plainUncontended }, { fn: semContended }, { fn: plainContended }]);
  row({ bench: "f. semaphore acquire + release, uncontended (awaited)", ours: fmtNs(sUn), peer: "plain counter + FIFO of resolvers (no ctx)", peerValue: fmtNs(pUn), ratio: fmtRatio(pUn / sUn), target: "", result: "", go: "" });
  row({ bench: "f. semaphore acquire + release, contended (2 waiters queued)", ours: fmtNs(sCo), peer: "plain counter + FIFO of resolvers (no ctx)", peerValue: fmtNs(pCo), ratio: fmtRatio(pCo / sCo), target: "", result: "", go: "" });
  cancelSemCtx();

  // Memory: 1M completed tasks under one long-lived parent; the registry must forget every one.
  const tasksBatched = async (n) => {
    const BATCH = 1000;
    const batch = new Array(BATCH);
    for (let i = 0; i < n; i += BATCH) {
      for (let j = 0; j < BATCH; j++) batch[j] = go(parent, tiny);
      for (let j = 0; j < BATCH; j++) await batch[j];
    }
    batch.fill(undefined);
    return parent;
  };
  const rTasks = await retained(tasksBatched, 1_000_000);
  const left = tasks().length - startTasks;
  row({ bench: "f. 1M tasks (go + await, batches of 1000), retained after GC", ours: fmtBytes(rTasks), peer: "", peerValue: "", ratio: "", target: "< 1 MiB", result: verdict(rTasks < 1024 * 1024), go: "" });
  row({ bench: "f. 1M tasks: tasks().length after, minus before", ours: String(left), peer: "", peerValue: "", ratio: "", target: "0", result: verdict(left === 0), go: "" });
  cancelParent();
}

await standalone(import.meta.url, benchTasks);
