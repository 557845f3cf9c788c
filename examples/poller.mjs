// Seed 003, "You cannot kill a goroutine": pollService polls every 500 ms until cancelled and signals that it
// has finished cleaning up by closing a done channel, which main waits on.
import { after, background, Channel, recv, select, withCancel } from "@lifeline/core";

async function pollService(ctx, done) {
  try {
    for (;;) {
      const r = await select([recv(ctx.done()), recv(after(500))]);
      if (r.index === 0) return; // ctx.err() holds the reason: Canceled
      console.log("Polling...");
    }
  } finally {
    done.close(); // tell the caller that cleanup has finished
  }
}

const [ctx, cancel] = withCancel(background());
const done = new Channel(0);
void pollService(ctx, done);
await new Promise((resolve) => setTimeout(resolve, 1200));
cancel();
await done.recv(background()); // resolves [undefined, false] once done is closed
console.log(`Poller stopped cleanly (${ctx.err().message})`);
