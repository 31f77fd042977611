// Fault injection: a backing service goes away under load, and comes back. While it is away every
// answer is a clean, prompt 503 the client may retry (never a 500, never a hang); once it is back
// the same server process serves again without a restart, and nothing a client was told
// succeeded is lost. One describe per fault; each fault runs on PRIVATE service instances
// (test/helpers/services.ts), never on the machine's shared PostgreSQL or Redis.
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStaff, startTestServer, type TestServer } from "../../helpers/server.ts";
import { type PrivatePostgres, privatePostgres } from "../../helpers/services.ts";

// Cheap password hashing, so registrations and logins are many and the load is real.
const ARGON2 = JSON.stringify({ MEMORY_COST: 1024, TIME_COST: 1, PARALLELISM: 1 });
const PASSWORD = "Kq7!vLp2#Zx9";
/**
 * Once the database is gone, a client waiting longer than this for its answer is hung, whatever
 * the answer. (Before the outage and after recovery, latency is the machine's business: a busy
 * two-core box can take seconds under this load, and only a request with no answer fails.)
 */
const HANG_MS = 3_000;
/** Where the client gives up (so a real hang is measured, not waited for forever). */
const CLIENT_TIMEOUT_MS = 15_000;
const WORKERS = 8;

// ── load ─────────────────────────────────────────────────────────────────────────────────────────

type Op = "register" | "me" | "login" | "trpc.me" | "trpc.create";
const OPS: Op[] = ["register", "me", "login", "trpc.me", "me", "trpc.create", "login", "trpc.me"];
const SUCCESS: Record<Op, number> = { register: 201, me: 200, login: 200, "trpc.me": 200, "trpc.create": 200 };
const isRest = (op: Op) => !op.startsWith("trpc.");

type Outcome = {
  op: Op;
  /** The username a registration sent. */
  username?: string;
  startedAt: number;
  endedAt: number;
  ms: number;
  /** 0: no HTTP answer (connection error or client timeout). */
  status: number;
  json: any;
  text: string;
  retryAfter: string | null;
  error?: string;
};

/**
 * `login`: the one account every worker logs in to. Login lockout counts an attempt before its
 * password is checked; correct logins in parallel, some cut off by the outage between that count
 * and its reset, must never add up to a lockout (a 429 here fails the test).
 */
type Fixture = { server: TestServer; token: string; login: { username: string; password: string } };

let seq = 0;
const tag = Math.random().toString(36).slice(2, 7);
const nextUsername = () => `f${tag}_${++seq}`;

async function call(f: Fixture, op: Op): Promise<Outcome> {
  const auth = { authorization: `Token ${f.token}` };
  const username = op === "register" || op === "trpc.create" ? nextUsername() : undefined;
  const create = { username, email: `${username}@example.com`, password: PASSWORD };
  const [method, path, headers, body] = {
    register: ["POST", "/auth/users/", {}, create],
    me: ["GET", "/auth/users/me/", auth, undefined],
    login: ["POST", "/auth/token/login/", {}, f.login],
    "trpc.me": ["GET", "/trpc/users.me", auth, undefined],
    "trpc.create": ["POST", "/trpc/users.create", {}, create],
  }[op] as [string, string, Record<string, string>, unknown];
  const startedAt = Date.now();
  try {
    const res = await fetch(f.server.url + path, {
      method,
      headers: body === undefined ? headers : { ...headers, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const endedAt = Date.now();
    return {
      op,
      username,
      startedAt,
      endedAt,
      ms: endedAt - startedAt,
      status: res.status,
      json,
      text,
      retryAfter: res.headers.get("retry-after"),
    };
  } catch (e) {
    const endedAt = Date.now();
    return {
      op,
      username,
      startedAt,
      endedAt,
      ms: endedAt - startedAt,
      status: 0,
      json: undefined,
      text: "",
      retryAfter: null,
      error: String(e),
    };
  }
}

/** `workers` concurrent loops over OPS until stop(). */
function startLoad(f: Fixture, workers = WORKERS) {
  let running = true;
  const log: Outcome[] = [];
  const loops = Array.from({ length: workers }, async (_, w) => {
    for (let i = w; running; i++) log.push(await call(f, OPS[i % OPS.length]!));
  });
  const done = Promise.all(loops);
  return {
    log,
    async stop() {
      running = false;
      await done;
      return log;
    },
  };
}

// ── what a clean outage answer is ─────────────────────────────────────────────────────────────────

/** Why `o` is not a clean 503 in its adapter's shape, or null when it is one. */
function not503(o: Outcome): string | null {
  if (o.status !== 503) return `status ${o.status}${o.error ? ` (${o.error})` : ""}: ${o.text.slice(0, 200)}`;
  const problems: string[] = [];
  if (!o.retryAfter || !/^\d+$/.test(o.retryAfter)) problems.push(`Retry-After header ${JSON.stringify(o.retryAfter)}`);
  if (isRest(o.op)) {
    // DRF's shape: {"detail": "…"}.
    if (typeof o.json?.detail !== "string" || !o.json.detail) problems.push(`body ${o.text.slice(0, 200)}`);
  } else {
    const e = o.json?.error;
    if (
      e?.code !== TRPC_ERROR_CODES_BY_KEY.SERVICE_UNAVAILABLE ||
      e?.data?.httpStatus !== 503 ||
      e?.data?.code !== "service_unavailable" ||
      typeof e?.message !== "string"
    ) {
      problems.push(`body ${o.text.slice(0, 300)}`);
    }
  }
  return problems.length ? problems.join("; ") : null;
}

const succeeded = (o: Outcome) => o.status === SUCCESS[o.op];
const describeOutcome = (o: Outcome) => `${o.op} ${o.status} in ${o.ms} ms: ${o.error ?? o.text.slice(0, 200)}`;

/** Groups problems by kind, a few examples each, for a readable failure. */
function summarise(problems: string[]): string {
  const byKind = new Map<string, string[]>();
  for (const p of problems) {
    const kind = p.replace(/\d+ ms/, "").slice(0, 80);
    byKind.set(kind, [...(byKind.get(kind) ?? []), p]);
  }
  return [...byKind.values()].map((ps) => `${ps.length}× ${ps[0]}`).join("\n");
}

// ── PostgreSQL ───────────────────────────────────────────────────────────────────────────────────

describe("faults: PostgreSQL down", () => {
  let pgsrv: PrivatePostgres;
  let f: Fixture;
  const sql = async <T = any>(text: string, params: unknown[] = []): Promise<T[]> => {
    const c = new pg.Client({ connectionString: pgsrv.url });
    await c.connect();
    try {
      return (await c.query(text, params)).rows as T[];
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    const t0 = Date.now();
    pgsrv = await privatePostgres();
    const pgReady = Date.now() - t0;
    // kind "pglite" only means "no database on the shared server": DATABASE_URL points at ours.
    // Activation mails on: a registration is then two writes (the user, its queued mail), the
    // place a half-written registration would show.
    const server = await startTestServer("pglite", {
      DATABASE_URL: pgsrv.url,
      ARGON2,
      DJOSER_SEND_ACTIVATION_EMAIL: "true",
      LOG_LEVEL: process.env.FAULTS_LOG_LEVEL ?? "silent",
      DEBUG: "true", // an unexpected 500 then carries its error's message, so a failure here names it
    });
    const login = { username: `f${tag}_owner`, password: PASSWORD };
    await createStaff(server, login.username, login.password, "owner@example.com"); // active at once
    const token = (await server.request("POST", "/auth/token/login/", { json: login })).json.auth_token;
    expect(token).toMatch(/^[0-9a-f]{40}$/);
    f = { server, token, login };
    console.log(`faults[postgresql]: private PostgreSQL ready in ${pgReady} ms on port ${pgsrv.port}`);
  });

  afterAll(async () => {
    await f?.server.stop();
    await pgsrv?.destroy();
  });

  it.each(["fast", "immediate"] as const)(
    "answers 503 while PostgreSQL is down (pg_ctl stop -m %s), recovers without a restart, loses no row",
    async (mode) => {
      const { server } = f;
      const countRows = async () => Number((await sql("SELECT count(*) AS n FROM auth_user"))[0].n);
      // Warm up first (lazy imports, the pool's connections, the first hash), so the load measures
      // a running server rather than a cold one.
      for (let i = 0; i < 2; i++) await Promise.all(OPS.map((op) => call(f, op)));
      const rowsAtStart = await countRows();
      const load = startLoad(f);
      await new Promise((r) => setTimeout(r, 1_500));

      // Down.
      const rowsBefore = await countRows();
      const tStopBegin = Date.now();
      await pgsrv.stop(mode);
      const tStopEnd = Date.now();
      await new Promise((r) => setTimeout(r, 3_000));

      // Up again: the same process must notice by itself.
      const tStartBegin = Date.now();
      await pgsrv.start();
      const tStartEnd = Date.now();
      let tRecovered = 0;
      while (Date.now() - tStartEnd < 30_000) {
        if ((await call(f, "me")).status === 200) {
          tRecovered = Date.now();
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      if (tRecovered) await new Promise((r) => setTimeout(r, 1_500));
      const log = await load.stop();

      // Every answer, by phase.
      const problems: string[] = [];
      const before = log.filter((o) => o.endedAt < tStopBegin);
      const down = log.filter((o) => o.startedAt >= tStopEnd && o.endedAt <= tStartBegin);
      const after = tRecovered ? log.filter((o) => o.startedAt >= tRecovered) : [];
      const outage = log.filter((o) => o.endedAt >= tStopBegin && (!tRecovered || o.startedAt < tRecovered));
      for (const o of before) if (!succeeded(o)) problems.push(`before the outage: ${describeOutcome(o)}`);
      for (const o of down) {
        const why = not503(o);
        if (why) problems.push(`while down, ${o.op}: ${why}`);
      }
      // Requests caught by the stop or the start may go either way, but only cleanly.
      for (const o of outage) {
        if (succeeded(o) || down.includes(o)) continue;
        const why = not503(o);
        if (why) problems.push(`during the stop/start, ${o.op}: ${why}`);
      }
      for (const o of after) if (!succeeded(o)) problems.push(`after recovery: ${describeOutcome(o)}`);
      // Times relative to the moment pg_ctl stop was run.
      const when = (o: Outcome) =>
        `sent at +${o.startedAt - tStopBegin} ms ` +
        `(stop done +${tStopEnd - tStopBegin}, start +${tStartBegin - tStopBegin}, up +${tStartEnd - tStopBegin})`;
      const waitedWhileDown = (o: Outcome) => o.endedAt - Math.max(o.startedAt, tStopBegin);
      for (const o of outage)
        if (waitedWhileDown(o) > HANG_MS)
          problems.push(
            `hung (answered ${waitedWhileDown(o)} ms after the stop began, > ${HANG_MS} ms): ` +
              `${describeOutcome(o)}, ${when(o)}`,
          );
      for (const o of log) if (o.status === 0) problems.push(`no answer: ${describeOutcome(o)}, ${when(o)}`);
      if (!tRecovered)
        problems.push(
          "no recovery: /auth/users/me/ never answered 200 within 30 s of PostgreSQL accepting connections again",
        );

      const other5xx = log.filter((o) => o.status >= 500 && o.status !== 503).length;
      const noAnswer = log.filter((o) => o.status === 0).length;
      const slowestDown = Math.max(0, ...down.map((o) => o.ms));
      const slowestOutage = Math.max(0, ...outage.map(waitedWhileDown));

      // Rows: nothing a client was told succeeded is missing; nothing exists half-written.
      const registrations = log.filter((o) => o.username);
      const told201 = new Set(registrations.filter(succeeded).map((o) => o.username!));
      const told503 = new Set(registrations.filter((o) => o.status === 503).map((o) => o.username!));
      const toldOther = registrations.filter((o) => !succeeded(o) && o.status !== 503);
      const rows = await sql<{ id: number; username: string; email: string; password: string; is_active: boolean }>(
        "SELECT id, username, email, password, is_active FROM auth_user WHERE username LIKE $1",
        [`f${tag}\\_%`],
      );
      const rowsAfter = await countRows();
      const byName = new Map(rows.map((r) => [r.username, r]));
      const lost = [...told201].filter((u) => !byName.has(u));
      for (const u of lost) problems.push(`lost row: ${u} was told 201/200 but is not in auth_user`);
      for (const o of toldOther) problems.push(`registration neither succeeded nor 503: ${describeOutcome(o)}`);
      const sent = new Set(registrations.map((o) => o.username!));
      const queued = new Set(
        (await sql<{ user_id: number }>("SELECT user_id FROM mail_outbox WHERE kind = 'activation'")).map(
          (r) => r.user_id,
        ),
      );
      const mailedTo = new Set(server.mails().map((m) => m.to));
      const committedDespite503: string[] = [];
      for (const r of rows) {
        if (!sent.has(r.username)) continue; // the owner, or an earlier run of this test (the other stop mode)
        // Whole: the fields sent, a real hash, inactive until activated, and its activation mail
        // delivered or still queued (a user without one could never activate).
        const mail = queued.has(r.id) || [...mailedTo].some((to) => to.includes(r.email));
        if (r.email !== `${r.username}@example.com` || !r.password.startsWith("$argon2id$") || r.is_active || !mail) {
          const shown = {
            ...r,
            password: `${r.password.slice(0, 10)}…`,
            activationMail: mail ? "delivered or queued" : "none",
          };
          const told = told503.has(r.username) ? " (client was told 503)" : "";
          problems.push(`half-written registration: ${JSON.stringify(shown)}${told}`);
        }
        if (told503.has(r.username)) committedDespite503.push(r.username);
      }
      // A 503'd registration whose writes committed just before the connection dropped is not lost
      // data but a lost reply: the client's retry hears "already exists", and the mail is on its way.

      const createdThisRun = told201.size + committedDespite503.length;
      if (rowsAfter !== rowsAtStart + createdThisRun) {
        problems.push(
          `row count: ${rowsAtStart} when the load began, ${rowsAfter} after; ` +
            `expected + ${told201.size} told-succeeded + ${committedDespite503.length} committed-despite-503`,
        );
      }

      const recovery = tRecovered
        ? `${tRecovered - tStartEnd} ms after PostgreSQL accepted connections ` +
          `(${tRecovered - tStartBegin} ms after pg_ctl start)`
        : "NONE";
      console.log(
        [
          `faults[postgresql]: ${outage.length} requests during outage, ` +
            `503s ${outage.filter((o) => o.status === 503).length}, 5xx other than 503: ${other5xx}, ` +
            `rows before ${rowsBefore} after ${rowsAfter}, lost ${lost.length}   (pg_ctl stop -m ${mode})`,
          `  ${log.length} requests in all (${before.length} before, ${down.length} while fully down, ` +
            `${after.length} after recovery); no answer: ${noAnswer}`,
          `  slowest while down: ${slowestDown} ms; longest wait after the stop began: ${slowestOutage} ms; ` +
            `stop took ${tStopEnd - tStopBegin} ms`,
          `  recovery: ${recovery}`,
          `  registrations: ${registrations.length} sent, ${told201.size} succeeded, ${told503.size} got 503 ` +
            `(${committedDespite503.length} of them committed anyway: ${committedDespite503.join(", ") || "none"}), ` +
            `${createdThisRun} rows created this run (${rowsAtStart} → ${rowsAfter})`,
        ].join("\n"),
      );
      expect(problems.length, `problems:\n${summarise(problems)}`).toBe(0);
      expect(down.length).toBeGreaterThan(10); // the outage really was exercised
      expect(after.length).toBeGreaterThan(5);
    },
    90_000,
  );

  // The outage above cuts a registration between its two writes (the user, its queued activation
  // mail) only when the timing happens to fall there. This cuts it there every time: the database
  // ends the connection as the mail row is inserted.
  it("a registration cut off between its writes leaves no half-written user, and its retry succeeds", async () => {
    await sql(`CREATE OR REPLACE FUNCTION faults_cut_off() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); RETURN NEW; END $$`);
    await sql(
      "CREATE TRIGGER faults_cut_off BEFORE INSERT ON mail_outbox FOR EACH ROW EXECUTE FUNCTION faults_cut_off()",
    );
    const username = nextUsername();
    const body = { username, email: `${username}@example.com`, password: PASSWORD };
    let cut: Awaited<ReturnType<TestServer["request"]>>;
    try {
      cut = await f.server.request("POST", "/auth/users/", { json: body });
    } finally {
      await sql("DROP TRIGGER faults_cut_off ON mail_outbox");
    }
    expect(cut.status, cut.text).toBe(503);
    expect(cut.headers.get("retry-after")).toMatch(/^\d+$/);
    const [row] = await sql<{ id: number }>("SELECT id FROM auth_user WHERE username = $1", [username]);
    const mails = row
      ? await sql("SELECT 1 FROM mail_outbox WHERE user_id = $1 AND kind = 'activation'", [row.id])
      : [];
    const found = row ? `exists (id ${row.id}), activation mail ${mails.length ? "queued" : "NONE"}` : "absent";
    console.log(`faults[postgresql]: registration cut off at its mail write → ${cut.status}; user row ${found}`);
    // Told 503, the client retries: that must create the account (not "already exists" over an
    // inactive user whose activation mail was never queued).
    const retry = await f.server.request("POST", "/auth/users/", { json: body });
    expect({ userWithoutMail: !!row && !mails.length, retry: retry.status }, retry.text).toEqual({
      userWithoutMail: false,
      retry: 201,
    });
  }, 30_000);
});
