// node:assert/strict for the browser bundle of the core's tests: the subset the tests use (equal, notEqual,
// deepEqual, notDeepEqual, ok, fail, throws, doesNotThrow, rejects, doesNotReject, match, doesNotMatch), with
// strict semantics. Its verdicts are checked against Node's own assert/strict, case by case, in
// scripts/runtimes/assert.test.mjs; anything outside the subset is absent, so a test that needs it fails loudly.

export class AssertionError extends Error {
  constructor({ message, actual, expected, operator, generated }) {
    super(message);
    this.name = "AssertionError";
    this.code = "ERR_ASSERTION";
    this.actual = actual;
    this.expected = expected;
    this.operator = operator;
    this.generatedMessage = generated;
  }
}

function show(value) {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "symbol" || typeof value === "function") return String(value);
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json.length > 500 ? `${json.slice(0, 500)}…` : json;
  } catch {
    // a cycle or a bigint inside: fall through
  }
  return Object.prototype.toString.call(value);
}

function raise(message, generated, actual, expected, operator) {
  if (message instanceof Error) throw message;
  throw new AssertionError({
    message: message ?? generated,
    actual,
    expected,
    operator,
    generated: message === undefined,
  });
}

// ---- deep strict equality (Node's isDeepStrictEqual rules) -----------------------------------------------------

const tag = (v) => Object.prototype.toString.call(v);

function ownKeys(o) {
  return [
    ...Object.keys(o),
    ...Object.getOwnPropertySymbols(o).filter((s) => Object.prototype.propertyIsEnumerable.call(o, s)),
  ];
}

function same(a, b, memo) {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b) || tag(a) !== tag(b)) return false;
  // A pair already being compared higher up is assumed equal (cycles), as Node does.
  let seen = memo.get(a);
  if (seen?.has(b)) return true;
  if (seen === undefined) memo.set(a, (seen = new Set()));
  seen.add(b);

  if (a instanceof Date) {
    if (!Object.is(a.getTime(), b.getTime())) return false;
  } else if (a instanceof RegExp) {
    if (a.source !== b.source || a.flags !== b.flags || a.lastIndex !== b.lastIndex) return false;
  } else if (a instanceof Error) {
    if (a.name !== b.name || a.message !== b.message) return false;
    for (const key of ["cause", "errors"]) {
      const hasA = Object.prototype.hasOwnProperty.call(a, key);
      if (hasA !== Object.prototype.hasOwnProperty.call(b, key)) return false;
      if (hasA && !same(a[key], b[key], memo)) return false;
    }
  } else if (a instanceof Number || a instanceof String || a instanceof Boolean || a instanceof BigInt || a instanceof Symbol) {
    if (!Object.is(a.valueOf(), b.valueOf())) return false;
  } else if (ArrayBuffer.isView(a) || a instanceof ArrayBuffer) {
    const x = new Uint8Array(a.buffer ?? a, a.byteOffset ?? 0, a.byteLength);
    const y = new Uint8Array(b.buffer ?? b, b.byteOffset ?? 0, b.byteLength);
    if (x.length !== y.length || x.some((v, i) => v !== y[i])) return false;
    if (ArrayBuffer.isView(a) && !(a instanceof DataView) && a.length !== undefined) {
      // A float array's elements compare with Object.is (NaN equals NaN, -0 does not equal 0).
      for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
    }
  } else if (a instanceof Map) {
    if (a.size !== b.size || !sameEntries(a, b, memo, true)) return false;
  } else if (a instanceof Set) {
    if (a.size !== b.size || !sameEntries(a, b, memo, false)) return false;
  } else if (Array.isArray(a)) {
    if (a.length !== b.length) return false;
  }
  const keysA = ownKeys(a);
  const keysB = ownKeys(b);
  if (keysA.length !== keysB.length) return false;
  for (const key of keysA) {
    if (!Object.prototype.propertyIsEnumerable.call(b, key)) return false;
    if (!same(a[key], b[key], memo)) return false;
  }
  return true;
}

// sameEntries: every entry of a has its own deep-equal partner in b (a key found by identity first, then by a
// search among the unmatched object keys).
function sameEntries(a, b, memo, isMap) {
  const unmatched = [];
  for (const entry of b) unmatched.push(entry);
  for (const entryA of a) {
    const keyA = isMap ? entryA[0] : entryA;
    let index = unmatched.findIndex((entryB) => Object.is(isMap ? entryB[0] : entryB, keyA));
    if (index === -1 && typeof keyA === "object" && keyA !== null) {
      index = unmatched.findIndex((entryB) => same(keyA, isMap ? entryB[0] : entryB, new Map()));
    }
    if (index === -1) return false;
    if (isMap && !same(entryA[1], unmatched[index][1], memo)) return false;
    unmatched.splice(index, 1);
  }
  return true;
}

export function isDeepStrictEqual(a, b) {
  return same(a, b, new Map());
}

// ---- the assertions ----------------------------------------------------------------------------------------------

export function ok(value, message) {
  if (!value) raise(message, `The expression evaluated to a falsy value: ${show(value)}`, value, true, "==");
}

export function equal(actual, expected, message) {
  if (!Object.is(actual, expected)) {
    raise(message, `Expected values to be strictly equal:\n${show(actual)} !== ${show(expected)}`, actual, expected, "strictEqual");
  }
}

export function notEqual(actual, expected, message) {
  if (Object.is(actual, expected)) {
    raise(message, `Expected "actual" to be strictly unequal to: ${show(expected)}`, actual, expected, "notStrictEqual");
  }
}

export function deepStrictEqual(actual, expected, message) {
  if (!isDeepStrictEqual(actual, expected)) {
    raise(
      message,
      `Expected values to be strictly deep-equal:\nactual:   ${show(actual)}\nexpected: ${show(expected)}`,
      actual,
      expected,
      "deepStrictEqual",
    );
  }
}

export function notDeepEqual(actual, expected, message) {
  if (isDeepStrictEqual(actual, expected)) {
    raise(message, `Expected "actual" not to be strictly deep-equal to: ${show(expected)}`, actual, expected, "notDeepStrictEqual");
  }
}

export function fail(message = "Failed") {
  raise(message, "Failed", undefined, undefined, "fail");
}

export function match(string, regexp, message) {
  if (!(regexp instanceof RegExp)) throw new TypeError("match: regexp must be a RegExp");
  if (typeof string !== "string" || !regexp.test(string)) {
    raise(
      message,
      typeof string !== "string"
        ? `The "string" argument must be of type string. Received ${show(string)}`
        : `The input did not match the regular expression ${regexp}. Input:\n\n${show(string)}\n`,
      string,
      regexp,
      "match",
    );
  }
}

export function doesNotMatch(string, regexp, message) {
  if (!(regexp instanceof RegExp)) throw new TypeError("doesNotMatch: regexp must be a RegExp");
  if (typeof string !== "string" || regexp.test(string)) {
    raise(
      message,
      typeof string !== "string"
        ? `The "string" argument must be of type string. Received ${show(string)}`
        : `The input was expected to not match the regular expression ${regexp}. Input:\n\n${show(string)}\n`,
      string,
      regexp,
      "doesNotMatch",
    );
  }
}

// check validates a thrown or rejected `error` against `expected` as Node's assert.throws does: a RegExp tests
// String(error); an Error class must be an ancestor of the error; another function must return true; an object's
// (or an Error's) own keys must deep-equal the error's, a RegExp value testing a string property.
function check(error, expected, message, operator) {
  if (expected === undefined) return;
  if (expected instanceof RegExp) {
    if (!expected.test(String(error))) {
      raise(message, `The error message did not match the regular expression ${expected}: ${show(error)}`, error, expected, operator);
    }
    return;
  }
  if (typeof expected === "function") {
    if (expected.prototype !== undefined && error instanceof expected) return;
    if (Object.prototype.isPrototypeOf.call(Error, expected) || expected === Error) {
      raise(message, `The error is expected to be an instance of "${expected.name}". Received ${show(error)}`, error, expected, operator);
    }
    const r = expected.call({}, error);
    if (r !== true) {
      raise(message, `The ${expected.name || "validation"} function is expected to return "true". Received ${show(r)}`, error, expected, operator);
    }
    return;
  }
  if (typeof expected !== "object" || expected === null) {
    throw new TypeError(`${operator}: expected must be a RegExp, a function or an object, got ${show(expected)}`);
  }
  const keys = ownKeys(expected);
  if (expected instanceof Error) keys.push("name", "message");
  if (keys.length === 0) throw new TypeError(`${operator}: expected must not be an empty object`);
  for (const key of keys) {
    const want = expected[key];
    const got = error?.[key];
    const fine = want instanceof RegExp && typeof got === "string" ? want.test(got) : isDeepStrictEqual(got, want);
    if (!fine) {
      raise(message, `Expected the error's "${String(key)}" to be ${show(want)}, got ${show(got)}`, error, expected, operator);
    }
  }
}

// A string second argument is the message (Node's assert.throws(fn, "message")).
function split(expected, message) {
  return typeof expected === "string" ? [undefined, expected] : [expected, message];
}

const NONE = Symbol("no error");

export function throws(fn, expected, message) {
  if (typeof fn !== "function") throw new TypeError(`throws: fn must be a function, got ${show(fn)}`);
  [expected, message] = split(expected, message);
  let error = NONE;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  if (error === NONE) raise(message, `Missing expected exception${expected?.name ? ` (${expected.name})` : ""}.`, undefined, expected, "throws");
  check(error, expected, message, "throws");
}

export function doesNotThrow(fn, message) {
  try {
    fn();
  } catch (error) {
    raise(typeof message === "string" ? message : undefined, `Got unwanted exception: ${show(error)}`, error, undefined, "doesNotThrow");
  }
}

async function settle(promiseOrFn, operator) {
  let promise = promiseOrFn;
  if (typeof promiseOrFn === "function") {
    promise = promiseOrFn();
    if (promise === null || typeof promise !== "object" || typeof promise.then !== "function") {
      throw new TypeError(`${operator}: the function must return a promise, got ${show(promise)}`);
    }
  } else if (promise === null || typeof promise !== "object" || typeof promise.then !== "function") {
    throw new TypeError(`${operator}: expected a promise or a function, got ${show(promise)}`);
  }
  try {
    await promise;
    return NONE;
  } catch (error) {
    return error;
  }
}

export async function rejects(promiseOrFn, expected, message) {
  [expected, message] = split(expected, message);
  const error = await settle(promiseOrFn, "rejects");
  if (error === NONE) raise(message, `Missing expected rejection${expected?.name ? ` (${expected.name})` : ""}.`, undefined, expected, "rejects");
  check(error, expected, message, "rejects");
}

export async function doesNotReject(promiseOrFn, message) {
  const error = await settle(promiseOrFn, "doesNotReject");
  if (error !== NONE) raise(typeof message === "string" ? message : undefined, `Got unwanted rejection: ${show(error)}`, error, undefined, "doesNotReject");
}

const assert = (value, message) => ok(value, message);
Object.assign(assert, {
  AssertionError,
  ok,
  equal,
  strictEqual: equal,
  notEqual,
  notStrictEqual: notEqual,
  deepEqual: deepStrictEqual,
  deepStrictEqual: deepStrictEqual,
  notDeepEqual,
  notDeepStrictEqual: notDeepEqual,
  fail,
  match,
  doesNotMatch,
  throws,
  doesNotThrow,
  rejects,
  doesNotReject,
});
assert.strict = assert;
export { deepStrictEqual as deepEqual, equal as strictEqual, notEqual as notStrictEqual, notDeepEqual as notDeepStrictEqual };
export { assert as strict };
export default assert;
