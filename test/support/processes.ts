/**
 * Process trees of the end-to-end tests: a `pulumi up` run in a child process (`upInChild.ts`)
 * starts the CLI, which starts its plugins (the dynamic-provider host among them) in process
 * groups of their own. These helpers find them in `/proc` and stop them as a crash, a closed
 * laptop or a person pressing Ctrl-C would. Linux only, as the e2e tier is.
 */
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";

/** One process, as `/proc/<pid>` shows it. */
export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  /** The executable's short name (`/proc/<pid>/comm`), e.g. `pulumi`, `node`. */
  readonly comm: string;
  /** The command line, arguments joined by spaces. */
  readonly cmdline: string;
}

/** Every process of the machine (those that end while being read are left out). */
export function processes(): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const comm = fs.readFileSync(`/proc/${entry}/comm`, "utf8").trim();
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ");
      found.push({ pid: Number(entry), ppid, comm, cmdline: cmdline.trim() });
    } catch {
      // ended meanwhile
    }
  }
  return found;
}

/** The descendants of `root` (children, grandchildren, …). */
export function descendantsOf(root: number): ProcessInfo[] {
  const all = processes();
  const children = new Map<number, ProcessInfo[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const found: ProcessInfo[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift() ?? -1) ?? []) {
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}

/** Whether a process exists (zombies included, until they are reaped). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether a process is gone or a zombie (ended, not reaped yet by its parent). */
export function ended(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

/**
 * SIGKILLs a child started with `detached: true` (its own process group) and every process it
 * started, including those in process groups of their own (the CLI puts plugins in new groups).
 */
export async function killTree(child: ChildProcess): Promise<void> {
  const pid = child.pid ?? -1;
  const tree = descendantsOf(pid).map((p) => p.pid);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  for (const target of [-pid, pid, ...tree]) {
    try {
      process.kill(target, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await exited;
}

/** Waits until `condition` holds, polling every 100 ms; throws with `what` after `timeoutMs`. */
export async function waitUntil(
  what: string,
  condition: () => Promise<boolean> | boolean,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
