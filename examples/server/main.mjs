// `npm start`: the Generate Report dashboard on http://127.0.0.1:$PORT (default 3000), its report on the PostgreSQL
// at $DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test; without it the page says how to start it).
// With REDIS_URL set (e.g. redis://127.0.0.1:6379), reports run as jobs on two worker processes it spawns (jobs mode),
// on the queue $REPORT_QUEUE (default lifeline-reports).
// Ctrl-C (or SIGTERM) shuts it down gracefully: in-flight requests get 2 s to finish, then their contexts are
// cancelled; a second Ctrl-C exits at once.
import { background, cause } from "@lifeline/core";
import { notifyContext } from "@lifeline/node";
import { startApp } from "./app.mjs";

const GRACE_MS = 2_000;
const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number, got "${process.env.PORT}"`);
  process.exit(2);
}

const [ctx, stop] = notifyContext(background());
try {
  const debugTasks = !["", "0", "false"].includes(process.env.LIFELINE_DEBUG ?? "");
  // The database's set-up (and what is missing, if PostgreSQL is not there) goes to the console too.
  const onEvent = (text) => (text.startsWith("database:") || text.startsWith("jobs:")) && console.log(text);
  const jobs = process.env.REDIS_URL ? { redisUrl: process.env.REDIS_URL, queue: process.env.REPORT_QUEUE || undefined } : undefined; // jobs mode
  const app = await startApp({ port, debugTasks, databaseUrl: process.env.DATABASE_URL, onEvent, jobs });
  if (jobs) console.log(`jobs mode: reports run on ${app.stats().jobs.workers.map((w) => `${w.name} (pid ${w.pid})`).join(" and ")}, Redis at ${app.stats().jobs.redis}`);
  console.log(`lifeline dashboard: ${app.url}/  (Ctrl-C to stop)`);
  if (debugTasks) console.log(`task dump: ${app.url}/debug/lifeline/tasks  (?format=json for JSON)`);
  await ctx.done().recv(background()); // until SIGINT or SIGTERM
  console.log(`\n${cause(ctx).message}: shutting down (grace ${GRACE_MS} ms)`);
  const report = await app.close(GRACE_MS);
  if (report.graceful) console.log("shut down: every request finished");
  else console.log(`shut down: cancelled ${report.cancelled.map((r) => `${r.method} ${r.url} (${r.runningMs} ms)`).join(", ")}`);
} catch (error) {
  if (error.code === "REDIS_UNREACHABLE") console.error(error.message); // jobs mode: what is missing, and how to start it
  else console.error(error.code === "EADDRINUSE" ? `port ${port} is in use: try PORT=${port + 1} npm start` : error);
  process.exitCode = 1;
} finally {
  stop();
}
