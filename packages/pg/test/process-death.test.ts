import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { assertNoLeaks } from "@lifeline/testing";
import { activePid, admin, appName, backend, DB, waitFor } from "./support.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));

// The child borrows a connection and runs pg_sleep(30) under a deadline, then is SIGKILLed: nothing of
// lifeline's runs any more, only what reached the server can stop the query.
const child = `
import pg from "pg";
import { background, withTimeout } from "@lifeline/core";
import { query } from "@lifeline/pg";
const [name, budget, serverTimeout] = process.argv.slice(1);
const pool = new pg.Pool({ ...${JSON.stringify(DB)}, application_name: name, max: 1 });
const [ctx] = withTimeout(background(), Number(budget));
await query(ctx, pool, "select pg_sleep(30)", [], { serverTimeout: serverTimeout === "on" });
`;

async function killedMidQuery(budgetMs: number, serverTimeout: "on" | "off"): Promise<{ pid: number; startedAt: number }> {
  const name = appName(`death-${serverTimeout}`);
  const proc = spawn(process.execPath, ["--input-type=module", "-e", child, name, String(budgetMs), serverTimeout], {
    cwd: root,
    stdio: "ignore",
  });
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  try {
    const pid = await activePid(name, "pg_sleep(30)");
    const { rows } = await admin.query<{ ms: number }>(
      "select (extract(epoch from query_start) * 1000)::float8 as ms from pg_stat_activity where pid = $1",
      [pid],
    );
    return { pid, startedAt: rows[0]!.ms };
  } finally {
    proc.kill("SIGKILL");
    await exited;
  }
}

describe("a Node process killed mid-query", () => {
  it("leaves a query that the server stops near the ctx's deadline (statement_timeout sent with it)", async () => {
    const { pid, startedAt } = await killedMidQuery(1500, "on");
    const state = await waitFor(
      `backend ${pid} to stop`,
      async () => {
        const b = await backend(pid);
        return b === undefined || b.state !== "active" ? (b?.state ?? "gone") : undefined;
      },
      15_000,
    );
    const { rows } = await admin.query<{ now: number }>("select (extract(epoch from clock_timestamp()) * 1000)::float8 as now");
    const ranMs = rows[0]!.now - startedAt;
    assert.ok(ranMs >= 300 && ranMs < 15_000, `the server stopped it after ${Math.round(ranMs)} ms, not the 30 s it asked for (state ${state})`);
  });

  it("without the server-side limit, the orphaned query keeps running on the server (the control)", async () => {
    const { pid } = await killedMidQuery(300, "off");
    try {
      // A short real delay to assert "not yet": well past the 300 ms budget, the backend still sleeps.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((await backend(pid))?.state, "active");
    } finally {
      await admin.query("select pg_terminate_backend($1)", [pid]);
    }
  });
});

after(async () => {
  await admin.end();
  assertNoLeaks();
});
