/**
 * The demo that `npm start` runs (dist/tools/demo.js), as a person would run it: a child process
 * with the toolchain's environment. It must succeed, print a readable summary (companies, maps and
 * their states, rows per company), show a preview without changes, keep every business row on
 * destroy, and leave nothing behind: the emulator's port is closed and no process of the demo's
 * session (the Pulumi CLI, the dynamic-provider plugin in its own process group) is still running.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { expect } from "chai";
import { loadToolchain } from "../../tools/toolchain";

/** Result of one demo run. */
interface DemoRun {
  readonly code: number | null;
  readonly output: string;
  /** The demo's session (it runs as a session leader), to look for leftovers. */
  readonly session: number;
}

function runDemo(args: readonly string[] = []): Promise<DemoRun> {
  const toolchain = loadToolchain();
  const script = path.join(toolchain.repoRoot, "dist", "tools", "demo.js");
  return new Promise((resolve, reject) => {
    // A new session (detached = setsid): whatever it starts stays in it, even the provider plugin,
    // which the CLI puts in a process group of its own.
    const child = spawn(process.execPath, [script, ...args], {
      cwd: toolchain.repoRoot,
      env: { ...process.env, ...toolchain.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output, session: child.pid ?? -1 }));
  });
}

/** Command lines of the live processes of a session (Linux `/proc`). */
function processesOfSession(session: number): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      // "pid (comm) state ppid pgrp session …": comm may hold spaces, so read after its ")".
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[3]) === session && fields[0] !== "Z") {
        found.push(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim());
      }
    } catch {
      // The process ended meanwhile.
    }
  }
  return found;
}

/** Whether something still accepts connections on 127.0.0.1:<port>. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Text between two `=== ` headings of the demo's output. */
function section(output: string, heading: string): string {
  const start = output.indexOf(`=== ${heading}`);
  if (start === -1) return "";
  const next = output.indexOf("\n=== ", start + 4);
  return output.slice(start, next === -1 ? undefined : next);
}

describe("e2e: the demo (npm start)", function () {
  const hasProc = process.platform === "linux" && fs.existsSync("/proc/self/cmdline");

  it("runs existing-existing end to end, prints a readable summary and leaves nothing running", async function () {
    const run = await runDemo();
    expect(run.code, run.output).to.equal(0);

    expect(run.output).to.include("pulumi up: succeeded");
    const summary = section(run.output, "What dual-write looks like now");
    for (const code of ["DAT", "USMF", "USRT", "DEMF"])
      expect(summary).to.include(`owner team "${code} DW"`);
    for (const map of [
      "accounts - Customers V3",
      "contacts - Customers V3",
      "msdyn_customergroups - Customer groups",
    ]) {
      expect(summary).to.match(
        new RegExp(`${map.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s+Running`),
      );
    }
    // Rows per company: "<company>  <F&O> / <Dataverse> ..." with both sides equal for each table.
    const rowLines = summary
      .split("\n")
      .filter((line) => /^\s+(DAT|USMF|USRT|DEMF)\s+\d+ \/ \d+/.test(line));
    expect(rowLines).to.have.length(4);
    for (const line of rowLines) {
      for (const [, fno, dv] of line.matchAll(/(\d+) \/ (\d+)/g)) expect(fno, line).to.equal(dv);
    }
    expect(run.output).to.include("no changes expected, none found");
    const kept = /Customer rows on both sides: (\d+) before destroy, (\d+) after/.exec(run.output);
    expect(kept, "destroy summary").to.not.equal(null);
    expect(kept?.[2]).to.equal(kept?.[1]);
    expect(run.output).to.include("npm start -- --example new-existing");

    const port = Number(/Emulator at https:\/\/127\.0\.0\.1:(\d+)/.exec(run.output)?.[1]);
    expect(port, "emulator port in the output").to.be.greaterThan(0);
    expect(await listening(port), "the emulator still listens").to.equal(false);
    if (hasProc)
      expect(processesOfSession(run.session), "processes left running").to.deep.equal([]);
  });

  it("runs another example with --example", async function () {
    const run = await runDemo(["--example", "new-new"]);
    expect(run.code, run.output).to.equal(0);
    expect(run.output).to.include("examples/new-new against the local emulator");
    expect(section(run.output, "What dual-write looks like now")).to.include("legal entities: DAT");
    expect(run.output).to.include("no changes expected, none found");
  });

  it("refuses an unknown example with the list of the valid ones", async function () {
    const run = await runDemo(["--example", "old-old"]);
    expect(run.code).to.equal(1);
    expect(run.output).to.include(
      '--example needs one of new-new, new-existing, new-data-new, new-data-existing, existing-new, existing-existing (got "old-old")',
    );
  });
});
