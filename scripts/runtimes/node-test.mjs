// A small stand-in for node:test, for running the core's compiled tests on Deno, Bun and in Chromium with one
// runner (scripts/test-runtimes.mjs). Why not the runtimes' own node:test: Deno's ignores a failing file-level
// `after` hook (so `after(() => assertNoLeaks())` could never fail there) and never runs `t.after` callbacks, and
// browsers have none. This one runs the same on all three.
//
// What it implements, with node:test's semantics: describe/suite, it/test (name, options, fn), before/after/
// beforeEach/afterEach at file or suite level, options `timeout`, `concurrency` (true runs a suite's children at
// once; anything else runs them one by one, as node:test does by default), `skip`, `todo`; the TestContext's
// `name`, `fullName`, `signal` (aborted when the test times out), `after(fn)` (run in the order added, after the
// test) and `diagnostic`; callback-style tests `(t, done)`. What it does not: `only`, mocks, snapshots, nested
// `t.test` subtests (each throws, so a test that needs them fails loudly rather than passing unrun).
//
// Tests register while the test module evaluates; the entry then calls `run()`, which runs them, prints one line
// per test and a last line `#runtimes-summary <json>` that the driver parses. Errors no test catches (an unhandled
// rejection, an uncaught exception) while the file runs fail the file, as under node:test.

const SUMMARY = "#runtimes-summary";

class Suite {
  constructor(name, parent, options) {
    this.name = name;
    this.parent = parent;
    this.options = options;
    this.children = [];
    this.before = [];
    this.after = [];
    this.beforeEach = [];
    this.afterEach = [];
  }
  get fullName() {
    return this.parent && this.parent.name !== "" ? `${this.parent.fullName} > ${this.name}` : this.name;
  }
}

class Test {
  constructor(name, parent, options, fn) {
    this.name = name;
    this.parent = parent;
    this.options = options;
    this.fn = fn;
  }
  get fullName() {
    return this.parent.name !== "" ? `${this.parent.fullName} > ${this.name}` : this.name;
  }
}

const root = new Suite("", undefined, {});
let current = root;
let started = false;

// (name, options, fn) with name and options optional, as node:test takes them.
function args(kind, a, b, c) {
  let name = a;
  let options = b;
  let fn = c;
  if (typeof name === "function") [name, options, fn] = [name.name || "<anonymous>", {}, name];
  else if (typeof options === "function") [options, fn] = [{}, options];
  if (typeof name !== "string") throw new TypeError(`${kind}: name must be a string, got ${typeof name}`);
  options ??= {};
  if (typeof fn !== "function" && !options.skip && !options.todo) {
    throw new TypeError(`${kind} "${name}": fn must be a function, got ${typeof fn}`);
  }
  return [name, options, fn];
}

function register(kind) {
  if (started) throw new Error(`${kind}: registered after the run started (nested t.test subtests are not supported)`);
}

export function describe(a, b, c) {
  register("describe");
  const [name, options, fn] = args("describe", a, b, c);
  const suite = new Suite(name, current, options);
  current.children.push(suite);
  if (options.skip || options.todo) return;
  const previous = current;
  current = suite;
  try {
    const r = fn();
    if (r !== undefined && typeof r.then === "function") {
      throw new Error(`describe "${name}": an async describe body is not supported by this runner`);
    }
  } finally {
    current = previous;
  }
}
describe.skip = (a, b, c) => describe(...withOption(a, b, c, "skip"));
describe.todo = (a, b, c) => describe(...withOption(a, b, c, "todo"));

export function it(a, b, c) {
  register("it");
  const [name, options, fn] = args("it", a, b, c);
  current.children.push(new Test(name, current, options, fn));
}
it.skip = (a, b, c) => it(...withOption(a, b, c, "skip"));
it.todo = (a, b, c) => it(...withOption(a, b, c, "todo"));
it.only = () => {
  throw new Error("it.only is not supported by this runner");
};
describe.only = it.only;

function withOption(a, b, c, key) {
  if (typeof a === "function") return [a.name || "<anonymous>", { [key]: true }, a];
  if (typeof b === "function") return [a, { [key]: true }, b];
  return [a, { ...b, [key]: true }, c];
}

export const test = it;
export const suite = describe;
export function before(fn) {
  current.before.push(fn);
}
export function after(fn) {
  current.after.push(fn);
}
export function beforeEach(fn) {
  current.beforeEach.push(fn);
}
export function afterEach(fn) {
  current.afterEach.push(fn);
}
export default test;

class TestContext {
  #afters = [];
  #controller = new AbortController();
  constructor(test) {
    this.name = test.name;
    this.fullName = test.fullName;
  }
  get signal() {
    return this.#controller.signal;
  }
  after(fn) {
    this.#afters.push(fn);
  }
  diagnostic(message) {
    print(`# ${message}`);
  }
  test() {
    throw new Error("t.test (nested subtests) is not supported by this runner");
  }
  /** @internal */
  abort(reason) {
    this.#controller.abort(reason);
  }
  /** @internal */
  takeAfters() {
    return this.#afters.splice(0);
  }
}

// ---- running -------------------------------------------------------------------------------------------------

const results = [];
let exclusions = [];
const excluded = new Set();
const stray = [];

/**
 * exclude names tests this runtime cannot run (`{ test, reason }`, test = the full name `suite > test`, or a
 * RegExp over it). Each is reported as skipped with its reason; the driver fails an exclusion that matched nothing.
 */
export function exclude(list) {
  exclusions = list;
}

function exclusionOf(fullName) {
  for (const e of exclusions) {
    if (typeof e.test === "string" ? e.test === fullName : e.test.test(fullName)) {
      excluded.add(e);
      return e;
    }
  }
  return undefined;
}

const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
const now = () => performance.now();

function print(line) {
  console.log(line);
}

function describeError(error) {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  try {
    return `thrown non-Error: ${typeof error === "string" ? error : JSON.stringify(error)}`;
  } catch {
    return `thrown non-Error: ${String(error)}`;
  }
}

// callFn runs a test or hook function: a promise is awaited, a `(t, done)` function waits for done.
function callFn(fn, t) {
  if (fn.length >= 2) {
    return new Promise((resolve, reject) => {
      const r = fn(t, (error) => (error ? reject(error) : resolve()));
      if (r !== undefined && typeof r.then === "function") {
        reject(new Error("a test takes a done callback and returns a promise: use one or the other"));
      }
    });
  }
  return Promise.resolve().then(() => fn(t));
}

function withTimeout(promise, ms, onTimeout) {
  if (ms === undefined || ms === Infinity) return promise;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = realSetTimeout(() => {
      const error = new Error(`test timed out after ${ms} ms`);
      onTimeout(error);
      reject(error);
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => realClearTimeout(timer));
}

function eachHooks(suite, key) {
  const chain = [];
  for (let s = suite; s !== undefined; s = s.parent) chain.unshift(s);
  const hooks = chain.flatMap((s) => s[key]);
  return key === "afterEach" ? hooks.reverse() : hooks;
}

function record(result) {
  results.push(result);
  const time = result.ms === undefined ? "" : ` (${result.ms.toFixed(1)} ms)`;
  if (result.status === "pass") print(`ok ${result.name}${time}`);
  else if (result.status === "skip") print(`skip ${result.name} # ${result.reason}`);
  else {
    print(`not ok ${result.name}${time}`);
    for (const line of result.error.split("\n")) print(`    ${line}`);
  }
}

async function runTest(test, inheritedSkip) {
  const fullName = test.fullName;
  const exclusion = exclusionOf(fullName);
  if (exclusion !== undefined) return record({ name: fullName, status: "skip", reason: `excluded: ${exclusion.reason}` });
  const skip = inheritedSkip ?? (test.options.skip ? "skip" : test.options.todo ? "todo" : undefined);
  if (skip !== undefined) return record({ name: fullName, status: "skip", reason: typeof skip === "string" ? skip : "skip" });
  const t = new TestContext(test);
  const t0 = now();
  const errors = [];
  try {
    for (const hook of eachHooks(test.parent, "beforeEach")) await callFn(hook, t);
    await withTimeout(callFn(test.fn, t), test.options.timeout, (e) => t.abort(e));
  } catch (error) {
    errors.push(error);
  }
  for (const fn of t.takeAfters()) {
    try {
      await fn(t);
    } catch (error) {
      errors.push(error);
    }
  }
  for (const hook of eachHooks(test.parent, "afterEach")) {
    try {
      await callFn(hook, t);
    } catch (error) {
      errors.push(error);
    }
  }
  const ms = now() - t0;
  if (errors.length === 0) record({ name: fullName, status: "pass", ms });
  else record({ name: fullName, status: "fail", ms, error: errors.map(describeError).join("\n") });
}

async function runHooks(suite, key) {
  for (const hook of suite[key]) {
    try {
      await callFn(hook, undefined);
    } catch (error) {
      const where = suite.name === "" ? "file" : suite.fullName;
      record({ name: `${where}: ${key} hook`, status: "fail", error: describeError(error) });
      return false;
    }
  }
  return true;
}

// runsSomething: some test below `node` will run (not skipped, not excluded). A suite where nothing runs runs no
// hooks either: an excluded test's before hook may need exactly what this runtime lacks (a server to listen).
function runsSomething(node) {
  if (node.options.skip || node.options.todo) return false;
  if (node instanceof Suite) return node.children.some(runsSomething);
  return exclusionOf(node.fullName) === undefined;
}

async function runSuite(suite, inheritedSkip) {
  const skip = inheritedSkip ?? (suite.options.skip ? "skip" : suite.options.todo ? "todo" : undefined);
  if (skip === undefined && !runsSomething(suite)) {
    for (const child of suite.children) await (child instanceof Suite ? runSuite(child, "skip") : runTest(child, "skip"));
    return;
  }
  // A failing before hook fails every test below it, as in node:test.
  const ready = skip !== undefined || (await runHooks(suite, "before"));
  const run = (child) =>
    !ready
      ? failAll(child, `${suite.fullName || "file"}: before hook failed`)
      : child instanceof Suite
        ? runSuite(child, skip)
        : runTest(child, skip);
  if (suite.options.concurrency === true) await Promise.all(suite.children.map(run));
  else for (const child of suite.children) await run(child);
  if (skip === undefined) await runHooks(suite, "after");
}

async function failAll(node, reason) {
  if (node instanceof Suite) for (const child of node.children) await failAll(child, reason);
  else record({ name: node.fullName, status: "fail", error: reason });
}

function onStray(kind) {
  return (error) => stray.push(`${kind}: ${describeError(error)}`);
}

function listenForStrayErrors() {
  const proc = globalThis.process;
  if (proc !== undefined && typeof proc.on === "function" && typeof globalThis.window === "undefined") {
    const rejection = onStray("unhandled rejection");
    const exception = onStray("uncaught exception");
    proc.on("unhandledRejection", rejection);
    proc.on("uncaughtException", exception);
    return () => {
      proc.off("unhandledRejection", rejection);
      proc.off("uncaughtException", exception);
    };
  }
  const onRejection = (event) => {
    event.preventDefault();
    stray.push(`unhandled rejection: ${describeError(event.reason)}`);
  };
  const onError = (event) => {
    event.preventDefault();
    stray.push(`uncaught exception: ${describeError(event.error ?? event.message)}`);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  return () => {
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
  };
}

/**
 * run runs every registered test, one by one (a suite with `concurrency: true` runs its children at once), prints
 * the results and returns the summary `{ tests, pass, fail, skip, excluded, unmatchedExclusions, ms }`; it also
 * prints that summary as the last line, prefixed `#runtimes-summary`.
 */
export async function run() {
  if (started) throw new Error("run: already started");
  started = true;
  const stop = listenForStrayErrors();
  const t0 = now();
  try {
    await runSuite(root, undefined);
    // Give rejections from the last test's leftovers a turn to surface before the verdict.
    await new Promise((resolve) => realSetTimeout(resolve, 0));
  } finally {
    stop();
  }
  for (const s of stray) record({ name: "file: error outside any test", status: "fail", error: s });
  const count = (status) => results.filter((r) => r.status === status).length;
  const summary = {
    tests: results.length,
    pass: count("pass"),
    fail: count("fail"),
    skip: count("skip"),
    excluded: results.filter((r) => r.status === "skip" && r.reason.startsWith("excluded:")).length,
    unmatchedExclusions: exclusions.filter((e) => !excluded.has(e)).map((e) => String(e.test)),
    ms: Math.round(now() - t0),
  };
  print(`${SUMMARY} ${JSON.stringify(summary)}`);
  return summary;
}
