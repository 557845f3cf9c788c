// The Redis side: our Lua commands (defined once per client, through BullMQ's client interface), the clock
// offset to Redis's TIME, and key names. BullMQ's own keys are `<prefix>:<queue>:<id>` for a job's hash.
import type { RedisClient } from "bullmq";
import { CANCEL_FIELD } from "./wire.js";

const CANCEL = "lifelineJobsCancel";
const PEEK = "lifelineJobsPeek";
const TIME = "lifelineJobsTime";

// KEYS[1] job hash. ARGV: field, record, channel, push message. Returns -1 no such job, 0 already finished,
// 1 recorded and pushed, 2 already cancelled (the first reason stays, as a context keeps its first cause).
const CANCEL_LUA = `
if redis.call("EXISTS", KEYS[1]) == 0 then return -1 end
if redis.call("HEXISTS", KEYS[1], "finishedOn") == 1 then return 0 end
if redis.call("HSETNX", KEYS[1], ARGV[1], ARGV[2]) == 0 then return 2 end
redis.call("PUBLISH", ARGV[3], ARGV[4])
return 1`;

// ARGV[1] field, ARGV[2] key prefix, ARGV[3..] job ids: the cancel field of each job hash (false when absent).
// Keys built in the script, as BullMQ's own extendLocks does.
const PEEK_LUA = `
local out = {}
for i = 3, #ARGV do out[#out + 1] = redis.call("HGET", ARGV[2] .. ARGV[i], ARGV[1]) end
return out`;

const TIME_LUA = `return redis.call("TIME")`;

const defined = new WeakSet<object>();

function define(client: RedisClient): void {
  if (defined.has(client)) return;
  client.defineCommand(CANCEL, { numberOfKeys: 1, lua: CANCEL_LUA });
  client.defineCommand(PEEK, { numberOfKeys: 0, lua: PEEK_LUA, readOnly: true });
  client.defineCommand(TIME, { numberOfKeys: 0, lua: TIME_LUA, readOnly: true });
  defined.add(client);
}

/** @internal recordCancel runs the cancel script: -1 no such job, 0 finished, 1 recorded, 2 already cancelled. */
export async function recordCancel(
  client: RedisClient,
  jobKey: string,
  record: string,
  channel: string,
  message: string,
): Promise<number> {
  define(client);
  return Number(await client.runCommand(CANCEL, [jobKey, CANCEL_FIELD, record, channel, message]));
}

/** @internal peekCancels returns the stored cancel record of each job (null where there is none). */
export async function peekCancels(client: RedisClient, keyPrefix: string, ids: readonly string[]): Promise<(string | null)[]> {
  define(client);
  const out = (await client.runCommand(PEEK, [CANCEL_FIELD, keyPrefix, ...ids])) as unknown;
  if (!Array.isArray(out)) return ids.map(() => null);
  return ids.map((_, i) => (typeof out[i] === "string" ? (out[i] as string) : null));
}

interface Offset {
  ms: number;
  at: number;
}
const offsets = new WeakMap<object, Offset>();
const REFRESH_MS = 60_000;

/**
 * @internal redisOffset returns Redis's clock minus ours (ms), measured with TIME and cached per client for a
 * minute. Deadlines travel in Redis's clock, so a producer and a worker on machines whose clocks disagree
 * still agree on when a job's deadline is: each converts through the one clock they share.
 */
export async function redisOffset(client: RedisClient): Promise<number> {
  const cached = offsets.get(client);
  if (cached !== undefined && Date.now() - cached.at < REFRESH_MS) return cached.ms;
  define(client);
  const t0 = Date.now();
  const reply = (await client.runCommand(TIME, [])) as unknown;
  const t1 = Date.now();
  if (!Array.isArray(reply) || reply.length < 2) throw new Error(`unexpected reply to TIME: ${String(reply)}`);
  const redisMs = Number(reply[0]) * 1000 + Number(reply[1]) / 1000;
  const ms = redisMs - (t0 + t1) / 2;
  offsets.set(client, { ms, at: t1 });
  return ms;
}

/** @internal cancelChannel is the pub/sub channel of a queue's cancel pushes. */
export function cancelChannel(qualifiedName: string): string {
  return `${qualifiedName}:lifeline-cancel`;
}
