// Deterministic leaks. Each fixture returns where it made its leak (this file and line, from `here()` evaluated in
// the same expression as the call that makes it, so that the compiled file keeps both on one line) and a cleanup
// that ends it, so the file that uses them stays leak-free.
import {
  Channel,
  go,
  recv,
  select,
  ticker,
  withCancel,
  withTimeout,
  type Context,
  type Task,
} from "@lifeline/core";

/** here returns `file:line` of the line that calls it. */
export function here(): string {
  const frame = new Error().stack!.split("\n")[2]!;
  const m = /\(?((?:file:\/\/|\/)[^\s()]+):(\d+):\d+\)?$/.exec(frame);
  if (m === null) throw new Error(`here: cannot read a site from ${frame}`);
  return `${m[1]}:${m[2]}`;
}

export interface Fixture {
  /** site is the file:line where the leak was made. */
  readonly site: string;
  /** parkedSite is the file:line where a task parks, for task fixtures. */
  readonly parkedSite?: string;
  cleanup(): unknown;
}

/** neverFed starts a task that waits on a channel nobody sends on; ending `parent` or cleanup ends it. */
export function neverFed(parent: Context, name = "never-fed"): Fixture & { task: Task<void> } {
  const ch = new Channel<number>(0);
  const [site, task] = [here(), go(parent, (ctx) => waitOn(ch, ctx), { name })];
  task.then(undefined, () => {}); // it ends with Canceled when parent ends: expected
  return {
    site,
    get parkedSite() {
      return waitOnSite;
    },
    task,
    cleanup: () => ch.close(),
  };
}

let waitOnSite = "";
async function waitOn(ch: Channel<number>, ctx: Context): Promise<void> {
  const [site, received] = [here(), ch.recv(ctx)];
  waitOnSite = site;
  await received;
}

/** forgottenTimeout makes a 60 s timeout context and drops its cancel function. */
export function forgottenTimeout(parent: Context): Fixture & { ctx: Context } {
  const [site, [ctx]] = [here(), withTimeout(parent, 60_000)];
  return { site, ctx, cleanup: () => {} };
}

/** forgottenCancel makes a cancellable context and drops its cancel function. */
export function forgottenCancel(parent: Context): Fixture & { ctx: Context } {
  const [site, [ctx]] = [here(), withCancel(parent)];
  return { site, ctx, cleanup: () => {} };
}

/** unstoppedTicker starts a 100 ms ticker on `parent` and never stops it (ending `parent` does). */
export function unstoppedTicker(parent: Context): Fixture {
  const [site] = [here(), ticker(parent, 100)];
  return { site, cleanup: () => {} };
}

/** foreverSelect parks a select on three channels that nobody feeds, outside any task. */
export function foreverSelect(): Fixture & { done: Promise<unknown> } {
  const chans = [new Channel<number>(0), new Channel<number>(0), new Channel<number>(0)] as const;
  const [site, done] = [here(), select([recv(chans[0]), recv(chans[1]), recv(chans[2])])];
  return { site, done, cleanup: () => (chans[0].close(), done) };
}

/** selectingTask starts a task that parks in a select on two channels nobody feeds and its ctx's done. */
export function selectingTask(parent: Context): Fixture & { task: Task<unknown> } {
  const a = new Channel<number>(0);
  const b = new Channel<number>(0);
  const [site, task] = [here(), go(parent, (ctx) => selectOn(a, b, ctx), { name: "selector" })];
  return {
    site,
    get parkedSite() {
      return selectOnSite;
    },
    task,
    cleanup: () => (a.close(), task),
  };
}

let selectOnSite = "";
function selectOn(a: Channel<number>, b: Channel<number>, ctx: Context): Promise<unknown> {
  const [site, selected] = [here(), select([recv(a), recv(b), recv(ctx.done())])];
  selectOnSite = site;
  return selected;
}
