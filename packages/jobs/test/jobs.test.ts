// @lifeline/jobs against real Redis and real worker processes (fixtures/worker.ts, forked).
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { assertNoLeaks } from "@lifeline/testing";
import { background, Canceled, cause, DeadlineExceeded, go, recv, select, sleep, tasks, withCancelCause, type Context, withTimeout, withValue } from "@lifeline/core";
import { addJob, cancelJob, work, JobCanceledError, JobFailedError, JobNotFoundError, jobResult, DEADLINE_MARGIN_MS } from "@lifeline/jobs";
import { Queue } from "bullmq";
import { createConnection, createServer, type AddressInfo } from "node:net";
import { trace, traceKey } from "./fixtures/values.js";
import { connection, drop, jobState, Proxy, uniqueQueue, until, WorkerProcess, type Message } from "./support.js";

const BOUND = { timeout: 30_000 };
// Short locks keep the lock tests quick; 2 s leaves a renewal (every ~1 s) a second of slack on a loaded machine.
const FAST = { lockDuration: 2000, stalledInterval: 1000 };

function stopOf(id: string) {
  return (m: Message) => m.t === "stop" && m.id === id;
}
function endOf(id: string) {
  return (m: Message) => m.t === "ctx-ended" && m.id === id;
}
function startOf(id: string) {
  return (m: Message) => m.t === "started" && m.id === id;
}

async function failedReason(queue: Queue, id: string): Promise<string | undefined> {
  const job = await queue.getJob(id);
  return job?.failedReason;
}

describe("cancel from another process", () => {
  it("stops a running job: the handler's cause(ctx) is the reason as sent, and the job fails without retries", BOUND, async () => {
    const queue = uniqueQueue("cancel");
    const w = new WorkerProcess({ queue: queue.name });
    try {
      await w.ready();
      const job = await addJob(background(), queue, "report", { mode: "wait" }, { attempts: 3 });
      await w.next(startOf(job.id!));
      assert.equal(await cancelJob(background(), queue, job.id!, "user clicked cancel"), true);
      const ended = await w.next(endOf(job.id!));
      assert.equal(ended.err, "AbortError");
      assert.equal(ended.cause, "user clicked cancel");
      const stop = await w.next(stopOf(job.id!));
      assert.equal(stop.by, "cancel");
      assert.equal(stop.via, "push");
      await assert.rejects(jobResult(background(), queue, job.id!), (e: unknown) => {
        assert.ok(e instanceof JobCanceledError);
        assert.equal(e.reason, "user clicked cancel");
        assert.equal(e.jobId, job.id);
        return true;
      });
      assert.equal(await jobState(queue, job.id!), "failed");
      const stored = await queue.getJob(job.id!);
      assert.equal(stored?.attemptsMade, 1, "a cancel is not retried");
    } finally {
      await w.stop();
      await drop(queue);
    }
  });

  it("rebuilds an Error reason with its name and message in the running handler's cause(ctx)", BOUND, async () => {
    const queue = uniqueQueue("error-reason");
    const w = new WorkerProcess({ queue: queue.name });
    try {
      await w.ready();
      const job = await addJob(background(), queue, "report", { mode: "wait" });
      await w.next(startOf(job.id!));
      class TabClosed extends Error {
        override name = "TabClosed";
      }
      await cancelJob(background(), queue, job.id!, new TabClosed("the tab was closed"));
      const ended = await w.next(endOf(job.id!));
      assert.deepEqual(ended.cause, { name: "TabClosed", message: "the tab was closed" });
      const e = await jobResult(background(), queue, job.id!).catch((x: unknown) => x);
      assert.ok(e instanceof JobCanceledError);
      assert.ok(e.reason instanceof Error);
      assert.equal(e.reason.name, "TabClosed");
      assert.equal(e.reason.message, "the tab was closed");
    } finally {
      await w.stop();
      await drop(queue);
    }
  });

  it("a second cancel is recorded as a no-op: the first reason stays", BOUND, async () => {
    const queue = uniqueQueue("first-reason");
    const job = await addJob(background(), queue, "report", { mode: "quick" }); // no worker yet: it waits
    assert.equal(await cancelJob(background(), queue, job.id!, "first"), true);
    assert.equal(await cancelJob(background(), queue, job.id!, "second"), true);
    const w = new WorkerProcess({ queue: queue.name });
    try {
      await w.ready();
      const stop = await w.next(stopOf(job.id!));
      assert.equal(stop.cause, "first");
      const e = await jobResult(background(), queue, job.id!).catch((x: unknown) => x);
      assert.ok(e instanceof JobCanceledError);
      assert.equal(e.reason, "first");
    } finally {
      await w.stop();
      await drop(queue);
    }
  });

  it("a job whose ctx ended never completes with what the handler returns late", BOUND, async () => {
    const queue = uniqueQueue("late");
    const w = new WorkerProcess({ queue: queue.name });
    try {
      await w.ready();
      const job = await addJob(background(), queue, "report", { mode: "late" });
      await w.next(startOf(job.id!));
      await cancelJob(background(), queue, job.id!, "stop");
      await assert.rejects(jobResult(background(), queue, job.id!), JobCanceledError);
      const stored = await queue.getJob(job.id!);
      assert.equal(stored?.returnvalue, null);
      assert.match(stored?.failedReason ?? "", /canceled: stop/);
    } finally {
      await w.stop();
      await drop(queue);
    }
  });

  it("a job cancelled before it starts never runs its handler and ends failed with the reason", BOUND, async () => {
    const queue = uniqueQueue("before");
    const job = await addJob(background(), queue, "report", { mode: "quick" });
    assert.equal(await cancelJob(background(), queue, job.id!, "changed my mind"), true);
    const w = new WorkerProcess({ queue: queue.name });
    try {
      await w.ready();
      const stop = await w.next(stopOf(job.id!));
      assert.equal(stop.via, "pickup");
      assert.equal(stop.started, false);
      const e = await jobResult(background(), queue, job.id!).catch((x: unknown) => x);
      assert.ok(e instanceof JobCanceledError);
      assert.equal(e.reason, "changed my mind");
      assert.equal(w.messages.filter(startOf(job.id!)).length, 0, "the handler never ran");
    } finally {
      await w.stop();
      await drop(queue);
    }
  });

  it("a cancel after the job finished changes nothing and resolves false", BOUND, async () => {
    const queue = uniqueQueue("after");
    const w = new WorkerProcess({ queue: queue.name });
    try {
      await w.ready();
      const job = await addJob(background(), queue, "report", { mode: "quick" });
      assert.equal(await jobResult(background(), queue, job.id!), String(w.pid));
      assert.equal(await cancelJob(background(), queue, job.id!, "too late"), false);
      assert.equal(await jobState(queue, job.id!), "completed");
    } finally {
      await w.stop();
      await drop(queue);
    }
  });

  it("tie: ending the producer's ctx cancels the job wherever it runs, with the ctx's cause", BOUND, async () => {
    const queue = uniqueQueue("tie");
    const w = new WorkerProcess({ queue: queue.name });
    try {
      await w.ready();
      const [request, closeTab] = withCancelCause(background());
      const job = await addJob(request, queue, "report", { mode: "wait" }, { tie: true });
      await w.next(startOf(job.id!));
      closeTab("tab closed");
      const ended = await w.next(endOf(job.id!));
      assert.equal(ended.cause, "tab closed");
      await assert.rejects(jobResult(background(), queue, job.id!), JobCanceledError);
    } finally {
      await w.stop();
      await drop(queue);
    }
  });

  it("without tie, the job outlives the producer's ctx", BOUND, async () => {
    const queue = uniqueQueue("untied");
    const w = new WorkerProcess({ queue: queue.name });
    try {
      const [request, done] = withCancelCause(background());
      const job = await addJob(request, queue, "report", { mode: "sleep", ms: 50 });
      done("response sent");
      await w.ready();
      assert.equal(await jobResult(background(), queue, job.id!), String(w.pid));
    } finally {
      await w.stop();
      await drop(queue);
    }
  });
});

describe("missed push", () => {
  it("a worker whose pub/sub link is silenced still stops the job, at its next lock renewal", BOUND, async () => {
    const queue = uniqueQueue("silenced");
    const proxy = new Proxy();
    const port = await proxy.listen();
    const w = new WorkerProcess({ queue: queue.name, port, ...FAST });
    try {
      await w.ready();
      const job = await addJob(background(), queue, "report", { mode: "wait" });
      await w.next(startOf(job.id!));
      // The worker's subscriber is the one pub/sub client of this proxy: silence what Redis sends it.
      const client = await queue.client;
      const list = await client.clientList();
      const ports = [...list.matchAll(/addr=127\.0\.0\.1:(\d+) .*cmd=(?:subscribe|ssubscribe|psubscribe)|addr=127\.0\.0\.1:(\d+) [^\n]*sub=1 /g)].map((m) => Number(m[1] ?? m[2]));
      assert.ok(ports.some((p) => proxy.silence(p)), `found the worker's subscriber among ${JSON.stringify(ports)}`);
      await cancelJob(background(), queue, job.id!, "cancel while partitioned");
      const stop = await w.next(stopOf(job.id!));
      assert.equal(stop.via, "renewal", "the push was lost: the renewal check found the record");
      const ended = await w.next(endOf(job.id!));
      assert.equal(ended.cause, "cancel while partitioned");
      await assert.rejects(jobResult(background(), queue, job.id!), JobCanceledError);
    } finally {
      await w.stop();
      await proxy.close();
      await drop(queue);
    }
  });
});

describe("locks", () => {
  it("a worker killed mid-job: another worker takes the job over, once", BOUND, async () => {
    const queue = uniqueQueue("sigkill");
    const a = new WorkerProcess({ queue: queue.name, ...FAST });
    await a.ready();
    const job = await addJob(background(), queue, "report", { mode: "sleep", ms: 200 });
    await a.next(startOf(job.id!));
    a.kill("SIGKILL");
    await a.exited;
    const b = new WorkerProcess({ queue: queue.name, ...FAST });
    try {
      await b.ready();
      assert.equal(await jobResult(background(), queue, job.id!), String(b.pid));
      assert.equal(b.messages.filter(startOf(job.id!)).length, 1, "B ran it once");
      const stored = await queue.getJob(job.id!);
      assert.equal(stored?.stalledCounter, 1);
    } finally {
      await b.stop();
      await drop(queue);
    }
  });

  it("a paused owner resumed after its lock was taken: its ctx ends with LockLostError and its late result is not written", BOUND, async () => {
    const queue = uniqueQueue("sigstop");
    const a = new WorkerProcess({ queue: queue.name, ...FAST });
    let b: WorkerProcess | undefined;
    try {
      await a.ready();
      const job = await addJob(background(), queue, "report", { mode: "ignore", ms: 300 });
      await a.next(startOf(job.id!));
      a.kill("SIGSTOP");
      b = new WorkerProcess({ queue: queue.name, ...FAST });
      await b.ready();
      // B takes the job over once A's lock expired and the stalled check moved it back to waiting.
      assert.equal(await jobResult(background(), queue, job.id!), String(b.pid));
      const finishedOn = (await queue.getJob(job.id!))?.finishedOn;
      a.kill("SIGCONT");
      const stop = await a.next(stopOf(job.id!));
      assert.equal(stop.by, "lock");
      assert.deepEqual((stop.cause as { name: string }).name, "LockLostError");
      // A's handler settles (its timer was due while A was stopped); then A's job task leaves A's task dump.
      await until(
        async () => {
          const asked = a.messages.length;
          a.child.send({ cmd: "tasks" });
          const dump = await a.next((m) => m.t === "tasks" && a.messages.indexOf(m) >= asked, 10_000, "A's task dump");
          return (dump.names as string[]).length === 0 ? true : undefined;
        },
        10_000,
        "A's job task gone",
      );
      const stored = await queue.getJob(job.id!);
      assert.equal(stored?.returnvalue, String(b.pid));
      assert.equal(stored?.finishedOn, finishedOn);
      assert.equal(await jobState(queue, job.id!), "completed");
      assert.equal(a.messages.filter((m) => m.t === "completed" && m.id === job.id).length, 0, "A wrote nothing");
    } finally {
      a.kill("SIGCONT");
      await Promise.all([a.stop(), b?.stop()]);
      await drop(queue);
    }
  });

  it("a worker that hears nothing from Redis ends the job's ctx itself when its lease runs out, and hands the job back", BOUND, async () => {
    const queue = uniqueQueue("partition");
    const proxy = new Proxy();
    const port = await proxy.listen();
    const w = new WorkerProcess({ queue: queue.name, port, ...FAST });
    try {
      await w.ready();
      const job = await addJob(background(), queue, "report", { mode: "wait" });
      await w.next(startOf(job.id!));
      // Redis still gets the worker's commands (its renewals keep the lock) but the replies never arrive.
      assert.ok(proxy.silenceAll() >= 2);
      const stop = await w.next(stopOf(job.id!));
      assert.equal(stop.by, "lock");
      assert.equal(stop.via, "timer");
      assert.match((stop.cause as { message: string }).message, /lease ran out/);
      // The job was still this worker's in Redis: it went back to waiting, not failed.
      await until(async () => ((await jobState(queue, job.id!)) === "waiting" ? true : undefined), 10_000, "the job back in waiting");
    } finally {
      w.kill(); // its pending commands will never be answered: close() would wait for them
      await w.exited;
      await proxy.close();
      await drop(queue);
    }
  });

  it("cut off from Redis, a worker ends the job's ctx no later than its lock expires in Redis (before a takeover)", BOUND, async () => {
    const queue = uniqueQueue("lease-vs-lock");
    const proxy = new Proxy();
    const port = await proxy.listen();
    const started = new Map<string, Context>();
    const worker = work(background(), queue.name, async (ctx, job) => {
      started.set(job.id!, ctx);
      await sleep(ctx, Infinity);
    }, { connection: { host: "127.0.0.1", port, maxRetriesPerRequest: null }, ...FAST });
    worker.on("error", () => {});
    try {
      await worker.waitUntilReady();
      const job = await addJob(background(), queue, "report", {});
      const ctx = await until(async () => started.get(job.id!), 10_000, "the handler");
      proxy.cutAll(); // no renewal reaches Redis from now on: the lock there runs out
      const lockKey = `${queue.toKey(job.id!)}:lock`;
      const client = await queue.client; // direct, not through the proxy
      // Poll the lock itself (external state) until Redis dropped it; another worker could take the job from then on.
      for (let i = 0; (await client.get(lockKey)) !== null; i++) {
        assert.ok(i < 5_000, "the lock in Redis never expired");
        await new Promise((r) => setTimeout(r, 1));
      }
      // Let any timer that was due by now run (timers run in the order they are due).
      await new Promise((r) => setTimeout(r, 1));
      assert.equal((cause(ctx) as { name?: string } | undefined)?.name, "LockLostError", "the old copy still ran after its lock expired");
    } finally {
      await worker.close(true).catch(() => {});
      await proxy.close();
      await drop(queue);
    }
  });

  it("cut off from Redis, each running job's ctx ends no later than its own lock expires (after others finished, and after renewals)", BOUND, async () => {
    // The worker keeps one lease timer for all its jobs, due at the earliest lease: here it is first due for a
    // job that then finishes, and the lease of the job left is extended by renewals before the cut.
    const queue = uniqueQueue("leases");
    const proxy = new Proxy();
    const port = await proxy.listen();
    const started = new Map<string, Context>();
    let releaseFirst!: () => void;
    const firstReleased = new Promise<void>((resolve) => (releaseFirst = resolve));
    const worker = work(background(), queue.name, async (ctx, job) => {
      started.set(job.id!, ctx);
      if ((job.data as { first?: boolean }).first) await firstReleased;
      else await sleep(ctx, Infinity);
    }, { connection: { host: "127.0.0.1", port, maxRetriesPerRequest: null }, concurrency: 2, ...FAST });
    worker.on("error", () => {});
    try {
      await worker.waitUntilReady();
      const client = await queue.client; // direct, not through the proxy
      const first = await addJob(background(), queue, "first", { first: true });
      await until(async () => started.get(first.id!), 10_000, "the first handler");
      const second = await addJob(background(), queue, "second", {});
      const ctx = await until(async () => started.get(second.id!), 10_000, "the second handler");
      releaseFirst();
      await until(async () => ((await jobState(queue, first.id!)) === "completed" ? true : undefined), 10_000, "the first job completed");
      // Wait (on Redis) until the second job's lock has been renewed: its remaining time goes up.
      const lockKey = `${queue.toKey(second.id!)}:lock`;
      const pttl = (key: string): Promise<number> => (client as unknown as { pttl(k: string): Promise<number> }).pttl(key); // ioredis
      let low = await pttl(lockKey);
      await until(async () => {
        const left = await pttl(lockKey);
        if (left > low) return true;
        low = left;
        return undefined;
      }, 10_000, "a renewal of the second job's lock");
      proxy.cutAll();
      for (let i = 0; (await client.get(lockKey)) !== null; i++) {
        assert.ok(i < 5_000, "the lock in Redis never expired");
        await new Promise((r) => setTimeout(r, 1));
      }
      await new Promise((r) => setTimeout(r, 1)); // let any timer that was due by now run
      assert.equal((cause(ctx) as { name?: string } | undefined)?.name, "LockLostError", "the job still ran after its lock expired");
    } finally {
      await worker.close(true).catch(() => {});
      await proxy.close();
      await drop(queue);
    }
  });

  it("a job taken again by the same worker while its old copy still runs stays reachable: the old copy's end does not hide it from a cancel", BOUND, async () => {
    const queue = uniqueQueue("retaken");
    const copies: Context[] = [];
    let releaseOld!: () => void;
    const oldReleased = new Promise<void>((resolve) => (releaseOld = resolve));
    const worker = work(background(), queue.name, async (ctx) => {
      copies.push(ctx);
      if (copies.length === 1) {
        await oldReleased; // the old copy ignores its ctx: it runs on after its lock is lost
        return "late";
      }
      await sleep(ctx, Infinity);
      return "unreachable";
    }, { connection, concurrency: 2, ...FAST });
    worker.on("error", () => {});
    try {
      await worker.waitUntilReady();
      const job = await addJob(background(), queue, "report", {});
      await until(async () => copies[0], 10_000, "the first copy");
      // The lock is gone: the next renewal is refused (the old copy's ctx ends) and the stalled check hands the job
      // back to waiting, from where this worker (a slot free) takes it again.
      await (await queue.client).del(`${queue.toKey(job.id!)}:lock`);
      const second = await until(async () => copies[1], 20_000, "the job taken again");
      assert.equal((cause(copies[0]!) as { name?: string } | undefined)?.name, "LockLostError");
      releaseOld();
      const name = `job report#${job.id}`;
      await until(async () => (tasks().filter((t) => t.name === name).length === 1 ? true : undefined), 10_000, "the old copy settled");
      await cancelJob(background(), queue, job.id!, "stop the new copy");
      await until(async () => (second.err() !== undefined ? true : undefined), 10_000, "the new copy's ctx ended");
      assert.equal(cause(second), "stop the new copy");
    } finally {
      releaseOld();
      await worker.close(true).catch(() => {});
      await drop(queue);
    }
  });

  it("lock loss ends the job's ctx with LockLostError at the next renewal", BOUND, async () => {
    const queue = uniqueQueue("lock");
    const w = new WorkerProcess({ queue: queue.name, ...FAST });
    try {
      await w.ready();
      const job = await addJob(background(), queue, "report", { mode: "wait" });
      await w.next(startOf(job.id!));
      const client = await queue.client;
      await client.set(`${queue.toKey(job.id!)}:lock`, "someone-else");
      const ended = await w.next(endOf(job.id!));
      assert.equal((ended.cause as { name: string }).name, "LockLostError");
      const stop = await w.next(stopOf(job.id!));
      assert.equal(stop.via, "renewal");
      await client.del(`${queue.toKey(job.id!)}:lock`);
    } finally {
      await w.stop();
      await drop(queue);
    }
  });
});

describe("deadlines and values", () => {
  it("the producer's deadline (minus the margin) and carried values reach the job's ctx", BOUND, async () => {
    const queue = uniqueQueue("deadline");
    const w = new WorkerProcess({ queue: queue.name });
    const [ctx, cancel] = withTimeout(withValue(background(), traceKey, "trace-42"), 20_000);
    try {
      await w.ready();
      const job = await addJob(ctx, queue, "report", { mode: "report" }, { values: [trace] });
      const r = (await jobResult(ctx, queue, job.id!)) as { deadline: number; trace: string };
      assert.equal(r.trace, "trace-42");
      const expected = ctx.deadline()! - DEADLINE_MARGIN_MS;
      // Converted through Redis's clock on both sides: equal up to the two offset measurements (each within half a
      // TIME round trip, which a loaded machine can stretch); the bound only rules out a lost or unconverted deadline.
      assert.ok(Math.abs(r.deadline - expected) < 250, `deadline ${r.deadline} vs ${expected}`);
    } finally {
      cancel();
      await w.stop();
      await drop(queue);
    }
  });

  it("the recorded deadline is the producer's own less the margin, however long addJob waited for Redis", BOUND, async () => {
    // A relay that takes 400 ms to open each connection: the queue's first command waits that long.
    const sockets = new Set<import("node:net").Socket>();
    const slow = createServer((down) => {
      sockets.add(down);
      down.pause();
      const timer = setTimeout(() => {
        const up = createConnection(connection.port, connection.host);
        sockets.add(up);
        down.pipe(up).pipe(down);
        down.resume();
        up.on("error", () => down.destroy()).on("close", () => down.destroy());
      }, 400);
      down.on("error", () => {}).on("close", () => clearTimeout(timer));
    });
    await new Promise<void>((resolve) => slow.listen(0, "127.0.0.1", resolve));
    const queue = new Queue(`lifeline-test-deadline-slow-${process.pid}-${Date.now().toString(36)}`, { connection: { ...connection, port: (slow.address() as AddressInfo).port } });
    const [ctx, cancel] = withTimeout(background(), 20_000);
    try {
      const job = await addJob(ctx, queue, "report", {});
      const d = (job.opts as Record<string, { d?: number }>)["lifeline"]!.d!;
      // Redis runs on this machine: its clock is ours, so the offset is ~0 and d is in our clock.
      const expected = ctx.deadline()! - DEADLINE_MARGIN_MS;
      assert.ok(d <= expected + 50, `deadline recorded ${d - expected} ms after the producer's less the margin`);
    } finally {
      cancel();
      await drop(queue);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => slow.close(() => resolve()));
    }
  });

  it("a running job's deadline ends its ctx with DeadlineExceeded; the job fails without retries", BOUND, async () => {
    const queue = uniqueQueue("deadline-run");
    const w = new WorkerProcess({ queue: queue.name });
    const [ctx, cancel] = withTimeout(background(), 3000); // room for the worker to pick the job up on a loaded machine
    try {
      await w.ready();
      const job = await addJob(ctx, queue, "report", { mode: "wait" }, { attempts: 3 });
      cancel(); // the producer leaves; the job keeps its deadline
      const ended = await w.next(endOf(job.id!));
      assert.equal(ended.err, "TimeoutError");
      const e = await jobResult(background(), queue, job.id!).catch((x: unknown) => x);
      assert.ok(e instanceof JobFailedError);
      assert.match(e.failedReason, /deadline/);
      assert.equal(e.attemptsMade, 1);
    } finally {
      cancel();
      await w.stop();
      await drop(queue);
    }
  });

  it("a job whose deadline passed before pick-up does not start", BOUND, async () => {
    const queue = uniqueQueue("deadline-pickup");
    const [ctx, cancel] = withTimeout(background(), 200);
    const job = await addJob(ctx, queue, "report", { mode: "quick" });
    await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
    cancel();
    const w = new WorkerProcess({ queue: queue.name });
    try {
      await w.ready();
      const stop = await w.next(stopOf(job.id!));
      assert.equal(stop.by, "deadline");
      assert.equal(stop.started, false);
      await assert.rejects(jobResult(background(), queue, job.id!), JobFailedError);
      assert.equal(w.messages.filter(startOf(job.id!)).length, 0);
      assert.match((await failedReason(queue, job.id!)) ?? "", /deadline had passed/);
    } finally {
      await w.stop();
      await drop(queue);
    }
  });
});

describe("shutdown and the task dump", () => {
  it("each job is a task named after it; past the grace its ctx ends with WorkerShutdownError and it goes back to waiting", BOUND, async () => {
    const queue = uniqueQueue("shutdown");
    const w = new WorkerProcess({ queue: queue.name, graceMs: 100 });
    try {
      await w.ready();
      const job = await addJob(background(), queue, "report", { mode: "wait" });
      const started = await w.next(startOf(job.id!));
      assert.ok((started.tasks as string[]).includes(`job report#${job.id}`), JSON.stringify(started.tasks));
      await w.stop();
      const ended = w.messages.find(endOf(job.id!));
      assert.equal((ended?.cause as { name: string } | undefined)?.name, "WorkerShutdownError");
      const closed = w.messages.find((m) => m.t === "closed");
      assert.deepEqual(closed?.tasks, [], "no task left on the worker");
      assert.equal(await jobState(queue, job.id!), "waiting");
    } finally {
      await w.stop();
      await drop(queue);
    }
  });
});

describe("in this process", () => {
  it("a worker whose root ctx ends before it has connected closes, and leaves no connection open", BOUND, async () => {
    const queue = uniqueQueue("early-close");
    try {
      const [root, stop] = withCancelCause(background());
      const worker = work(root, queue.name, async () => "never", { connection });
      const closed = new Promise<void>((resolve) => worker.on("closed", () => resolve()));
      stop("bye");
      await closed;
      // Nothing is left open: the subscriber made after close() began is disconnected too (this file's process
      // would not exit otherwise), and a connection closed under a pending command is not reported as a failure.
    } finally {
      await drop(queue);
    }
  });
});

describe("without pushes", () => {
  it("a worker that may not subscribe still completes jobs, reports why, and gets cancels at its lock renewals", BOUND, async () => {
    const queue = uniqueQueue("no-subscribe");
    const admin = (await queue.client) as unknown as { call(...args: string[]): Promise<unknown> };
    const user = `lifeline-nosub-${process.pid}`;
    // A Redis user that may do everything BullMQ needs, but not SUBSCRIBE: the worker's cancel channel fails.
    await admin.call("ACL", "SETUSER", user, "reset", "on", "nopass", "~*", "&*", "+@all", "-subscribe", "-psubscribe", "-ssubscribe");
    const errors: Error[] = [];
    const started = new Map<string, Context>();
    const worker = work(background(), queue.name, async (ctx, job) => {
      started.set(job.id!, ctx);
      if (job.name === "wait") await sleep(ctx, Infinity);
      return "done";
    }, { connection: { ...connection, username: user }, ...FAST });
    worker.on("error", (e) => errors.push(e));
    try {
      await worker.waitUntilReady(); // resolves: the worker works without pushes
      const [ctx, cancel] = withTimeout(background(), 20_000);
      try {
        const quick = await addJob(background(), queue, "quick", {});
        assert.equal(await jobResult(ctx, queue, quick.id!), "done");
        assert.ok(errors.some((e) => /NOPERM/i.test(e.message)), `the failed subscription is reported: ${errors.map((e) => e.message).join("; ")}`);
        const waiting = await addJob(background(), queue, "wait", {});
        const jobCtx = await until(async () => started.get(waiting.id!), 10_000, "the handler");
        await cancelJob(background(), queue, waiting.id!, "by renewal");
        await select([recv(jobCtx.done()), recv(ctx.done())]);
        assert.equal(cause(jobCtx), "by renewal", "the record is read at the next lock renewal");
      } finally {
        cancel();
      }
    } finally {
      await worker.close(true);
      await admin.call("ACL", "DELUSER", user);
      await drop(queue);
    }
  });
});

describe("BullMQ's own API", () => {
  it("close(true) after a graceful close() ends the running jobs' ctx at once, without waiting out the grace", BOUND, async () => {
    const queue = uniqueQueue("force-after-close");
    const started = new Map<string, Context>();
    const worker = work(background(), queue.name, async (ctx, job) => {
      started.set(job.id!, ctx);
      await sleep(ctx, Infinity);
    }, { connection, graceMs: 60_000 });
    worker.on("error", () => {});
    try {
      await worker.waitUntilReady();
      const job = await addJob(background(), queue, "report", {});
      const ctx = await until(async () => started.get(job.id!), 10_000, "the handler");
      const graceful = worker.close(); // the job gets 60 s
      assert.equal(ctx.err(), undefined, "the grace has begun, the job still runs");
      const forced = worker.close(true); // no grace left: BullMQ stops waiting, so the job's ctx must end now
      assert.equal((cause(ctx) as { name?: string } | undefined)?.name, "WorkerShutdownError");
      await Promise.all([graceful, forced]);
    } finally {
      await worker.close(true);
      await drop(queue);
    }
  });

  it("worker.cancelJob (local, BullMQ's) ends the job's ctx with its reason, and the job fails as cancelled", BOUND, async () => {
    const queue = uniqueQueue("local");
    const [root, stopRoot] = withCancelCause(background());
    const started = new Map<string, Context>();
    const worker = work(root, queue.name, async (ctx, job) => {
      started.set(job.id!, ctx);
      await sleep(ctx, Infinity);
    }, { connection });
    worker.on("error", () => {});
    try {
      await worker.waitUntilReady();
      const job = await addJob(background(), queue, "report", {});
      const ctx = await until(async () => started.get(job.id!), 10_000, "the handler");
      assert.equal(worker.cancelJob(job.id!, "local reason"), true);
      assert.equal(cause(ctx), "local reason");
      assert.equal(worker.cancelJob("not-here"), false);
      const e = await jobResult(background(), queue, job.id!).catch((x: unknown) => x);
      assert.ok(e instanceof JobFailedError, "no record in Redis: jobResult sees a failure");
      assert.match(e.failedReason, /canceled: local reason/);
    } finally {
      stopRoot("done");
      await worker.close();
      await drop(queue);
    }
  });
});

describe("the task dump", () => {
  it("a task waiting in jobResult shows as blocked on `job result`, and leaves when its ctx ends", BOUND, async () => {
    const queue = uniqueQueue("blocked");
    try {
      const job = await addJob(background(), queue, "report", { mode: "quick" }); // no worker: it stays waiting
      const [ctx, cancel] = withCancelCause(background());
      const waiter = go(ctx, (ctx) => jobResult(ctx, queue, job.id!), { name: "waiter" });
      await until(async () => (waiter.state === "blocked" && waiter.blockedOn === "job result" ? true : undefined), 10_000, "the waiter blocked");
      cancel("no longer needed");
      await assert.rejects(Promise.resolve(waiter), (e: unknown) => e === Canceled);
    } finally {
      await drop(queue);
    }
  });
});

describe("bad input", () => {
  it("throws TypeErrors naming the function and the value; unknown ids reject with JobNotFoundError", BOUND, async () => {
    const queue = uniqueQueue("input");
    try {
      // @ts-expect-error not a Context
      assert.throws(() => addJob(undefined, queue, "x", {}), /addJob: ctx must be a Context, got `undefined`/);
      // @ts-expect-error not a Queue
      assert.throws(() => addJob(background(), {}, "x", {}), /addJob: queue must be a BullMQ Queue/);
      assert.throws(() => addJob(background(), queue, "x", {}, { marginMs: -1 }), /addJob: options.marginMs must be a finite number >= 0, got `-1`/);
      // @ts-expect-error not a Context
      assert.throws(() => cancelJob(null, queue, "1", "x"), /cancelJob: ctx must be a Context, got `null`/);
      assert.throws(() => cancelJob(background(), queue, "", "x"), /cancelJob: jobId must be a non-empty string/);
      await assert.rejects(cancelJob(background(), queue, "nope", "x"), JobNotFoundError);
      await assert.rejects(jobResult(background(), queue, "nope"), JobNotFoundError);
      const job = await addJob(background(), queue, "x", { mode: "quick" });
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      for (const reason of [() => 1, cyclic, 10n, new Map(), NaN, Symbol("s")]) {
        assert.throws(() => cancelJob(background(), queue, job.id!, reason), /cancelJob: reason must be a string, an Error or plain JSON data/);
      }
      assert.throws(() => cancelJob(background(), queue, job.id!, "x".repeat(20_000)), /too large/);
      // Nothing was recorded by the refused cancels.
      const client = await queue.client;
      assert.equal(await client.hget(queue.toKey(job.id!), "lifelineCancel"), null);
      const [ctx, cancel] = withCancelCause(background());
      cancel("gone");
      await assert.rejects(addJob(ctx, queue, "x", {}), (e: unknown) => e === Canceled);
      assert.equal(await queue.count(), 1, "an ended ctx adds nothing");
      // jobResult respects its ctx: the job has no worker, the wait ends with the ctx's error.
      const [waitCtx, stopWait] = withTimeout(background(), 50);
      await assert.rejects(jobResult(waitCtx, queue, job.id!), (e: unknown) => e === DeadlineExceeded);
      stopWait();
      // A carried value must be plain data.
      const [valued] = [withValue(background(), traceKey, new Date() as unknown as string)];
      assert.throws(() => addJob(valued, queue, "x", {}, { values: [trace] }), /addJob: value "trace" must be plain JSON data, but it holds an instance of Date/);
      const [short, stop] = withTimeout(background(), 5);
      await assert.rejects(addJob(short, queue, "x", {}), (e: unknown) => e instanceof Error && e.name === "TimeoutError");
      stop();
    } finally {
      await drop(queue);
    }
  });

  it("work rejects bad arguments before starting anything", () => {
    const noop = async () => undefined;
    // @ts-expect-error not a Context
    assert.throws(() => work({}, "q", noop, { connection }), /work: ctx must be a Context, got an instance of Object/);
    assert.throws(() => work(background(), "", noop, { connection }), /work: queueName must be a non-empty string, got `""`/);
    // @ts-expect-error not a function
    assert.throws(() => work(background(), "q", "nope", { connection }), /work: handler must be a function/);
    assert.throws(() => work(background(), "q", noop, { connection, graceMs: -1 }), /work: options.graceMs must be a number >= 0, .*got `-1`/);
    // A timer of more than 2^31 - 1 ms fires after 1 ms: such a grace would cancel running jobs at once.
    assert.throws(() => work(background(), "q", noop, { connection, graceMs: 2 ** 31 }), /work: options.graceMs must be .* at most 2147483647 or Infinity, got `2147483648`/);
    // @ts-expect-error not JobValues
    assert.throws(() => work(background(), "q", noop, { connection, values: [1] }), /work: options.values must hold jobValue\(\) results, got `1`/);
  });
});

after(async () => {
  await assertNoLeaks();
});
