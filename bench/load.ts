// The load generators, behind one call. Every server in a run is measured with the same one.
//
// wrk (Debian's `wrk`, C, event loop) when installed: it measures the server, not itself (a bare
// Fastify handler reaches ~20k req/s under wrk here, ~11k under autocannon), and it handles
// gunicorn's sync workers, which close the connection after every response (autocannon counts
// those as errors and its `reconnectRate` drops the responses it should count). autocannon
// (a devDependency, programmatic API) otherwise, or when BENCH_GENERATOR=autocannon.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";

export type Request = { url: string; method?: "GET" | "POST"; headers?: Record<string, string>; body?: string };
export type Load = { connections: number; seconds: number };
export const failures = (r: Result) => Object.values(r.failed).reduce((a, b) => a + b, 0);

/** Latencies in milliseconds; `failed` counts error answers, socket errors and timeouts, by kind. */
export type Result = {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  failed: Record<string, number>;
};
export type Generator = { name: string; describe: string; run(req: Request, load: Load): Promise<Result> };

const hasWrk = () => spawnSync("wrk", ["-v"], { stdio: "ignore" }).error === undefined;

export function pickGenerator(wanted = process.env.BENCH_GENERATOR): Generator {
  if (wanted && wanted !== "wrk" && wanted !== "autocannon")
    throw new Error(`BENCH_GENERATOR must be "wrk" or "autocannon", not "${wanted}"`);
  if (wanted === "wrk" && !hasWrk())
    throw new Error("BENCH_GENERATOR=wrk but wrk is not installed (apt-get install -y wrk)");
  return wanted === "autocannon" || !hasWrk() ? autocannonGenerator : wrkGenerator;
}

const autocannonGenerator: Generator = {
  name: "autocannon",
  describe: "autocannon 9 (programmatic API, in the bench process)",
  async run(req, load) {
    const r = await autocannon({
      url: req.url,
      method: req.method ?? "GET",
      headers: req.headers,
      body: req.body,
      connections: load.connections,
      duration: load.seconds,
      timeout: 10,
    });
    return {
      requests: r.requests.total,
      seconds: r.duration,
      rps: r.requests.total / r.duration,
      p50: r.latency.p50,
      p99: r.latency.p99,
      failed: { "non-2xx": r.non2xx, socket: r.errors, timeout: r.timeouts },
    };
  },
};

// A Lua string literal that needs no escaping (long brackets).
const lua = (s: string) => {
  if (s.includes("]==]")) throw new Error("value not representable in the wrk script");
  return `[==[${s}]==]`;
};

function wrkScript(req: Request): string {
  const lines = [`wrk.method = ${lua(req.method ?? "GET")}`];
  if (req.body !== undefined) lines.push(`wrk.body = ${lua(req.body)}`);
  for (const [k, v] of Object.entries(req.headers ?? {})) lines.push(`wrk.headers[ ${lua(k)} ] = ${lua(v)}`);
  // Percentiles in microseconds; "status" counts answers >= 400.
  lines.push(
    "done = function(s, latency, requests)",
    "  local e = s.errors",
    '  io.write(string.format("BENCH {\\"requests\\":%d,\\"us\\":%d,\\"p50\\":%d,\\"p99\\":%d,"',
    '    .. "\\"failed\\":{\\"status>=400\\":%d,\\"connect\\":%d,\\"read\\":%d,\\"write\\":%d,\\"timeout\\":%d}}\\n",',
    "    s.requests, s.duration, latency:percentile(50), latency:percentile(99),",
    "    e.status, e.connect, e.read, e.write, e.timeout))",
    "end",
  );
  return `${lines.join("\n")}\n`;
}

const wrkGenerator: Generator = {
  name: "wrk",
  describe: "wrk (1 thread, separate process)",
  async run(req, load) {
    const dir = mkdtempSync(join(tmpdir(), "bench-wrk-"));
    const script = join(dir, "req.lua");
    writeFileSync(script, wrkScript(req));
    try {
      const args = ["-t1", `-c${load.connections}`, `-d${load.seconds}s`, "--timeout", "10s", "-s", script, req.url];
      const out = await new Promise<string>((resolve, reject) => {
        const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
        let text = "";
        child.stdout.on("data", (d: Buffer) => (text += d));
        child.stderr.on("data", (d: Buffer) => (text += d));
        child.on("error", reject);
        child.on("close", (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}: ${text}`))));
      });
      const line = /^BENCH (\{.*\})$/m.exec(out);
      if (!line) throw new Error(`wrk printed no result: ${out}`);
      const r = JSON.parse(line[1]!) as {
        requests: number;
        us: number;
        p50: number;
        p99: number;
        failed: Record<string, number>;
      };
      const seconds = r.us / 1e6;
      return {
        requests: r.requests,
        seconds,
        rps: r.requests / seconds,
        p50: r.p50 / 1000,
        p99: r.p99 / 1000,
        failed: r.failed,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
