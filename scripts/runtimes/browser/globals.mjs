/* global MessageChannel -- a browser (and Node) global */
// Node's globals in the browser bundle of the core's tests (esbuild `inject`: it replaces the bare identifiers
// `process`, `setImmediate` and `clearImmediate` in the bundled test code and in @lifeline/testing).
//
// `globalThis.process`, which the core itself reads, stays undefined, as in any browser. What a page can honestly offer: an empty env, and the "warning" event that
// emitWarning delivers. What it cannot (execPath, active resources) throws a NodeOnlyError, so a test that needs
// it fails loudly unless scripts/runtimes/exclusions.mjs lists it.
import { nodeOnly } from "./node-only.mjs";

const listeners = new Map();

function on(event, listener) {
  if (!listeners.has(event)) listeners.set(event, []);
  listeners.get(event).push(listener);
  return process;
}

function off(event, listener) {
  const list = listeners.get(event) ?? [];
  const i = list.lastIndexOf(listener);
  if (i !== -1) list.splice(i, 1);
  return process;
}

function emit(event, ...args) {
  const list = [...(listeners.get(event) ?? [])];
  for (const listener of list) listener(...args);
  return list.length > 0;
}

// Node emits a warning on a later tick, to "warning" listeners, and prints it when nobody listens.
function emitWarning(warning, type = "Warning", code) {
  const error = typeof warning === "string" ? Object.assign(new Error(warning), { name: type }) : warning;
  if (code !== undefined) error.code = code;
  setTimeout(() => {
    if (!emit("warning", error)) console.warn(`(browser process shim) ${error.name}: ${error.message}`);
  }, 0);
}

export const process = {
  env: {},
  platform: "browser",
  on,
  addListener: on,
  off,
  removeListener: off,
  emit,
  emitWarning,
  get execPath() {
    return nodeOnly("process.execPath")();
  },
  getActiveResourcesInfo: nodeOnly("process.getActiveResourcesInfo"),
};

// import.meta.resolve in the bundle (esbuild `define`): a page has no module resolution for bare names, and the only
// user, the tests' support module, wants the core's URL for child processes, which a page cannot start anyway.
export function importMetaResolve(specifier) {
  return `browser-bundle:${specifier}`;
}

// setImmediate runs `fn` on a later macrotask (a MessageChannel message, which, unlike setTimeout(0), is not
// clamped to 4 ms), after every queued microtask, as Node's does. The handle's ref()/unref() do nothing: a page has
// no event loop to keep alive. @lifeline/testing reads `globalThis.setImmediate`, so it is installed there too;
// the core never uses it, so the core sees the browser as it is.
export function setImmediate(fn, ...args) {
  const { port1, port2 } = new MessageChannel();
  const handle = {
    cleared: false,
    ref: () => handle,
    unref: () => handle,
    hasRef: () => false,
  };
  port1.onmessage = () => {
    port1.close();
    if (!handle.cleared) fn(...args);
  };
  port2.postMessage(undefined);
  return handle;
}

export function clearImmediate(handle) {
  if (handle !== undefined && handle !== null) handle.cleared = true;
}

globalThis.setImmediate ??= setImmediate;
globalThis.clearImmediate ??= clearImmediate;
