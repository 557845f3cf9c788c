// The core tests a runtime does not run, each with the reason: everything else in packages/core/dist-test runs on
// every runtime scripts/test-runtimes.mjs knows. An excluded test is printed as skipped with its reason, and an
// entry that matches no test fails the run (a renamed test must not leave a stale exclusion behind).
//
// { file: the compiled test file's name, test: its full name "suite > test" (a string, exact) or a RegExp over it,
//   reason: why this runtime cannot run it — a missing platform API, never "it fails here" }
//
// Deno and Bun run all of it, the child-process tests included (their children are Deno and Bun too); Deno 2.7
// lacks one Node API a test uses.

/** @type {Record<"deno" | "deno@2.7" | "bun" | "chromium", { file: string, test: string | RegExp, reason: string }[]>} */
export const exclusions = {
  deno: [],
  "deno@2.7": [
    {
      file: "pool.test.js",
      test: "WorkerPool.shutdown > leaves no grace timer behind when called after the pool has ended",
      reason: "counts pending timers with process.getActiveResourcesInfo(), which Deno 2.7's process lacks",
    },
    {
      file: "shared-timer.test.js",
      test: "timers on the platform clock share one platform timer > arm at most one platform timer for a thousand deadlines and a hundred sleeps",
      reason: "counts pending timers with process.getActiveResourcesInfo(), which Deno 2.7's process lacks",
    },
  ],
  bun: [],
  chromium: [
    // A page has no process to exit, no child processes, no sockets to listen on, no list of its timers.
    {
      file: "cancel.test.js",
      test: /^afterFunc > reports, never drops, an error when f /,
      reason: "runs a child process (node:child_process) and reads its stderr and exit status",
    },
    {
      file: "deadline.test.js",
      test: "deadline timers > never keep the process alive",
      reason: "checks that a child process exits (node:child_process); a page never exits",
    },
    {
      file: "errors.test.js",
      test: /^fetch with ctx\.signal against a server that never answers > /,
      reason: "starts an HTTP server that never answers (node:http); a page cannot listen on a port (fetch.browser-test.mjs checks the page's fetch against the harness's server instead)",
    },
    {
      file: "pool.test.js",
      test: "WorkerPool.shutdown > leaves no grace timer behind when called after the pool has ended",
      reason: "counts pending timers with process.getActiveResourcesInfo(); a page cannot list its timers",
    },
    {
      file: "select.test.js",
      test: /^select typing over an array built at run time > .*\(checked by running tsc on a snippet\)$/,
      reason: "a type test: runs tsc in a child process on a snippet written to a temporary folder (node:fs, node:os)",
    },
    {
      file: "task.test.js",
      test: "a failing task nobody awaits > is raised as an unhandled rejection naming the task when no handler is set",
      reason: "runs a child process (node:child_process) and reads its stderr and exit status",
    },
    {
      file: "time.test.js",
      test: /^timers that lost do not keep the process alive > /,
      reason: "checks that child processes exit promptly (node:child_process); a page never exits",
    },
    {
      file: "deadline.test.js",
      test: /^a wait keeps alive the deadline of every done channel it waits on, only while it waits \(issue 9\) > /,
      reason: "checks whether child processes exit (node:child_process); a page never exits",
    },
    {
      file: "select.test.js",
      test: /^select over Go's nil channel \(recv\(null\), send\(null, v\)\) > waits forever when every case is nil, keeping nothing alive/,
      reason: "checks that a child process exits (node:child_process); a page never exits",
    },
    {
      file: "task.test.js",
      test: "which failures are a task's own stop (issue 9) > is reported even when the tracker throws as the task ends",
      reason: "runs a child process (node:child_process) and reads its stderr",
    },
    {
      file: "shared-timer.test.js",
      test: "timers on the platform clock share one platform timer > arm at most one platform timer for a thousand deadlines and a hundred sleeps",
      reason: "counts pending timers with process.getActiveResourcesInfo(); a page cannot list its timers",
    },
    {
      file: "shared-timer.test.js",
      test: /^the shared timer keeps the process alive exactly while /,
      reason: "checks whether child processes exit (node:child_process); a page never exits",
    },
    {
      file: "shared-timer.test.js",
      test: "a timer whose fire throws > surfaces as an uncaught error of the platform's timer, and the others due with it still fire",
      reason: "runs a child process (node:child_process) and reads its output",
    },
    {
      file: "shared-timer.test.js",
      test: "cancelled deadlines > leave nothing behind: 200,000 withTimeout(5 s) + cancel under a live hour's deadline retain no memory",
      reason: "runs a child process (node:child_process) to force a garbage collection and read its heap size",
    },
    {
      file: "task.test.js",
      test: /^a task's time stamps .* > stamps changes on the sampler's tick, /,
      reason: "runs a child process (node:child_process), where no sampler is armed yet, and reads its stdout",
    },
    {
      file: "task.test.js",
      test: /^a task's waits, by identity \(issue 9\) > attributes a select /,
      reason: "a select without the task's ctx is attributed through @lifeline/testing's AsyncLocalStorage; browsers have no async context (the stand-in holds only synchronously)",
    },
  ],
};

/** exclusionsFor returns the entries of `runtime` for one test file. */
export function exclusionsFor(runtime, file) {
  const list = exclusions[runtime];
  if (list === undefined) throw new TypeError(`exclusionsFor: unknown runtime ${JSON.stringify(runtime)}`);
  return list.filter((e) => e.file === file);
}
