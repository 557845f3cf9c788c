// `npm run demos`: the terminal demos of cancellation, one after the other. (`npm start` runs the
// Generate Report dashboard, examples/server/.)
import { spawnSync } from "node:child_process";

const demos = [
  ["worker.mjs", "seed 001: a worker that prints Working... until cancelled"],
  ["poller.mjs", "seed 003: a poller that stops cleanly and says so through a done channel"],
  ["jobs.mjs", "seed 003: a job worker that stops pulling on shutdown and finishes the job in hand"],
];
for (const [file, what] of demos) {
  console.log(`\n== examples/${file} — ${what}`);
  const r = spawnSync(process.execPath, [new URL(file, import.meta.url).pathname], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
