// Ctrl-C → graceful drain. A pool of workers processes jobs until SIGINT or SIGTERM. On the first signal the
// pool drains: it stops taking jobs and lets in-flight ones finish, with a grace period after which their
// context is cancelled. A second Ctrl-C exits at once.
import { background, Channel, cause, go, sleep, workerPool } from "@lifeline/core";
import { notifyContext } from "@lifeline/node";

const [ctx, stop] = notifyContext(background());
try {
  const jobs = new Channel(100);
  // A producer that keeps the queue fed until shutdown.
  const producer = go(ctx, async function producer(ctx) {
    for (let i = 0; ; i++) await jobs.send(ctx, `job-${i}`);
  });
  const pool = workerPool(
    background(), // the pool's lifetime is driven by shutdown below, not by the signal directly
    jobs,
    async (ctx, job) => {
      console.log(`Processing ${job}`);
      await sleep(ctx, 300); // real work would pass ctx on to its I/O
      console.log(`Finished ${job}`);
    },
    { workers: 3 },
  );
  console.log(`pid ${process.pid}: working; press Ctrl-C to drain, twice to exit at once`);
  await ctx.done().recv(background()); // wait for SIGINT/SIGTERM
  console.log(`\n${cause(ctx).message}: draining (grace 1000 ms)`);
  const report = await pool.shutdown(1000);
  await producer.then(undefined, () => {}); // stopped by the signal: its send was cancelled
  console.log(`All workers exited: ${report.completed} completed, ${report.failed.length} failed, ${report.aborted.length} aborted`);
} finally {
  stop();
}
