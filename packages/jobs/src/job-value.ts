import type { Key } from "@lifeline/core";
import { describe } from "./internal/wire.js";

/**
 * JobValue names a context value that travels with a job: {@link addJob} reads `key` from the producer's ctx
 * and records it under `name`; {@link work} puts it back under `key` in the job's ctx. Make one with
 * {@link jobValue}, share it between producer and worker code (the wire name is what links the two processes).
 */
export interface JobValue<T> {
  /** name is the value's name in the job's header: unique among the values one job carries. */
  readonly name: string;
  /** key is the context key the value is read from and restored to. */
  readonly key: Key<T>;
  /** parse checks a value read back from Redis (it comes from outside); undefined drops it. */
  readonly parse: (raw: unknown) => T | undefined;
}

/**
 * jobValue returns a {@link JobValue}: `ctx.value(key)` travels with a job under `name`. The value must be
 * plain JSON data (strings, finite numbers, booleans, null, arrays and plain objects of them); addJob throws
 * a TypeError for anything else. `parse` sees what the worker read back and returns the value to restore, or
 * undefined to leave the key unset; without it, the value is restored as read (JSON data, not checked against
 * `T`): give `parse` whenever a wrong type would matter.
 *
 * @throws TypeError if `name` is not a non-empty string, `key` is not a Key, or `parse` is not a function.
 */
export function jobValue<T>(name: string, key: Key<T>, parse?: (raw: unknown) => T | undefined): JobValue<T> {
  if (typeof name !== "string" || name === "") throw new TypeError(`jobValue: name must be a non-empty string, got ${describe(name)}`);
  if (!isKey(key)) throw new TypeError(`jobValue: key must be a Key made by createKey, got ${describe(key)}`);
  if (parse !== undefined && typeof parse !== "function") throw new TypeError(`jobValue: parse must be a function, got ${describe(parse)}`);
  return Object.freeze({ name, key, parse: parse ?? ((raw: unknown) => raw as T) });
}

// The core exports Key as a type only: a key made by createKey is an object with a string name.
function isKey(value: unknown): value is Key<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { name?: unknown }).name === "string";
}

/** @internal checkValues validates a `values` option. */
export function checkValues(fn: string, values: unknown): readonly JobValue<unknown>[] {
  if (values === undefined) return [];
  if (!Array.isArray(values)) throw new TypeError(`${fn}: options.values must be an array of jobValue(), got ${describe(values)}`);
  const names = new Set<string>();
  for (const v of values as unknown[]) {
    const ok = typeof v === "object" && v !== null && typeof (v as JobValue<unknown>).name === "string" && isKey((v as JobValue<unknown>).key);
    if (!ok) throw new TypeError(`${fn}: options.values must hold jobValue() results, got ${describe(v)}`);
    const name = (v as JobValue<unknown>).name;
    if (names.has(name)) throw new TypeError(`${fn}: options.values names ${JSON.stringify(name)} twice`);
    names.add(name);
  }
  return values as readonly JobValue<unknown>[];
}
