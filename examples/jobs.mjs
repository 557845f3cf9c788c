// Seed 003, "Realistic worker pattern": processJobs pulls jobs from a channel until the context is cancelled.
// It checks ctx.done() in the same select as the job channel, so on shutdown it stops pulling new jobs, but
// it finishes the job it is processing.
import { background, Channel, go, recv, select, sleep, withCancel, withoutCancel } from "@lifeline/core";

// processJobs pulls jobs from a channel until the context is cancelled.
async function processJobs(ctx, jobs) {
  for (;;) {
    // select picks at random among ready cases (as Go's does): when shutdown and a queued job are both ready,
    // it could start the job. Checking ctx first makes "never start new work after shutdown" a guarantee.
    const r = ctx.err() ? { index: 0 } : await select([recv(ctx.done()), recv(jobs)]);
    if (r.index === 0) {
      console.log("Worker shutting down"); // stop accepting new work when cancelled
      return;
    }
    if (!r.ok) {
      console.log("Job channel closed"); // no more jobs will arrive
      return;
    }
    console.log("Processing:", r.value);
    // The job itself. It always finishes, even after shutdown began: it runs under withoutCancel(ctx), which keeps
    // ctx's values but never ends (Go's context.WithoutCancel), so cancelling ctx stops the pulling, not the job.
    await sleep(withoutCancel(ctx), 200);
    console.log("Finished:", r.value);
  }
}

const [ctx, cancel] = withCancel(background());
const jobs = new Channel(10);
const worker = go(ctx, (ctx) => processJobs(ctx, jobs));
for (let i = 0; i < 5; i++) await jobs.send(ctx, `job-${i}`);
await new Promise((resolve) => setTimeout(resolve, 700)); // simulate server shutdown mid-job
cancel();
jobs.close(); // unblock the worker if it is waiting
await worker; // wait for the worker to finish its current job and exit
console.log(`Jobs left unprocessed: ${jobs.length}`);
