// Seed 001, "Minimal cancellation pattern": a worker prints "Working..." every second until its context is
// cancelled, then "Worker stopped". main lets it run for two seconds, cancels, and waits for it to finish.
import { after, background, recv, select, withCancel } from "@lifeline/core";

async function worker(ctx) {
  for (;;) {
    const r = await select([recv(ctx.done()), recv(after(1000))]);
    if (r.index === 0) {
      console.log("Worker stopped");
      return;
    }
    console.log("Working...");
  }
}

const [ctx, cancel] = withCancel(background());
try {
  const stopped = worker(ctx);
  await new Promise((resolve) => setTimeout(resolve, 2000)); // let it run for a moment
  cancel();
  await stopped; // unlike Go's sleep-and-hope, we know when it has exited
} finally {
  cancel();
}
