// The browser's assert (scripts/runtimes/browser/assert.mjs) gives Node's assert/strict verdicts: every case below
// runs through both, and both must pass or both must fail (a thrown AssertionError or TypeError alike).
// Run: node --test scripts/runtimes/assert.test.mjs (scripts/test-runtimes.mjs runs it first).
import { describe, it } from "node:test";
import nodeAssert from "node:assert/strict";
import shim from "./browser/assert.mjs";

class Custom extends Error {
  constructor(message, code) {
    super(message);
    this.name = "Custom";
    this.code = code;
  }
}
const cyclic = () => {
  const o = { a: 1 };
  o.self = o;
  return o;
};
const withCause = (cause) => new Error("outer", { cause });
const sym = Symbol("s");
const fn = () => {};
const thrower = (e) => () => {
  throw e;
};

// [label, method, ...args]
const cases = [
  ["equal: same number", "equal", 1, 1],
  ["equal: 1 and '1'", "equal", 1, "1"],
  ["equal: NaN and NaN", "equal", NaN, NaN],
  ["equal: 0 and -0", "equal", 0, -0],
  ["equal: two objects", "equal", {}, {}],
  ["notEqual: 1 and 2", "notEqual", 1, 2],
  ["notEqual: NaN and NaN", "notEqual", NaN, NaN],
  ["ok: 1", "ok", 1],
  ["ok: 0", "ok", 0],
  ["ok: empty string", "ok", ""],
  ["ok: an object", "ok", {}],
  ["deepEqual: equal plain objects", "deepEqual", { a: 1, b: [1, 2] }, { b: [1, 2], a: 1 }],
  ["deepEqual: 1 and '1' inside", "deepEqual", { a: 1 }, { a: "1" }],
  ["deepEqual: extra key", "deepEqual", { a: 1 }, { a: 1, b: undefined }],
  ["deepEqual: different prototypes", "deepEqual", Object.create(null), {}],
  ["deepEqual: class instance and plain object", "deepEqual", new Custom("x"), { message: "x" }],
  ["deepEqual: arrays of different length", "deepEqual", [1, 2], [1, 2, 3]],
  ["deepEqual: array and array-like object", "deepEqual", [1], { 0: 1 }],
  ["deepEqual: -0 and 0", "deepEqual", [-0], [0]],
  ["deepEqual: NaN and NaN", "deepEqual", [NaN], [NaN]],
  ["deepEqual: equal Dates", "deepEqual", new Date(5), new Date(5)],
  ["deepEqual: different Dates", "deepEqual", new Date(5), new Date(6)],
  ["deepEqual: equal RegExps", "deepEqual", /a/g, /a/g],
  ["deepEqual: RegExps with different flags", "deepEqual", /a/g, /a/i],
  ["deepEqual: Errors with the same name and message", "deepEqual", new Error("x"), new Error("x")],
  ["deepEqual: Errors with different messages", "deepEqual", new Error("x"), new Error("y")],
  ["deepEqual: Error and TypeError", "deepEqual", new Error("x"), new TypeError("x")],
  ["deepEqual: custom errors with different fields", "deepEqual", new Custom("x", 1), new Custom("x", 2)],
  ["deepEqual: custom errors with equal fields", "deepEqual", new Custom("x", 1), new Custom("x", 1)],
  ["deepEqual: equal Maps", "deepEqual", new Map([[1, { a: 1 }]]), new Map([[1, { a: 1 }]])],
  ["deepEqual: Maps with different values", "deepEqual", new Map([[1, 1]]), new Map([[1, 2]])],
  ["deepEqual: Maps with object keys", "deepEqual", new Map([[{ k: 1 }, 1]]), new Map([[{ k: 1 }, 1]])],
  ["deepEqual: equal Sets", "deepEqual", new Set([1, 2]), new Set([2, 1])],
  ["deepEqual: Sets with object members", "deepEqual", new Set([{ a: 1 }]), new Set([{ a: 1 }])],
  ["deepEqual: different Sets", "deepEqual", new Set([1]), new Set([2])],
  ["deepEqual: Map and Set", "deepEqual", new Map(), new Set()],
  ["deepEqual: equal typed arrays", "deepEqual", new Uint8Array([1, 2]), new Uint8Array([1, 2])],
  ["deepEqual: different typed arrays", "deepEqual", new Uint8Array([1, 2]), new Uint8Array([1, 3])],
  ["deepEqual: cycles of the same shape", "deepEqual", cyclic(), cyclic()],
  ["deepEqual: symbol keys equal", "deepEqual", { [sym]: 1 }, { [sym]: 1 }],
  ["deepEqual: symbol keys differ", "deepEqual", { [sym]: 1 }, { [sym]: 2 }],
  ["deepEqual: the same function", "deepEqual", { f: fn }, { f: fn }],
  ["deepEqual: different functions", "deepEqual", { f: fn }, { f: () => {} }],
  ["deepEqual: boxed numbers", "deepEqual", Object(1), Object(2)],
  ["deepEqual: undefined and null", "deepEqual", undefined, null],
  ["notDeepEqual: different", "notDeepEqual", { a: 1 }, { a: 2 }],
  ["notDeepEqual: equal", "notDeepEqual", { a: 1 }, { a: 1 }],
  ["match: matches", "match", "hello", /ell/],
  ["match: does not match", "match", "hello", /xyz/],
  ["match: not a string", "match", 5, /5/],
  ["doesNotMatch: does not match", "doesNotMatch", "hello", /xyz/],
  ["doesNotMatch: matches", "doesNotMatch", "hello", /ell/],
  ["fail", "fail", "boom"],
  ["throws: throws, nothing expected", "throws", thrower(new Error("x"))],
  ["throws: does not throw", "throws", () => {}],
  ["throws: the class matches", "throws", thrower(new TypeError("x")), TypeError],
  ["throws: a base class matches", "throws", thrower(new TypeError("x")), Error],
  ["throws: the class does not match", "throws", thrower(new Error("x")), TypeError],
  ["throws: RegExp over String(error)", "throws", thrower(new TypeError("bad value")), /TypeError: bad/],
  ["throws: RegExp that does not match", "throws", thrower(new Error("x")), /y/],
  ["throws: object with a RegExp message", "throws", thrower(new TypeError("bad value")), { name: "TypeError", message: /bad/ }],
  ["throws: object with a wrong name", "throws", thrower(new TypeError("bad")), { name: "RangeError" }],
  ["throws: object with a structured field", "throws", thrower(new Custom("x", 7)), { code: 7 }],
  ["throws: object with a wrong structured field", "throws", thrower(new Custom("x", 7)), { code: 8 }],
  ["throws: object with a deep field", "throws", thrower(withCause({ a: 1 })), { cause: { a: 1 } }],
  ["throws: an Error instance as expected", "throws", thrower(new TypeError("x")), new TypeError("x")],
  ["throws: an Error instance with another message", "throws", thrower(new TypeError("x")), new TypeError("y")],
  ["throws: a validation function returning true", "throws", thrower(new Error("x")), (e) => e.message === "x"],
  ["throws: a validation function returning false", "throws", thrower(new Error("x")), () => false],
  ["throws: a string is the message", "throws", () => {}, "should have thrown"],
  ["throws: a thrown non-Error with a class", "throws", thrower("str"), Error],
  ["doesNotThrow: does not", "doesNotThrow", () => {}],
  ["doesNotThrow: does", "doesNotThrow", thrower(new Error("x"))],
];

const asyncCases = [
  ["rejects: a rejected promise", "rejects", () => Promise.reject(new Error("x"))],
  ["rejects: a fulfilled promise", "rejects", () => Promise.resolve(1)],
  ["rejects: a function returning a rejected promise", "rejects", () => () => Promise.reject(new TypeError("x")), TypeError],
  ["rejects: a function returning a non-promise", "rejects", () => () => 1],
  ["rejects: a function that throws synchronously", "rejects", () => thrower(new Error("sync"))],
  ["rejects: the wrong class", "rejects", () => Promise.reject(new Error("x")), RangeError],
  ["rejects: object fields", "rejects", () => Promise.reject(new Custom("x", 3)), { name: "Custom", code: 3 }],
  ["rejects: object fields that differ", "rejects", () => Promise.reject(new Custom("x", 3)), { code: 4 }],
  ["rejects: RegExp", "rejects", () => Promise.reject(new Error("abc")), /abc/],
  ["rejects: not a promise or function", "rejects", () => 42],
  ["doesNotReject: fulfilled", "doesNotReject", () => Promise.resolve(1)],
  ["doesNotReject: rejected", "doesNotReject", () => Promise.reject(new Error("x"))],
];

function verdict(run) {
  try {
    run();
    return "pass";
  } catch (error) {
    return error instanceof nodeAssert.AssertionError || error?.name === "AssertionError" ? "AssertionError" : error?.name;
  }
}
async function asyncVerdict(run) {
  try {
    await run();
    return "pass";
  } catch (error) {
    return error?.name === "AssertionError" ? "AssertionError" : "TypeError";
  }
}

describe("the browser's assert agrees with node:assert/strict", () => {
  for (const [label, method, ...args] of cases) {
    it(label, () => {
      const want = verdict(() => nodeAssert[method](...args));
      const got = verdict(() => shim[method](...args));
      nodeAssert.equal(got, want, `node says ${want}, the shim says ${got}`);
    });
  }
  for (const [label, method, make, ...rest] of asyncCases) {
    it(label, async () => {
      const want = await asyncVerdict(() => nodeAssert[method](make(), ...rest));
      const got = await asyncVerdict(() => shim[method](make(), ...rest));
      nodeAssert.equal(got, want, `node says ${want}, the shim says ${got}`);
    });
  }
  it("covers both outcomes for every method it has", () => {
    const outcomes = new Map();
    for (const [, method, ...args] of cases) {
      const v = verdict(() => nodeAssert[method](...args));
      outcomes.set(method, new Set([...(outcomes.get(method) ?? []), v === "pass" ? "pass" : "fail"]));
    }
    for (const [method, seen] of outcomes) if (method !== "fail") nodeAssert.equal(seen.size, 2, `${method}: ${[...seen]}`);
  });
  it("throws the given Error as is, and uses a string message", () => {
    const mine = new RangeError("mine");
    nodeAssert.throws(() => shim.equal(1, 2, mine), (e) => e === mine);
    nodeAssert.throws(() => shim.ok(false, "said so"), { name: "AssertionError", message: "said so", code: "ERR_ASSERTION" });
    nodeAssert.throws(() => shim.equal(1, 2), { name: "AssertionError", actual: 1, expected: 2, operator: "strictEqual" });
  });
  it("is callable as assert(value) and exposes itself as .strict", () => {
    nodeAssert.throws(() => shim(false), { name: "AssertionError" });
    shim(true);
    nodeAssert.equal(shim.strict, shim);
  });
});
