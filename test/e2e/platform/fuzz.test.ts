// Property-based fuzzing of both adapters over PostgreSQL: every REST path under /auth/ and every
// tRPC procedure, found at run time, gets generated requests (random methods, paths, headers,
// content types and bodies, a live credential half of the time). No answer may be a 5xx, nothing
// may reject unhandled, and every answer keeps its adapter's shape.
//
// FUZZ_RUNS: requests per endpoint (default 10,000). FUZZ_BUDGET_S: wall-clock budget for sending
// them (0 = none, the default under CI=true, where all 10,000 per endpoint are sent: about half an
// hour here; 190 s otherwise, so a local `npm test` stays short); when it runs out, every
// endpoint has had the same share. FUZZ_SEED replays the generated requests. The first request of each kind of
// failure is shrunk by fast-check and printed; repeats are counted.

import http from "node:http";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { checkRest, checkTrpc, newTally, type Tally, table } from "../../helpers/fuzz/checks.ts";
import { type Endpoint, restEndpoints, type TrpcEndpoint, trpcEndpoints } from "../../helpers/fuzz/endpoints.ts";
import { FUZZ_ORIGIN, type RestSpec, restSpecArb, type TrpcSpec, trpcSpecArb } from "../../helpers/fuzz/requests.ts";
import { batchSize, buildRest, buildTrpc, send, type Wire } from "../../helpers/fuzz/wire.ts";
import { startTestServer, type TestServer } from "../../helpers/server.ts";
import { heal, identitiesOn, identityFor, probe, resolver } from "./fuzz-identities.ts";

// The server's own account of each 5xx: every error an adapter turns into a 500 or 503 goes
// through classifyError, so a client-side 500 can be named by its server-side cause.
const serverErrors = vi.hoisted(() => [] as { at: number; cause: string }[]);
vi.mock("../../../src/http/classify.ts", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../../src/http/classify.ts")>();
  const causeOf = (e: unknown) => {
    const { name, code, message } = (e ?? {}) as { name?: string; code?: unknown; message?: string };
    const last = String(message ?? e)
      .trim()
      .split("\n")
      .pop()!;
    // Values (URLs, quoted input, numbers) vary from request to request; the kind of error does not.
    const shape = last
      .replace(/[a-z]+:\/\/\S*/gi, "<url>")
      .replace(/"[^"]*"|'[^']*'/g, "…")
      .replace(/\d+/g, "N");
    return `${name ?? typeof e}${typeof code === "string" ? ` ${code}` : ""}: ${shape.slice(0, 160)}`;
  };
  return {
    ...real,
    classifyError(...args: Parameters<typeof real.classifyError>) {
      const known = real.classifyError(...args);
      if (known.status >= 500) serverErrors.push({ at: performance.now(), cause: causeOf(args[0]) });
      if (serverErrors.length > 1_000) serverErrors.splice(0, 500);
      return known;
    },
  };
});

const TARGET = Number(process.env.FUZZ_RUNS ?? 10_000);
const BUDGET_MS = Number(process.env.FUZZ_BUDGET_S ?? (process.env.CI ? 0 : 190)) * 1_000;
// The run happens in beforeAll: the budget, plus start-up and shrinking; hours without a budget.
const RUN_TIMEOUT = BUDGET_MS > 0 ? BUDGET_MS + 110_000 : 6 * 3_600_000;
const FLOOR = Math.min(TARGET, 100); // fewer per endpoint means the budget bought too little to mean anything
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const CONCURRENCY = 16;
const CHUNK = 100; // runs per fc.check: endpoints advance together, and a failure stops only its chunk

let s: TestServer;

// ── Running ───────────────────────────────────────────────────────────────────────────────────

const tallies = new Map<Endpoint, Tally>();
/** Each kind of failure is claimed by the chunk that meets it first, which shrinks it; repeats are only counted. */
const claimed = new Map<string, number>();
const reports = new Map<string, string>();
const affected = new Map<string, Set<string>>();
let unhandled = 0;
const onUnhandled = () => void unhandled++;

class FuzzFailure extends Error {
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

const describeWire = (w: Wire) =>
  `${w.method} ${w.path.slice(0, 300)}\n    headers: ${JSON.stringify(w.headers).slice(0, 600)}\n` +
  `    body (${w.body?.length ?? 0} bytes): ${JSON.stringify((w.body?.toString("utf8") ?? "").slice(0, 400))}`;

/** Sends one generated request and checks the answer; throws on a failure of a kind no other chunk owns. */
async function fire(
  agent: http.Agent,
  base: URL,
  chunk: number,
  ep: Endpoint,
  spec: RestSpec | TrpcSpec,
): Promise<void> {
  const id = await identityFor(ep, spec.role);
  const gen = id.gen;
  const used = new Set<string>();
  const r = resolver(id, spec.seed, used);
  const wire = ep.adapter === "rest" ? buildRest(ep, spec as RestSpec, r) : buildTrpc(ep, spec as TrpcSpec, r);
  const tally = tallies.get(ep)!;
  tally.sent++;
  if (spec.auth?.valid) tally.validAuth++;
  let problem: string | null;
  let status: string;
  try {
    const sentAt = performance.now();
    const answer = await send(agent, base, wire);
    status = String(answer.status);
    problem = ep.adapter === "rest" ? checkRest(wire, answer) : checkTrpc(wire, answer, batchSize(spec as TrpcSpec));
    if (answer.status >= 500) {
      // Name it by the last server-side error logged while it was in flight (16 are: a best guess).
      tally.serverErrors++;
      const cause = serverErrors.findLast((e) => e.at >= sentAt)?.cause ?? "no server-side error recorded";
      problem = `${answer.status} server error: ${cause}`;
    }
    if (problem)
      problem +=
        `\n    answer: ${answer.status} ${answer.headers["content-type"] ?? ""} ` +
        JSON.stringify(answer.body.toString("utf8").slice(0, 300));
    if (spec.auth?.valid && answer.status === 401) await probe(id, gen);
    // The right password went through a mutation: the password or the login name may have changed.
    if (
      used.has("password") &&
      answer.status < 300 &&
      !["GET", "HEAD", "OPTIONS"].includes(wire.method) &&
      gen === id.gen
    )
      await heal(id);
  } catch (e) {
    status = `ERR:${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    problem = `no answer: ${(e as Error).message}`;
  }
  tally.statuses.set(status, (tally.statuses.get(status) ?? 0) + 1);
  if (!problem) return;
  tally.violations++;
  // A kind is the adapter and the problem: each is shrunk once, whichever endpoints show it.
  const kind = `${ep.adapter}: ${problem.split("\n")[0]}`;
  (affected.get(kind) ?? affected.set(kind, new Set()).get(kind)!).add(ep.name);
  if ((claimed.get(kind) ?? chunk) !== chunk) return;
  const message =
    `${kind} (${ep.name})\n    request: ${describeWire(wire)}\n` +
    `    ${problem.split("\n").slice(1).join("\n").trim()}`;
  if (!claimed.has(kind)) reports.set(kind, message);
  claimed.set(kind, chunk);
  throw new FuzzFailure(kind, message);
}

/** TARGET runs per endpoint, in chunks taken round-robin, CONCURRENCY chunks in flight, until the budget runs out. */
async function fuzz(endpoints: Endpoint[], arbOf: (ep: Endpoint) => fc.Arbitrary<RestSpec | TrpcSpec>) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const base = new URL(s.url);
  const deadline = BUDGET_MS > 0 ? Date.now() + BUDGET_MS : Infinity;
  const queue: { ep: Endpoint; runs: number; seed: number }[] = [];
  for (let done = 0, c = 0; done < TARGET; done += CHUNK, c++)
    for (const [i, ep] of endpoints.entries())
      queue.push({ ep, runs: Math.min(CHUNK, TARGET - done), seed: SEED + i * 100_003 + c });
  const arbs = new Map(endpoints.map((ep) => [ep, fc.limitShrink(arbOf(ep), 100)]));
  let chunks = 0;
  const worker = async () => {
    for (let job = queue.shift(); job && Date.now() < deadline; job = queue.shift()) {
      const { ep } = job;
      const chunk = ++chunks;
      const details = await fc.check(
        fc.asyncProperty(arbs.get(ep)!, (spec) => fire(agent, base, chunk, ep, spec)),
        {
          numRuns: job.runs,
          seed: job.seed,
          plugins: deadline < Infinity ? [fc.interruptAfterTimeLimit(Math.max(1, deadline - Date.now()))] : [],
        },
      );
      if (!details.failed) continue;
      const e = details.errorInstance;
      if (!(e instanceof FuzzFailure)) {
        if (details.interrupted) continue; // the budget ran out before this chunk's first run
        throw new Error(`the fuzz suite itself failed: ${fc.defaultReportMessage(details)}`);
      }
      reports.set(e.kind, `${e.message}\n    (shrunk: fc seed ${job.seed}, path ${details.counterexamplePath})`);
      // Whatever this chunk claimed is now only counted; its remaining runs go back in the queue.
      for (const [kind, owner] of claimed) if (owner === chunk) claimed.set(kind, -1);
      if (job.runs > details.numRuns)
        queue.unshift({ ep, runs: job.runs - details.numRuns, seed: job.seed + 7_777_777 });
    }
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  } finally {
    agent.destroy(); // keep-alive sockets would hold the server's close open
  }
}

function report(adapter: Endpoint["adapter"], title: string): Tally {
  const rows = [...tallies].filter(([ep]) => ep.adapter === adapter).map(([ep, t]): [string, Tally] => [ep.name, t]);
  console.log(table(title, rows));
  const total = newTally();
  for (const [, t] of rows)
    [total.sent, total.serverErrors, total.violations] = [
      total.sent + t.sent,
      total.serverErrors + t.serverErrors,
      total.violations + t.violations,
    ];
  return total;
}

const kindsOf = (adapter: Endpoint["adapter"]) => [...reports.keys()].filter((k) => k.startsWith(`${adapter}:`));

describe("fuzz: both adapters over PostgreSQL", () => {
  let endpoints: Endpoint[];
  let seconds = 0;

  beforeAll(async () => {
    process.on("unhandledRejection", onUnhandled);
    process.on("uncaughtException", onUnhandled);
    // Activation mails on (so activation and resend_activation have work to do), and CORS on for one
    // origin (so its preflight route is fuzzed too); cheap hashing so valid logins cost little.
    s = await startTestServer("postgresql", {
      ARGON2: '{"MEMORY_COST":1024,"TIME_COST":1,"PARALLELISM":1}',
      DJOSER_SEND_ACTIVATION_EMAIL: "true",
      CORS_ALLOWED_ORIGINS: JSON.stringify([FUZZ_ORIGIN]),
    });
    await identitiesOn(s);
    endpoints = [...(await restEndpoints(s.url)), ...trpcEndpoints()];
    for (const ep of endpoints) tallies.set(ep, newTally());
    const started = Date.now();
    const procedures = endpoints.filter((e): e is TrpcEndpoint => e.adapter === "trpc");
    await fuzz(endpoints, (ep) => (ep.adapter === "rest" ? restSpecArb(ep) : trpcSpecArb(ep, procedures)));
    seconds = (Date.now() - started) / 1000;
  }, RUN_TIMEOUT);

  afterAll(async () => {
    process.off("unhandledRejection", onUnhandled);
    process.off("uncaughtException", onUnhandled);
    await s?.stop();
  });

  it("reaches every REST path and tRPC procedure the app serves", () => {
    const names = endpoints.map((e) => `${e.adapter} ${e.name}`);
    expect(names).toEqual(
      expect.arrayContaining([
        "rest /auth/",
        "rest /auth/users/{id}/",
        "rest /auth/token/login/",
        "rest /auth/sessions/{id}/",
        "trpc users.create",
        "trpc users.me",
        "trpc audit.list",
      ]),
    );
    for (const [ep, t] of tallies) expect(t.sent, `${ep.adapter} ${ep.name}`).toBeGreaterThanOrEqual(FLOOR);
  });

  it("REST: no 5xx, every answer in DRF's shapes", () => {
    const total = report("rest", "REST /auth/*");
    expect(total.serverErrors).toBe(0);
    expect(kindsOf("rest")).toEqual([]);
  });

  it("tRPC: no 5xx, every answer in tRPC's shapes", () => {
    const total = report("trpc", "tRPC /trpc/*");
    expect(total.serverErrors).toBe(0);
    expect(kindsOf("trpc")).toEqual([]);
  });

  it("totals: no unhandled rejection or exception", () => {
    const all = [...tallies.values()];
    const sum = (f: (t: Tally) => number) => all.reduce((n, t) => n + f(t), 0);
    const least = Math.min(...all.map((t) => t.sent));
    console.log(
      `fuzz totals (seed ${SEED}): ${sum((t) => t.sent)} requests generated in ${seconds.toFixed(0)} s ` +
        `(${(sum((t) => t.sent) / seconds).toFixed(0)}/s), ` +
        `${sum((t) => t.validAuth)} with a live credential; at least ${least} per endpoint ` +
        `(target ${TARGET}${least < TARGET ? ", budget ran out" : ""}); ` +
        `5xx seen = ${sum((t) => t.serverErrors)}, shape violations = ${sum((t) => t.violations)}, ` +
        `unhandled = ${unhandled}`,
    );
    if (reports.size)
      console.log(
        `one request per kind of failure:\n\n${[...reports]
          .map(([kind, r]) => `${r}\n    seen on: ${[...affected.get(kind)!].join(", ")}`)
          .join("\n\n")}`,
      );
    expect(unhandled).toBe(0);
  });
});
