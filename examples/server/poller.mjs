// The dashboard's poller (seed 003, "You cannot kill a goroutine"): a task that polls the upstream's
// status every `intervalMs` until its context is cancelled, and closes a done channel once it has cleaned
// up, so whoever cancelled it can wait until it has really stopped.
import { after, Channel, go, recv, select, withCancel, withTimeout } from "@lifeline/core";

/**
 * startPoller starts the poller as a task under a child of `parent` and returns its state: `cancel` asks
 * it to stop, `done` is closed when it has stopped, `polls` counts its polls. Each poll is
 * `check(ctx)` under a 1 s timeout; a failed poll is counted in `errors` and the poller goes on.
 */
export function startPoller(parent, { intervalMs }, check) {
  const [ctx, cancel] = withCancel(parent);
  const poller = { cancel, done: new Channel(0), polls: 0, errors: 0, startedAt: performance.now() };
  // go pollService(ctx, done): the task is listed by tasks() as "pollService" while it runs.
  go(ctx, async function pollService(ctx) {
    try {
      for (;;) {
        const r = await select([recv(ctx.done()), recv(after(intervalMs))]);
        if (r.index === 0) return; // cancelled: ctx.err() says why
        const [pollCtx, stop] = withTimeout(ctx, 1000);
        try {
          await check(pollCtx);
          poller.polls++;
        } catch (error) {
          if (ctx.err() !== undefined) return; // cancelled mid-poll: the fetch was aborted with it
          poller.errors++;
          console.error("poller: poll failed:", error);
        } finally {
          stop();
        }
      }
    } finally {
      poller.done.close(); // tell the canceller that cleanup has finished
    }
  });
  return poller;
}
