// Several real `portcullis serve` processes, as an operator runs them behind a load balancer: each
// on a port picked here (freePort), set up through the environment only, and ready once /healthz
// answers 200 (a start takes 10–25 s on a loaded machine: up to 60 s is allowed). Requests go over
// a fresh connection each (no keep-alive), so behind `serve --workers N` each one may land on any
// worker, as requests from many clients would.
import { type ChildProcess, spawn } from "node:child_process";
import { request } from "node:http";
import { fileURLToPath } from "node:url";
import { freePort } from "./net.ts";

const BIN = fileURLToPath(new URL("../../bin/portcullis.js", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type Answer = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
};

export type Instance = {
  url: string;
  /** Everything the process printed so far (stdout and stderr, interleaved). */
  output(): string;
  /** SIGTERM (SIGKILL after 10 s); resolves with the exit code. */
  stop(): Promise<number | null>;
};

// A test runner that dies leaves no server behind.
const live = new Set<ChildProcess>();
process.once("exit", () => live.forEach((child) => child.kill("SIGKILL")));

/** Only what the test sets: nothing from the developer's shell leaks into the settings. */
const cleanEnv = (env: Record<string, string>) => ({
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  HOST: "127.0.0.1",
  ...env,
});

/** `node <argv>` (the CLI's, or a script's through tsx) from the repo's root. */
function launch(args: string[], env: Record<string, string>, argv = [BIN, ...args]) {
  const child = spawn(process.execPath, argv, { cwd: ROOT, env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  child.on("error", (e) => (output += `spawn failed: ${e.message}\n`));
  let code: number | null | undefined; // undefined while running
  const exited = new Promise<number | null>((resolve) =>
    child.on("close", (c, signal) => {
      live.delete(child);
      resolve((code = c ?? (signal ? -1 : null)));
    }),
  );
  return { child, exited, output: () => output, running: () => code === undefined };
}

/**
 * `portcullis serve [args]` on a free port; resolves once /healthz answers 200 and `ready` (given
 * the output so far) agrees, e.g. once every worker has said it listens.
 */
export async function startInstance(
  env: Record<string, string>,
  args: string[] = [],
  opts: { ready?: (output: string) => boolean; timeoutMs?: number } = {},
): Promise<Instance> {
  const port = await freePort();
  const p = launch(["serve", ...args], { ...env, PORT: String(port) });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (!p.running())
      throw new Error(`serve ${args.join(" ")} exited (${await p.exited}) before it was ready:\n${p.output()}`);
    const health = await call(url, "GET", "/healthz").catch(() => null);
    if (health?.status === 200 && (opts.ready?.(p.output()) ?? true)) break;
    if (Date.now() > deadline) {
      p.child.kill("SIGKILL");
      throw new Error(`serve ${args.join(" ")} was not ready within ${opts.timeoutMs ?? 60_000} ms:\n${p.output()}`);
    }
    await sleep(100);
  }
  return {
    url,
    output: p.output,
    stop: () => stopped(p),
  };
}

/**
 * `node --import tsx <script>` (a path from the repo's root), as a user runs an example, on a free
 * PORT; resolves once it printed "listening on <url>" (that url).
 */
export async function startScript(script: string, env: Record<string, string>, timeoutMs = 60_000): Promise<Instance> {
  const port = await freePort();
  const p = launch([], { ...env, PORT: String(port) }, ["--import", "tsx", script]);
  const deadline = Date.now() + timeoutMs;
  const listening = () => /listening on (http:\/\/\S+)/.exec(p.output())?.[1];
  for (let url = listening(); ; url = listening()) {
    if (url) return { url, output: p.output, stop: () => stopped(p) };
    if (!p.running()) throw new Error(`${script} exited (${await p.exited}) before it listened:\n${p.output()}`);
    if (Date.now() > deadline) {
      p.child.kill("SIGKILL");
      throw new Error(`${script} did not listen within ${timeoutMs} ms:\n${p.output()}`);
    }
    await sleep(100);
  }
}

async function stopped(p: ReturnType<typeof launch>): Promise<number | null> {
  if (!p.running()) return p.exited;
  const guard = setTimeout(() => p.child.kill("SIGKILL"), 10_000);
  p.child.kill("SIGTERM");
  const code = await p.exited;
  clearTimeout(guard);
  return code;
}

/** A command run to its end (SIGKILLed after `timeoutMs`): its exit code and output. */
export async function runCommand(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<{ code: number | null; output: string }> {
  const p = launch(args, env);
  const guard = setTimeout(() => p.child.kill("SIGKILL"), timeoutMs);
  const code = await p.exited;
  clearTimeout(guard);
  return { code, output: p.output() };
}

/** One HTTP request over a connection of its own; a JSON body is serialised for you. */
export function call(
  base: string,
  method: string,
  path: string,
  init: { headers?: Record<string, string>; json?: unknown } = {},
): Promise<Answer> {
  const body = init.json === undefined ? undefined : JSON.stringify(init.json);
  const headers = { ...(body === undefined ? {} : { "content-type": "application/json" }), ...init.headers };
  return new Promise((resolve, reject) => {
    const req = request(base + path, { method, headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("error", reject);
      res.on("end", () => {
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, json });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}
