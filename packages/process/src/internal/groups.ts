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

/** liveInGroup returns stat's pgrp when the process is alive (not a zombie), else undefined. */
function liveInGroup(stat: string): number | undefined {
  // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses, so read after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ", 3);
  return rest[0] === "Z" || rest[0] === "X" ? undefined : Number(rest[2]);
}

/**
 * groupMembers returns the pids of the live (not zombie) processes in group `pgid`, from /proc (Linux), or
 * undefined where there is no /proc. A killed member stays a zombie until its parent (init, for an orphan)
 * reaps it, and a zombie still takes signals: only /proc tells it apart. This reads every /proc/<pid>/stat.
 */
export function groupMembers(pgid: number): number[] | undefined {
  if (!LINUX) return undefined;
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return undefined;
  }
  const out: number[] = [];
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    try {
      if (liveInGroup(readFileSync(`/proc/${name}/stat`, "latin1")) === pgid) out.push(Number(name));
    } catch {
      // it exited while we looked
    }
  }
  return out;
}

/** anyAlive reports whether one of `pids` is still a live (not zombie) member of group `pgid`. */
export function anyAlive(pids: readonly number[], pgid: number): boolean {
  for (const pid of pids) {
    try {
      if (liveInGroup(readFileSync(`/proc/${pid}/stat`, "latin1")) === pgid) return true;
    } catch {
      // gone
    }
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
