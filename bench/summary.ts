// The generated section: facts about the run, the results, the figures against their targets,
// and how they were measured.
import { availableParallelism, cpus, loadavg } from "node:os";
import type { Argon2Cost } from "./argon2.ts";
import type { Generator, Result } from "./load.ts";
import type { Memory } from "./proc.ts";
import { type Check, ms, type Row, resultsTable, rpsOf, targetsTable } from "./report.ts";

export type Facts = {
  startedAt: Date;
  loadAtStart: number[];
  command: string;
  generator: Generator;
  pgVersion: string;
  djoser: { missing: string } | { versions: string };
  clusterNote: string;
  redisNote: string;
  workers: number;
  argon2: Argon2Cost;
  memory: Memory | null;
  connections: number;
  half: number;
  short: number;
};

type Figure = Pick<Check, "value" | "halves">;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function checks(rows: Map<string, Row>, f: Facts): { targets: Check[]; other: [string, Figure][] } {
  const ratio = (a: string, b: string): Figure => {
    const [x, y] = [rows.get(a), rows.get(b)];
    return x && y
      ? { value: rpsOf(x.halves) / rpsOf(y.halves), halves: x.halves.map((h, i) => h.rps / y.halves[i]!.rps) }
      : { value: null };
  };
  const per = (id: string, pick: (r: Result) => number, over = 1): Figure => {
    const x = rows.get(id);
    return x
      ? { value: mean(x.halves.map(pick)) / over, halves: x.halves.map((h) => pick(h) / over) }
      : { value: null };
  };
  const noDjoser = "missing" in f.djoser ? "Djoser not installed" : undefined;
  const { verifyMs, perSecond16 } = f.argon2;
  const targets: Check[] = [
    {
      name: "/me `Token`: Portcullis ÷ Djoser",
      ...ratio("p.token", "d.token"),
      unit: "×",
      op: ">=",
      bound: 15,
      why: noDjoser,
    },
    { name: "/me JWT: Portcullis ÷ Djoser", ...ratio("p.jwt", "d.jwt"), unit: "×", op: ">=", bound: 20, why: noDjoser },
    { name: "tRPC users.me ÷ REST /me (`Token`)", ...ratio("p.trpc", "p.token"), unit: "×", op: ">=", bound: 0.8 },
    { name: "/me `Token`: Portcullis ÷ ceiling", ...ratio("p.token", "c.me"), unit: "×", op: ">=", bound: 0.5 },
    { name: "/me JWT: Portcullis ÷ ceiling", ...ratio("p.jwt", "c.me"), unit: "×", op: ">=", bound: 0.5 },
    {
      name: `login p50, one at a time ÷ one argon2id verify (${ms(verifyMs)} ms)`,
      ...per("p.login1", (r) => r.p50, verifyMs),
      unit: "×",
      op: "<=",
      bound: 1.1,
    },
    {
      name: `logins/s at 16 connections ÷ argon2id verifies/s, 16 in flight (${Math.round(perSecond16)}/s)`,
      ...per("p.login", (r) => r.rps, perSecond16),
      unit: "×",
      op: ">=",
      bound: 0.9,
    },
    { name: "/me `Token` p99 while 16 logins run", ...per("p.mixed", (r) => r.p99), unit: "ms", op: "<", bound: 10 },
    {
      name: "Portcullis peak RSS (VmHWM, its process tree)",
      value: f.memory?.peakMb ?? null,
      unit: "MB",
      op: "<",
      bound: 200,
    },
    {
      name: `/me \`Token\`: \`--workers ${f.workers}\` ÷ one process`,
      ...ratio("p2.token", "p.token"),
      unit: "×",
      op: ">=",
      bound: 1.7,
      why: rows.has("p2.token") ? undefined : "no `--workers` yet",
    },
  ];
  const other: [string, Figure][] = [
    ["login: Portcullis ÷ Djoser", ratio("p.login", "d.login")],
    ["refresh: Portcullis ÷ Djoser", ratio("p.refresh", "d.refresh")],
    ["batched tRPC users.me ×2 ÷ REST /me (requests)", ratio("p.batch", "p.token")],
    ["/me while logins run ÷ /me alone, Portcullis", ratio("p.mixed", "p.token")],
    ["the same, Djoser", ratio("d.mixed", "d.token")],
  ];
  return { targets, other };
}

export function summary(rows: Map<string, Row>, f: Facts): string {
  const { targets, other } = checks(rows, f);
  const otherText = other
    .filter(([, r]) => r.value !== null)
    .map(([name, r]) => `${name} **${r.value!.toFixed(2)}** (halves ${r.halves!.map((h) => h.toFixed(2)).join(" · ")})`)
    .join("; ");
  const cores = availableParallelism();
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(" ");
  const busy =
    f.loadAtStart[0]! > cores
      ? `\n\n**The machine was busy** (load average ${f.loadAtStart[0]!.toFixed(1)} on ${cores} cores at the ` +
        "start): absolute figures are low and ratios noisy; re-run when it is idle."
      : "";
  const djoser =
    "missing" in f.djoser ? `**not measured**: ${f.djoser.missing}` : `${f.djoser.versions}; 2 sync workers, SQLite`;
  const mem = f.memory
    ? `${f.memory.rssMb} MB resident over ${f.memory.processes} process(es) ` +
      `(node alone ${f.memory.mainRssMb} MB, its peak ${f.memory.mainPeakMb} MB)`
    : "–";
  const why =
    f.generator.name === "wrk"
      ? "wrk rather than autocannon: autocannon tops out near the bare handler's rate on this machine (so " +
        "Portcullis ÷ ceiling would flatter Portcullis) and counts gunicorn's closed-after-each-response " +
        "connections as errors; wrk reconnects and counts responses."
      : "autocannon (wrk is not installed): its own limit here is near the bare handler's rate, so Portcullis ÷ " +
        "ceiling flatters Portcullis, and against gunicorn's sync workers it counts closed connections as " +
        "failures. `apt-get install -y wrk` for honest figures.";
  return `## \`npm run bench\` — ${f.startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC

\`${f.command}\` · ${cores} cores (\`nproc\`; ${cpus()[0]?.model ?? "unknown CPU"}), load average
${load(f.loadAtStart)} at the start, ${load(loadavg())} at the end · Node ${process.version}, PostgreSQL
${f.pgVersion} · ${f.generator.describe}, ${f.connections} connections · ${f.redisNote} · Djoser: ${djoser} ·
${f.clusterNote}.${busy}

Each row: a 1 s warm-up (3 s for the workers), then two halves of ${f.half} s (${f.short} s for the one-at-a-time
login), in the order listed and then in reverse (A B C … C B A) so that drift hits every server alike; "both" is
requests ÷ seconds over both halves; a ratio's halves divide figures of the same pass.

${resultsTable([...rows.values()])}

${targetsTable(targets)}

Other ratios: ${otherText || "–"}.

argon2id at Portcullis's parameters (m=19456 KiB, t=2, p=1), @node-rs/argon2 in the bench process, median of 11: hash
${ms(f.argon2.hashMs)} ms, verify ${ms(f.argon2.verifyMs)} ms; ${Math.round(f.argon2.perSecond16)} verifies/s with 16
in flight. Portcullis at the end: ${mem}.

How: every server is a child process. Portcullis: \`node bin/portcullis.js serve\`, \`NODE_ENV=production\` (so
\`ALLOWED_HOSTS=["127.0.0.1"]\`, \`EMAIL_BACKEND=file\`), \`LOG_LEVEL=warn\`, JWT settings at their defaults
(\`Bearer\`, no rotation), throttling off (\`DEFAULT_THROTTLE_RATES={}\`); every other setting at its default. The
ceiling: \`bench/ceiling.ts\`, a bare Fastify handler sending /me's body and headers. Djoser: its folder's
\`WORKERS=2 ./run.sh PORT ref gunicorn\` (it accepts \`Bearer\` as well as \`JWT\`: both servers get the same
headers), on a temporary copy whose settings turn refresh rotation off (Portcullis's default), so one refresh token
serves a whole row. ${why} The login target: a login's p50 with nothing else running against one argon2id verify;
under load, logins/s against the machine's verify throughput. RSS: VmRSS summed over the server's processes at the
end of its row; peak: VmHWM summed.`;
}
