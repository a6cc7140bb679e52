/**
 * Runs `pulumi-dualwrite` as a person does — `node bin/pulumi-dualwrite.js <command> …` in a
 * child process, settings in environment variables only — against an in-process emulator, and
 * checks two things of every run: only GET requests reached the services (token requests to
 * Entra ID aside), and the output holds no secret and no token.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { expect } from "chai";
import type { RequestLogEntry } from "../../emulator/index";
import type { TestEmulator } from "../support/emulator";

/** The repository root (this file runs from dist/test/cli/). */
export const repoRoot = join(__dirname, "..", "..", "..");
const bin = join(repoRoot, "bin", "pulumi-dualwrite.js");

/** What one run gave. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The emulator's log of the requests made during the run. */
  readonly requests: RequestLogEntry[];
}

/**
 * The settings of the emulator's app, its gateway and CA, and the gateway's delegated sign-in
 * as the seeded dual-write administrator, as environment variables.
 */
export function emulatorEnv(emu: TestEmulator): Record<string, string> {
  return {
    AZURE_TENANT_ID: emu.credentials.tenantId,
    AZURE_CLIENT_ID: emu.credentials.clientId,
    AZURE_CLIENT_SECRET: emu.credentials.clientSecret,
    AZURE_AUTHORITY_HOST: emu.url,
    DUALWRITE_GATEWAY_URL: emu.gatewayUrl,
    DUALWRITE_CA_CERTIFICATE_PATH: emu.caCertPath,
    DUALWRITE_GATEWAY_USERNAME: emu.dualWriteAdmin.username,
    DUALWRITE_GATEWAY_PASSWORD: emu.dualWriteAdmin.password,
  };
}

/** Runs the CLI with `args` and only `env` (and PATH) set; checks read-only and no secrets. */
export async function runCli(
  emu: TestEmulator,
  args: readonly string[],
  env: Record<string, string>,
  options: { readonly cwd?: string } = {},
): Promise<CliRun> {
  const mark = await emu.control.lastRequestSeq();
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((done) => child.on("close", done));
  const run = { code, stdout, stderr, requests: await emu.control.requests(mark) };
  expectReadOnly(run.requests);
  expectNoSecrets(`${stdout}\n${stderr}`, [
    emu.credentials.clientSecret,
    emu.dualWriteAdmin.password,
    env.AZURE_CLIENT_SECRET,
    env.DUALWRITE_GATEWAY_PASSWORD,
    env.DUALWRITE_GATEWAY_REFRESH_TOKEN,
  ]);
  return run;
}

/** Only GETs reached the services; Entra ID got token requests (POST) and reads. */
export function expectReadOnly(requests: readonly RequestLogEntry[]): void {
  for (const r of requests) {
    const what = `${r.surface} ${r.method} ${r.path}`;
    if (r.surface === "identity")
      expect(r.method === "GET" || /\/oauth2\/v2\.0\/token$/.test(r.path), what).to.equal(true);
    else expect(r.method, what).to.equal("GET");
  }
}

/** None of `secrets` and no JWT appears in `text`. */
export function expectNoSecrets(text: string, secrets: ReadonlyArray<string | undefined>): void {
  for (const s of secrets)
    if (s) expect(text.includes(s), "a secret in the output").to.equal(false);
  expect(text).not.to.match(/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\./, "a JWT in the output");
}
