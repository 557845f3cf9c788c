// Seed 003, "You cannot kill a goroutine": pollService polls every 500 ms until cancelled and signals that it
// has finished cleaning up by closing a done channel, which main waits on.
import { after, background, Channel, go, recv, select, withCancel } from "@lifeline/core";

// pollService runs a loop until the context is cancelled.
async function pollService(ctx, done) {
  try {
    for (;;) {
      const r = await select([recv(ctx.done()), recv(after(500))]);
      if (r.index === 0) return; // ctx.err() holds the reason, usually Canceled
      console.log("Polling...");
    }
  } finally {
    done.close(); // signal the caller when cleanup finishes
  }
}

const [ctx, cancel] = withCancel(background());
const done = new Channel(0);
go(ctx, (ctx) => pollService(ctx, done)); // go pollService(ctx, done)
await new Promise((resolve) => setTimeout(resolve, 1200));
cancel(); // signal the task to stop
await done.recv(background()); // wait for it to exit: resolves [undefined, false] once done is closed
console.log("Goroutine stopped cleanly");
