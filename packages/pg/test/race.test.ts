import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { assertNoLeaks } from "@lifeline/testing";
import { background, isCanceled, withCancel } from "@lifeline/core";
import { connect, query, type StopRung } from "@lifeline/pg";
import type pg from "pg";
import { admin, appBackends, newPool } from "./support.js";

// LIFELINE_PG_RACE sets how many cancelled queries run. The issue asks for 10,000: that passes here in 15–27 s
// depending on the machine's load, so the suite's default is 5,000 to stay well under 30 s in CI, which runs it
// on four Node majors. Each one is cancelled at a random moment and followed, on the same
// client, by a plain query that must never see a stray 57014.
const TOTAL = Math.max(1, Math.min(1_000_000, Number(process.env.LIFELINE_PG_RACE ?? 5_000) || 5_000));
const POOL = 4;
const WORKERS = 6; // more workers than connections: connect() waits are part of the race

const moments = ["before", "sync", "timer", "immediate", "microtask"] as const;

describe("race: many queries, each cancelled at a random moment", () => {
  it(`${TOTAL} cancels: no 57014 on the next query, the pool never drifts, nothing leaks`, async () => {
    const { pool, name, errors } = newPool("race", { max: POOL });
    const rungs = new Map<StopRung, number>();
    const outcomes = { canceled: 0, finished: 0 };
    let stray57014 = 0;
    const otherFailures: unknown[] = [];
    let maxTotal = 0;
    let next = 0;
    const onStop = ({ stoppedBy }: { stoppedBy: StopRung }): void => void rungs.set(stoppedBy, (rungs.get(stoppedBy) ?? 0) + 1);

    async function once(client: pg.PoolClient): Promise<void> {
      const [ctx, cancel] = withCancel(background());
      const moment = moments[Math.floor(Math.random() * moments.length)]!;
      const sql = Math.random() < 0.5 ? "select pg_sleep($1::float8)" : "select $1::float8 as x";
      if (moment === "before") cancel();
      const running = query(ctx, client, sql, [Math.random() * 0.003], { graceMs: 10_000, onStop });
      if (moment === "sync") cancel();
      else if (moment === "timer") setTimeout(cancel, Math.random() * 4);
      else if (moment === "immediate") setImmediate(cancel);
      else if (moment === "microtask") void Promise.resolve().then(cancel);
      try {
        await running;
        outcomes.finished++;
      } catch (error) {
        if (isCanceled(error)) outcomes.canceled++;
        else otherFailures.push(error);
      }
      cancel();
      try {
        await client.query("select 1");
      } catch (error) {
        if ((error as { code?: string }).code === "57014") stray57014++;
        else otherFailures.push(error);
      }
      maxTotal = Math.max(maxTotal, pool.totalCount);
    }

    async function worker(): Promise<void> {
      while (next < TOTAL) {
        next++;
        const client = await connect(background(), pool);
        try {
          await once(client);
        } finally {
          client.release();
        }
      }
    }

    try {
      await Promise.all(Array.from({ length: WORKERS }, worker));
      assert.equal(stray57014, 0, "a cancel hit the next query");
      assert.deepEqual(otherFailures, []);
      assert.equal(outcomes.canceled + outcomes.finished, TOTAL);
      assert.ok(outcomes.canceled > 0 && (rungs.get("cancel") ?? 0) > 0, `cancels exercised: ${JSON.stringify([...rungs])}`);
      assert.equal(rungs.get("destroy") ?? 0, 0, "every cancelled connection came back (graceMs 10 s)");
      assert.ok(maxTotal <= POOL);
      assert.equal(pool.totalCount, POOL);
      assert.equal(pool.idleCount, POOL);
      assert.equal(pool.waitingCount, 0);
      assert.equal(await appBackends(name), POOL, "no backend left behind");
      assert.deepEqual(errors, []);
      console.log(`race: ${TOTAL} queries, ${outcomes.canceled} cancelled, ${outcomes.finished} finished first; rungs ${JSON.stringify(Object.fromEntries(rungs))}`);
    } finally {
      await pool.end();
    }
  });
});

after(async () => {
  await admin.end();
  assertNoLeaks();
});
