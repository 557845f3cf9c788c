// The process groups of children that have not been waited for, killed when this process exits.
import { readdirSync, readFileSync } from "node:fs";

const live = new Set<number>();
let hooked = false;

/** killGroup sends `signal` to process group `pgid`; it returns false when no process is left in the group. */
export function killGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    // EPERM: a member we may not signal (it changed user); the group is still there.
    return true;
  }
}

const LINUX = process.platform === "linux";

/**
 * groupAlive reports whether anything in group `pgid` still runs. A killed member stays a zombie until its
 * parent (init, for an orphan) reaps it, and a zombie still takes signals: on Linux, /proc tells them apart.
 */
export function groupAlive(pgid: number): boolean {
  if (!killGroup(pgid, 0)) return false;
  if (!LINUX) return true;
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return true;
  }
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "latin1");
    } catch {
      continue; // it exited while we looked
    }
    // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses, so read after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ", 3);
    if (Number(rest[2]) === pgid && rest[0] !== "Z" && rest[0] !== "X") return true;
  }
  return false;
}

/** track remembers a group until untrack, and kills it (SIGKILL) if this process exits first. */
export function track(pgid: number): void {
  live.add(pgid);
  if (!hooked) {
    hooked = true;
    // An 'exit' listener changes nothing about how the process dies; it runs on a normal exit and on
    // process.exit(), not when a signal's default action kills us (then notifyContext's ctx stops the children).
    process.on("exit", () => {
      for (const g of live) killGroup(g, "SIGKILL");
    });
  }
}

export function untrack(pgid: number): void {
  live.delete(pgid);
}
