import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { background, Canceled, cause, withCancel } from "@lifeline/core";
import { notifyContext, SignalReceivedError } from "@lifeline/node";

const core = import.meta.resolve("@lifeline/core");
const node = import.meta.resolve("@lifeline/node");

/** child runs a small program using notifyContext; it prints "ready" once its handlers are installed. */
async function child(body: string, signals: NodeJS.Signals[]): Promise<{ code: number | null; out: string; err: string }> {
  const code = `import { background, cause } from ${JSON.stringify(core)};
import { notifyContext } from ${JSON.stringify(node)};
const alive = setInterval(() => {}, 1000); // signal handlers alone do not keep a process alive
${body}
clearInterval(alive);`;
  const p = spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  p.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
  const queue = [...signals];
  p.stdout.setEncoding("utf8").on("data", (c: string) => {
    out += c;
    // Each "ready" line asks for the next signal.
    const asked = out.split("\n").filter((l) => l === "ready").length;
    while (signals.length - queue.length < asked && queue.length > 0) p.kill(queue.shift());
  });
  const killer = setTimeout(() => p.kill("SIGKILL"), 10_000);
  const [exit] = (await once(p, "exit")) as [number | null];
  clearTimeout(killer);
  return { code: exit, out, err };
}

describe("notifyContext", () => {
  it("ends the context on SIGTERM with the signal as its cause, and the program drains by itself", async () => {
    const r = await child(
      `const [ctx, stop] = notifyContext(background());
       console.log("ready");
       await ctx.done().recv(background());
       const c = cause(ctx);
       console.log(ctx.err().message, c.name, c.signal, c.message);
       stop();`,
      ["SIGTERM"],
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /context canceled SignalReceivedError SIGTERM received SIGTERM/);
  });

  it("exits hard with 128 + signal number on a second signal while draining", async () => {
    const r = await child(
      `const [ctx] = notifyContext(background());
       console.log("ready");
       await ctx.done().recv(background());
       console.log("ready"); // draining, forever
       setInterval(() => {}, 1000);`,
      ["SIGINT", "SIGINT"],
    );
    assert.equal(r.code, 130);
    assert.match(r.err, /received SIGINT again while draining: exiting now/);
  });

  it("listens only to the signals it is given", async () => {
    const r = await child(
      `const [ctx, stop] = notifyContext(background(), { signals: ["SIGUSR2"] });
       process.on("SIGTERM", () => { console.log("term is not ours:", ctx.err() === undefined); console.log("ready"); });
       console.log("ready");
       await ctx.done().recv(background());
       console.log(cause(ctx).signal);
       stop();
       process.removeAllListeners("SIGTERM");`,
      ["SIGTERM", "SIGUSR2"],
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /term is not ours: true\nready\nSIGUSR2/);
  });

  it("stop removes the handlers and ends the context with Canceled", () => {
    const before = process.listenerCount("SIGINT");
    const [ctx, stop] = notifyContext(background());
    assert.equal(process.listenerCount("SIGINT"), before + 1);
    stop();
    assert.equal(process.listenerCount("SIGINT"), before);
    assert.equal(ctx.err(), Canceled);
    assert.equal(cause(ctx), Canceled);
  });

  it("is a child of its parent: the parent's cancel ends it", () => {
    const [parent, cancel] = withCancel(background());
    const [ctx, stop] = notifyContext(parent);
    cancel();
    assert.equal(ctx.err(), Canceled);
    stop();
  });

  it("rejects bad input with a TypeError naming notifyContext", () => {
    assert.throws(() => notifyContext(null as never), { name: "TypeError", message: /^notifyContext: parent must be a Context/ });
    assert.throws(() => notifyContext(background(), { signals: ["SIGNOPE" as NodeJS.Signals] }), {
      name: "TypeError",
      message: /^notifyContext: unknown signal "SIGNOPE"/,
    });
  });

  it("rejects an uncatchable signal with a TypeError and installs nothing (issue 9)", () => {
    for (const bad of ["SIGKILL", "SIGSTOP"] as const) {
      const before = process.listenerCount("SIGINT");
      assert.throws(() => notifyContext(background(), { signals: ["SIGINT", bad] }), {
        name: "TypeError",
        message: new RegExp(`^notifyContext: ${bad} cannot be caught`),
      });
      assert.equal(process.listenerCount("SIGINT"), before, `SIGINT stayed swallowed after ${bad} was refused`);
      assert.equal(process.listenerCount(bad), 0);
    }
  });

  it("installs nothing, and ends its context, when Node refuses a signal (issue 9)", (t) => {
    const before = { SIGINT: process.listenerCount("SIGINT"), SIGUSR2: process.listenerCount("SIGUSR2") };
    const on = process.on.bind(process);
    // Node refuses signals it cannot watch (EINVAL from uv_signal_start): make it refuse SIGUSR2 here.
    t.mock.method(process, "on", (name: string, listener: (...args: unknown[]) => void) => {
      if (name === "SIGUSR2") throw Object.assign(new Error("uv_signal_start EINVAL"), { code: "EINVAL" });
      return on(name, listener);
    });
    assert.throws(() => notifyContext(background(), { signals: ["SIGINT", "SIGUSR2"] }), /EINVAL/);
    t.mock.restoreAll();
    assert.equal(process.listenerCount("SIGINT"), before.SIGINT, "SIGINT stayed swallowed");
    assert.equal(process.listenerCount("SIGUSR2"), before.SIGUSR2);
  });

  it("prints as Go's signal.NotifyContext(<parent>, [signals])", () => {
    const [ctx, stop] = notifyContext(background());
    try {
      assert.equal(String(ctx), "signal.NotifyContext(context.Background, [SIGINT SIGTERM])");
      const [child, cancel] = withCancel(ctx);
      assert.equal(String(child), "signal.NotifyContext(context.Background, [SIGINT SIGTERM]).WithCancel");
      stop();
      assert.equal(child.err(), Canceled, "a child of it ends with it");
      cancel();
    } finally {
      stop();
    }
  });

  it("is core's own cancel context: a wait under it holds a deadline set above it (the process waits for it)", async () => {
    const code = `import { background, Channel, DeadlineExceeded, withCancel, withTimeout } from ${JSON.stringify(core)};
import { notifyContext } from ${JSON.stringify(node)};
const [timed] = withTimeout(background(), 150);
const [ctx, stop] = notifyContext(timed);
const [child] = withCancel(ctx);
console.log("before");
const err = await new Channel().recv(child).catch((e) => e);
console.log("after", err === DeadlineExceeded ? "deadline" : String(err));
stop();`;
    const p = spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 });
    let out = "";
    let err = "";
    p.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    p.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    const [status] = (await once(p, "close")) as [number | null];
    assert.equal(status, 0, `exited before the deadline (${status}): ${out} ${err}`);
    assert.equal(out.trim(), "before\nafter deadline");
  });

  it("does not exit on the first signal when its parent had already ended; only a real second exits", async () => {
    const r = await child(
      `const [parent, cancel] = (await import(${JSON.stringify(core)})).withCancel(background());
       cancel();
       const [ctx, stop] = notifyContext(parent);
       process.once("SIGINT", () => { console.log("first caught, still here:", ctx.err().message); console.log("ready"); });
       console.log("ready");
       await new Promise(() => {}); // until the second signal exits the process`,
      ["SIGINT", "SIGINT"],
    );
    assert.equal(r.code, 130, r.err);
    assert.match(r.out, /first caught, still here: context canceled\nready\n/);
    assert.match(r.err, /received SIGINT again while draining: exiting now/);
  });

  it("SignalReceivedError names the signal", () => {
    const e = new SignalReceivedError("SIGINT");
    assert.equal(e.name, "SignalReceivedError");
    assert.equal(e.signal, "SIGINT");
    assert.equal(e.message, "received SIGINT");
  });
});

after(() => assertNoLeaks());
