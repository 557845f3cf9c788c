// node:timers/promises for the browser bundle: the promise forms of setImmediate (globals.mjs) and setTimeout.
import { setImmediate as immediate } from "./globals.mjs";

export function setImmediate(value) {
  return new Promise((resolve) => immediate(resolve, value));
}

export function setTimeout(ms, value) {
  return new Promise((resolve) => globalThis.setTimeout(resolve, ms, value));
}
