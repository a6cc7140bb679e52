/**
 * Peak memory of the dynamic-provider process: the Node process that the Pulumi CLI starts to
 * serve dynamic resources (`@pulumi/pulumi/cmd/dynamic-provider`), a descendant of this one.
 * Linux only: it reads /proc.
 */
import { readdirSync, readFileSync } from "node:fs";

/** The ids of every process below `root` (children, their children, …). */
export function descendantsOf(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // Field 4 is the parent id; the command name (field 2) may hold spaces, so split after ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parentOf.set(Number(name), ppid);
    } catch {
      // The process ended meanwhile.
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [pid, ppid] of parentOf) {
      if (ppid === parent && !out.includes(pid)) {
        out.push(pid);
        queue.push(pid);
      }
    }
  }
  return out;
}

/** `VmHWM` (peak resident set) of a process in bytes, or undefined when it is gone. */
function peakRss(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

function isDynamicProvider(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("dynamic-provider");
  } catch {
    return false;
  }
}

/**
 * Samples the peak resident set of every dynamic-provider process below this one every
 * `everyMs`, until {@link stop}; the peak is the process's own high-water mark (`VmHWM`), so a
 * spike between two samples is not missed as long as the process is sampled once before it ends.
 */
export class ProviderMemory {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(everyMs = 50) {
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  private sample(): void {
    for (const pid of descendantsOf(process.pid)) {
      if (!isDynamicProvider(pid)) continue;
      this.peak = Math.max(this.peak, peakRss(pid) ?? 0);
    }
  }

  /** Stops sampling; the highest peak seen, in bytes (0 when no provider process was seen). */
  stop(): number {
    clearInterval(this.timer);
    return this.peak;
  }
}
