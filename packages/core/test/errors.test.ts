import { after, before, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  background,
  Canceled,
  CanceledError,
  cause,
  DeadlineExceeded,
  DeadlineExceededError,
  errorIs,
  isCanceled,
  isDeadlineExceeded,
  withCancel,
  withCancelCause,
  withTimeout,
} from "@lifeline/core";

describe("Canceled and DeadlineExceeded", () => {
  const sentinels = [
    { name: "Canceled", error: Canceled, cls: CanceledError, errName: "AbortError", message: "context canceled" },
    {
      name: "DeadlineExceeded",
      error: DeadlineExceeded,
      cls: DeadlineExceededError,
      errName: "TimeoutError",
      message: "context deadline exceeded",
    },
  ] as const;

  for (const s of sentinels) {
    describe(s.name, () => {
      it("has Go's message and the platform's abort name", () => {
        assert.equal(s.error.message, s.message);
        assert.equal(s.error.name, s.errName);
        assert.equal(String(s.error), `${s.errName}: ${s.message}`);
      });

      it("is an instance of its own class and of Error", () => {
        assert.ok(s.error instanceof s.cls);
        assert.ok(s.error instanceof Error);
        assert.equal(Object.getPrototypeOf(s.error), s.cls.prototype);
      });

      it("is a singleton: constructing another throws a TypeError", () => {
        const Ctor = s.cls as unknown as new (token?: unknown) => Error;
        assert.throws(() => new Ctor(), TypeError);
        assert.throws(() => new Ctor(Symbol("lifeline.sentinel")), TypeError);
        assert.throws(() => new Ctor("sentinel"), TypeError);
      });

      it("has a read-only name and message", () => {
        const e = s.error as unknown as { name: string; message: string };
        assert.throws(() => {
          e.name = "Error";
        }, TypeError);
        assert.throws(() => {
          e.message = "something else";
        }, TypeError);
        assert.equal(s.error.name, s.errName);
        assert.equal(s.error.message, s.message);
        assert.throws(() => Object.defineProperty(s.error, "name", { value: "Error" }), TypeError);
        assert.equal(s.error.name, s.errName);
      });

      it("is not frozen: a stack can be written onto it", () => {
        assert.equal(Object.isFrozen(s.error), false);
        assert.equal(Object.isExtensible(s.error), true);
        const saved = s.error.stack;
        try {
          s.error.stack = "written by a test";
          assert.equal(s.error.stack, "written by a test");
          Error.captureStackTrace(s.error); // what Node's fetch does to the abort reason it rethrows
          assert.match(s.error.stack ?? "", new RegExp(`^${s.errName}: ${s.message}`));
        } finally {
          s.error.stack = saved ?? `${s.errName}: ${s.message}`;
        }
        assert.equal(s.error.name, s.errName);
        assert.equal(s.error.message, s.message);
      });
    });
  }

  it("are two different errors", () => {
    assert.notEqual(Canceled, DeadlineExceeded);
    assert.equal(Canceled instanceof DeadlineExceededError, false);
    assert.equal(DeadlineExceeded instanceof CanceledError, false);
  });

  it("are what ended contexts report, also as their signal's reason", () => {
    const [c, cancel] = withCancel(background());
    cancel();
    assert.equal(c.err(), Canceled);
    assert.equal(c.signal.reason, Canceled);
    const [d, cancelD] = withTimeout(background(), 0);
    assert.equal(d.err(), DeadlineExceeded);
    assert.equal(d.signal.reason, DeadlineExceeded);
    cancelD();
  });
});

function cycle(leaf?: unknown): Error {
  const a = new Error("a");
  const b = new Error("b", { cause: a });
  const c = new Error("c", leaf === undefined ? { cause: b } : { cause: new AggregateError([b, leaf]) });
  (a as { cause?: unknown }).cause = c;
  return a;
}

describe("isCanceled and isDeadlineExceeded", () => {
  const abortError = new DOMException("This operation was aborted", "AbortError");
  const timeoutError = new DOMException("The operation timed out.", "TimeoutError");
  const table: { name: string; error: unknown; canceled: boolean; deadline: boolean }[] = [
    { name: "Canceled itself", error: Canceled, canceled: true, deadline: false },
    { name: "DeadlineExceeded itself", error: DeadlineExceeded, canceled: false, deadline: true },
    { name: "an Error caused by Canceled", error: new Error("op", { cause: Canceled }), canceled: true, deadline: false },
    {
      name: "a three-deep cause chain ending in DeadlineExceeded",
      error: new Error("a", { cause: new TypeError("b", { cause: new Error("c", { cause: DeadlineExceeded }) }) }),
      canceled: false,
      deadline: true,
    },
    { name: "an AggregateError holding Canceled", error: new AggregateError([new Error("x"), Canceled]), canceled: true, deadline: false },
    {
      name: "an AggregateError holding both",
      error: new AggregateError([DeadlineExceeded, new Error("x", { cause: Canceled })]),
      canceled: true,
      deadline: true,
    },
    {
      name: "an AggregateError inside a cause chain",
      error: new Error("outer", { cause: new AggregateError([new Error("x"), new Error("y", { cause: DeadlineExceeded })]) }),
      canceled: false,
      deadline: true,
    },
    { name: "an AggregateError whose own cause is Canceled", error: new AggregateError([], "m", { cause: Canceled }), canceled: true, deadline: false },
    { name: "a cause cycle without a sentinel", error: cycle(), canceled: false, deadline: false },
    { name: "a cause cycle that also holds Canceled", error: cycle(Canceled), canceled: true, deadline: false },
    { name: "an AggregateError that contains itself", error: selfAggregate(), canceled: false, deadline: false },
    { name: "a plain Error", error: new Error("context canceled"), canceled: false, deadline: false },
    { name: "a DOMException AbortError from a plain AbortController", error: abortError, canceled: false, deadline: false },
    { name: "a DOMException TimeoutError", error: timeoutError, canceled: false, deadline: false },
    { name: "a look-alike object", error: { name: "AbortError", message: "context canceled" }, canceled: false, deadline: false },
    { name: "an object whose cause is Canceled", error: { cause: Canceled }, canceled: true, deadline: false },
    { name: "the string 'context canceled'", error: "context canceled", canceled: false, deadline: false },
    { name: "undefined", error: undefined, canceled: false, deadline: false },
    { name: "null", error: null, canceled: false, deadline: false },
    { name: "an Error with cause null", error: new Error("x", { cause: null }), canceled: false, deadline: false },
  ];
  for (const t of table) {
    it(`errorIs agrees with both for ${t.name}`, () => {
      assert.equal(errorIs(t.error, Canceled), t.canceled);
      assert.equal(errorIs(t.error, DeadlineExceeded), t.deadline);
    });
    it(`${t.canceled ? "recognise" : "reject"}s ${t.name} as Canceled, and ${t.deadline ? "recognise" : "reject"}s it as DeadlineExceeded`, () => {
      assert.equal(isCanceled(t.error), t.canceled);
      assert.equal(isDeadlineExceeded(t.error), t.deadline);
    });
  }

  it("recognise a cancel cause that wraps the sentinel", () => {
    const [ctx, cancel] = withCancelCause(background());
    cancel(new Error("shutting down", { cause: Canceled }));
    assert.equal(isCanceled(cause(ctx)), true);
    assert.equal(isCanceled(ctx.err()), true);
    assert.equal(isDeadlineExceeded(cause(ctx)), false);
  });
});

describe("errorIs", () => {
  class NotFound extends Error {}
  const target = new NotFound("row not found");
  const table: { name: string; error: unknown; is: boolean }[] = [
    { name: "the target itself", error: target, is: true },
    { name: "a cause chain ending in the target", error: new Error("a", { cause: new Error("b", { cause: target }) }), is: true },
    { name: "an AggregateError holding it", error: new AggregateError([new Error("x"), target]), is: true },
    { name: "an AggregateError in a cause chain", error: new Error("o", { cause: new AggregateError([new Error("y", { cause: target })]) }), is: true },
    { name: "a plain object whose cause is it", error: { cause: target }, is: true },
    { name: "a cycle holding it", error: cycle(target), is: true },
    { name: "a cycle without it", error: cycle(), is: false },
    { name: "an AggregateError that contains itself", error: selfAggregate(), is: false },
    { name: "another instance of the same class and message", error: new NotFound("row not found"), is: false },
    { name: "a look-alike object", error: { name: "Error", message: "row not found" }, is: false },
    { name: "Canceled", error: Canceled, is: false },
    { name: "undefined", error: undefined, is: false },
  ];
  for (const t of table) {
    it(`${t.is ? "finds" : "does not find"} the target in ${t.name}`, () => {
      assert.equal(errorIs(t.error, target), t.is);
    });
  }

  it("compares primitives by value, as identity does in JavaScript", () => {
    assert.equal(errorIs("eof", "eof"), true);
    assert.equal(errorIs(new Error("x", { cause: "eof" }), "eof"), true);
    assert.equal(errorIs(new Error("eof"), "eof"), false);
    assert.equal(errorIs(undefined, undefined), true);
  });
});

function selfAggregate(): AggregateError {
  const errors: unknown[] = [];
  const e = new AggregateError(errors, "self");
  (e as { errors: unknown[] }).errors = [e, new Error("x", { cause: e })];
  return e;
}

describe("fetch with ctx.signal against a server that never answers", () => {
  let server: Server;
  let url: string;
  const requests: (() => void)[] = [];

  before(async () => {
    server = createServer(() => {
      // Never answer: the request hangs until the client aborts.
      requests.shift()?.();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function nextRequest(): Promise<void> {
    return new Promise((resolve) => requests.push(resolve));
  }

  it("rejects with an error for which isCanceled is true when the ctx is cancelled mid-request", async () => {
    const [ctx, cancel] = withCancel(background());
    const arrived = nextRequest();
    const response = fetch(url, { signal: ctx.signal });
    await arrived;
    cancel();
    await assert.rejects(response, (e: unknown) => {
      assert.equal(isCanceled(e), true, `got ${String(e)}`);
      assert.equal(isDeadlineExceeded(e), false);
      return true;
    });
    // The sentinel survived being rethrown (fetch writes a stack onto it).
    assert.equal(Canceled.name, "AbortError");
    assert.equal(Canceled.message, "context canceled");
  });

  it("rejects with an error for which isCanceled is true when the ctx was cancelled before the call", async () => {
    const [ctx, cancel] = withCancel(background());
    cancel();
    await assert.rejects(fetch(url, { signal: ctx.signal }), (e: unknown) => isCanceled(e));
  });

  it("rejects a fetch on a child ctx when its parent is cancelled", async () => {
    const [parent, cancelParent] = withCancelCause(background());
    const [ctx, cancel] = withCancel(parent);
    const arrived = nextRequest();
    const response = fetch(url, { signal: ctx.signal });
    await arrived;
    cancelParent(new Error("client went away"));
    await assert.rejects(response, (e: unknown) => isCanceled(e));
    cancel();
  });

  it("rejects with an error for which isDeadlineExceeded is true when the ctx times out", async () => {
    const [ctx, cancel] = withTimeout(background(), 30);
    try {
      await assert.rejects(fetch(url, { signal: ctx.signal }), (e: unknown) => {
        assert.equal(isDeadlineExceeded(e), true, `got ${String(e)}`);
        assert.equal(isCanceled(e), false);
        return true;
      });
      assert.equal(ctx.err(), DeadlineExceeded);
    } finally {
      cancel();
    }
    assert.equal(DeadlineExceeded.name, "TimeoutError");
    assert.equal(DeadlineExceeded.message, "context deadline exceeded");
  });
});

after(() => assertNoLeaks());
