// `node bin/portcullis.js <command>` as an operator runs it: a child process with a clean
// environment (nothing from the developer's shell leaks into the settings).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const BIN = fileURLToPath(new URL("../../bin/portcullis.js", import.meta.url));

export type CliRun = { code: number | null; stdout: string; stderr: string };

export function cliEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: "warn", ...extra };
}

/** Runs one command to completion (killed after `timeout` ms so a hang fails the test instead of the run). */
export function runCli(args: string[], env: Record<string, string>, cwd: string, timeout = 45_000): Promise<CliRun> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: cliEnv(env), stdio: ["ignore", "pipe", "pipe"] });
  const guard = setTimeout(() => child.kill("SIGKILL"), timeout);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += c));
  child.stderr.on("data", (c) => (stderr += c));
  return new Promise<CliRun>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  }).finally(() => clearTimeout(guard));
}
