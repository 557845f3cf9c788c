// Seed 001, "Minimal cancellation pattern": a worker prints "Working..." every second until its context is
// cancelled, then "Worker stopped". main lets it run for two seconds, then cancels it.
import { after, background, go, recv, select, withCancel } from "@lifeline/core";

// worker runs a loop that respects context cancellation.
async function worker(ctx) {
  for (;;) {
    const r = await select([recv(ctx.done()), recv(after(1000))]);
    if (r.index === 0) {
      console.log("Worker stopped"); // the context is cancelled: exit immediately
      return;
    }
    console.log("Working...");
  }
}

const [ctx, cancel] = withCancel(background());
try {
  const task = go(ctx, worker); // go Worker(ctx)
  await new Promise((resolve) => setTimeout(resolve, 2000)); // let the worker run for a moment
  cancel();
  await task; // where Go sleeps and hopes, we can wait for the task to exit
} finally {
  cancel();
}
