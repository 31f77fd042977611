// No account enumeration: whoever asks, a login or a mail flow answers a known and an unknown
// account alike, byte for byte and in the same time. Logins burn one argon2 verification for an
// unknown user (a dummy hash), so "no such user" is not ~10× faster than "wrong password"; the
// mail flows queue their mail and answer, so a slow mail server does not show which emails exist.
// PostgreSQL, the default (OWASP) argon2 cost, and a real SMTP server that takes 300 ms a message.
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { surveyLoginCosts } from "../../../src/core/login/cost-survey.ts";
import { runCommand } from "../../helpers/instances.ts";
import { parseMessage, uidToken } from "../../helpers/mail.ts";
import { DATABASES, freshPostgres, startTestServer, type TestServer } from "../../helpers/server.ts";
import { type Inbox, startInbox } from "../../helpers/smtp.ts";

const PW = "Kq7!vLp2#Zx9";
const WRONG = "Wr0ng-Passw0rd!";
const SMTP_DELAY_MS = 300;
const ROUNDS = 15;

type Answer = { status: number; headers: Record<string, string>; body: string; ms: number };

/** One POST, timed from send to the last byte of the answer; the answer as a client sees it. */
async function post(s: TestServer, path: string, body: unknown): Promise<Answer> {
  const start = performance.now();
  const res = await fetch(s.url + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const ms = performance.now() - start;
  // Everything but the clock and the connection's own bookkeeping must match.
  const headers = Object.fromEntries(
    [...res.headers].filter(([k]) => !["date", "connection", "keep-alive"].includes(k)),
  );
  return { status: res.status, headers, body: text, ms };
}

const sameAnswer = (a: Answer, b: Answer, what: string) =>
  expect({ status: b.status, headers: b.headers, body: b.body }, what).toEqual({
    status: a.status,
    headers: a.headers,
    body: a.body,
  });
const median = (xs: number[]) => {
  const sorted = [...xs].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

/**
 * `rounds` rounds (ROUNDS unless told), each sending the known request and then every other one; after one warm-up each.
 * Every answer must equal the known one. Returns the median time of each kind.
 */
async function race(
  s: TestServer,
  label: string,
  path: string,
  known: () => unknown,
  others: Record<string, () => unknown>,
  rounds = ROUNDS,
) {
  const answer = await post(s, path, known());
  for (const [what, body] of Object.entries(others))
    sameAnswer(answer, await post(s, path, body()), `${label}: ${what} (warm-up)`);
  const times: Record<string, number[]> = { known: [] };
  for (let i = 0; i < rounds; i++) {
    const a = await post(s, path, known());
    sameAnswer(answer, a, `${label}: known #${i}`);
    times.known!.push(a.ms);
    for (const [what, body] of Object.entries(others)) {
      const b = await post(s, path, body());
      sameAnswer(answer, b, `${label}: ${what} #${i}`);
      (times[what] ??= []).push(b.ms);
    }
  }
  const medians = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  console.log(
    `${label}: medians over ${rounds} ${Object.entries(medians)
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(", ")}`,
  );
  return { medians, answer };
}

let seq = 0;
const stranger = () => `nobody${++seq}x${Math.random().toString(36).slice(2, 7)}`;

describe("account enumeration (PostgreSQL, OWASP argon2, slow SMTP)", () => {
  let s: TestServer;
  let inbox: Inbox;
  /** Mails each address must eventually receive, by subject (checked at the end). */
  const expected = new Map<string, number>();
  const expect1 = (to: string, subject: string, n = 1) =>
    expected.set(`${to}\n${subject}`, (expected.get(`${to}\n${subject}`) ?? 0) + n);

  beforeAll(async () => {
    inbox = await startInbox({ delayMs: SMTP_DELAY_MS });
    s = await startTestServer("postgresql", {
      EMAIL_BACKEND: "smtp",
      EMAIL_HOST: "127.0.0.1",
      EMAIL_PORT: String(inbox.port),
      EMAIL_TIMEOUT: "10",
      DJOSER_SEND_ACTIVATION_EMAIL: "true",
      // The timing runs fail the same account ~60 times: keep the lockout's waits out of the way.
      LOGIN_LOCKOUT: JSON.stringify({ FREE_FAILURES: 100, MAX_FAILURES: 100 }),
    });
    // alice: registered and activated; dormant: registered, never activated.
    for (const username of ["alice", "dormant"]) {
      const json = { username, email: `${username}@example.com`, password: PW };
      const created = await s.request("POST", "/auth/users/", { json });
      expect(created.status, created.text).toBe(201);
    }
    expect1("alice@example.com", "Account activation on Portcullis");
    expect1("dormant@example.com", "Account activation on Portcullis");
    const [mail] = await inbox.waitFor("alice@example.com", "Account activation on Portcullis", 1);
    const link = parseMessage(mail!.raw)
      .parts.get("text/plain")!
      .match(/https?:\/\/\S+/)![0];
    expect((await s.request("POST", "/auth/users/activation/", { json: uidToken(link) })).status).toBe(204);
    expect((await s.request("POST", "/auth/token/login/", { json: { username: "alice", password: PW } })).status).toBe(
      200,
    );
  }, 90_000);
  afterAll(async () => {
    await s?.stop();
    await inbox?.close();
  });

  describe("mail flows: 204 for any email, answered before the (slow) mail server is spoken to", () => {
    const FLOWS = [
      ["reset_password", "/auth/users/reset_password/", "alice@example.com", "Password reset on Portcullis"],
      ["reset_username", "/auth/users/reset_username/", "alice@example.com", "Username reset on Portcullis"],
      [
        "resend_activation",
        "/auth/users/resend_activation/",
        "dormant@example.com",
        "Account activation on Portcullis",
      ],
    ] as const;

    it.each(FLOWS)(
      "%s: known and unknown emails get one answer, in the same time",
      async (label, path, email, subject) => {
        const { medians, answer } = await race(s, label, path, () => ({ email }), {
          unknown: () => ({ email: `${stranger()}@example.com` }),
        });
        expect(answer).toMatchObject({ status: 204, body: "" });
        // Sent inline, each known answer would wait ≥ 300 ms for the SMTP server.
        expect(medians.known).toBeLessThanOrEqual(3 * medians.unknown! + 5);
        expect1(email, subject, ROUNDS + 1); // the rounds and the warm-up
      },
      60_000,
    );

    it("resend_activation: an active account's email answers as an unknown one does (and gets no mail: see the last test)", async () => {
      const unknown = await post(s, "/auth/users/resend_activation/", { email: `${stranger()}@example.com` });
      sameAnswer(
        unknown,
        await post(s, "/auth/users/resend_activation/", { email: "alice@example.com" }),
        "active account",
      );
      sameAnswer(
        unknown,
        await post(s, "/auth/users/resend_activation/", { email: "dormant@example.com" }),
        "inactive account",
      );
      expect1("dormant@example.com", "Account activation on Portcullis");
    });

    it.each([
      ["users.resetPassword", "alice@example.com", "Password reset on Portcullis"],
      ["users.resetUsername", "alice@example.com", "Username reset on Portcullis"],
      ["users.resendActivation", "dormant@example.com", "Account activation on Portcullis"],
    ] as const)("tRPC %s: known and unknown emails get one answer", async (procedure, email, subject) => {
      const known = await post(s, `/trpc/${procedure}`, { email });
      expect(known.status).toBe(200);
      sameAnswer(known, await post(s, `/trpc/${procedure}`, { email: `${stranger()}@example.com` }), procedure);
      expect1(email, subject);
    });
  });

  describe("login: unknown user, wrong password and inactive user answer alike", () => {
    const LOGINS = [
      ["REST token/login", "/auth/token/login/"],
      ["REST jwt/create", "/auth/jwt/create/"],
      ["tRPC token.login", "/trpc/token.login"],
      ["tRPC jwt.create", "/trpc/jwt.create"],
    ] as const;

    it.each(LOGINS)(
      "%s: known-wrong, unknown, inactive (right or wrong password) → one answer",
      async (_label, path) => {
        const wrong = await post(s, path, { username: "alice", password: WRONG });
        expect(wrong.status).toBeGreaterThanOrEqual(400);
        expect(wrong.status).toBeLessThan(500);
        for (const [what, body] of [
          ["unknown user", { username: stranger(), password: WRONG }],
          ["unknown user, the right password of another", { username: stranger(), password: PW }],
          ["inactive user, right password", { username: "dormant", password: PW }],
          ["inactive user, wrong password", { username: "dormant", password: WRONG }],
        ] as const) {
          sameAnswer(wrong, await post(s, path, body), `${path}: ${what}`);
        }
      },
    );

    it("the answers are Djoser's and SimpleJWT's words", async () => {
      expect(JSON.parse((await post(s, "/auth/token/login/", { username: stranger(), password: PW })).body)).toEqual({
        non_field_errors: ["Unable to log in with provided credentials."],
      });
      const jwt = await post(s, "/auth/jwt/create/", { username: "dormant", password: PW });
      expect(jwt.status).toBe(401);
      expect(JSON.parse(jwt.body).detail).toBe("No active account found with the given credentials");
    });

    it.each(LOGINS)(
      "%s: an unknown user costs a password hash too (median ≥ 0.6× the wrong-password median)",
      async (label, path) => {
        const { medians } = await race(s, `login ${label}`, path, () => ({ username: "alice", password: WRONG }), {
          unknown: () => ({ username: stranger(), password: WRONG }),
          inactive: () => ({ username: "dormant", password: PW }),
        });
        // With the dummy verification the medians are within ~20% of each other; without it an
        // unknown user answers 2-3× faster on a busy machine (the database's share grows with the
        // load), ~10× on an idle one. 0.6 sits between.
        expect(medians.unknown).toBeGreaterThanOrEqual(0.6 * medians.known!);
        // An inactive user's password is checked too (activity is looked at after it).
        expect(medians.inactive).toBeGreaterThanOrEqual(0.6 * medians.known!);
      },
      60_000,
    );
  });

  describe("registration: the trade-off", () => {
    // Djoser users choose their usernames, so a taken one must be said to be taken: registration
    // tells whether a username exists. (The registration throttle is what limits probing.) What
    // it must not do is tell more than that, e.g. whether the account is active.
    it("a taken username says so, for an active and an inactive account alike", async () => {
      for (const username of ["alice", "dormant"]) {
        const dup = await post(s, "/auth/users/", { username, email: `${stranger()}@example.com`, password: PW });
        expect(dup.status).toBe(400);
        expect(JSON.parse(dup.body)).toEqual({ username: ["A user with that username already exists."] });
      }
      const trpc = await post(s, "/trpc/users.create", { username: "alice", password: PW });
      expect(trpc.status).toBe(400);
      expect(JSON.parse(trpc.body).error.data.fields).toEqual({
        username: ["A user with that username already exists."],
      });
    });

    it("a taken email is not said to be taken (USERNAME_FIELD=username: emails are not unique, as in Django)", async () => {
      const r = await post(s, "/auth/users/", { username: stranger(), email: "alice@example.com", password: PW });
      expect(r.status, r.body).toBe(201);
      expect1("alice@example.com", "Account activation on Portcullis"); // the new, inactive account's
    });
  });

  // Last, so the slow deliveries overlap the login timings above instead of adding to them.
  describe("delivery", () => {
    it("every mail asked for arrives, after the answers (delivered from the outbox)", async () => {
      for (const [key, count] of expected) {
        const [to, subject] = key.split("\n") as [string, string];
        const arrived = await inbox.waitFor(to, subject, count);
        for (const m of arrived)
          expect(parseMessage(m.raw).parts.get("text/plain")).toMatch(
            /http:\/\/localhost:8000\/#\/(activate|password\/reset\/confirm|username\/reset\/confirm)\/[\w-]+\/[0-9a-z]+-[0-9a-f]+/,
          );
      }
      await s.deps.outbox.idle();
      // Exactly these: none to unknown addresses, no activation mail to the active account.
      const got = new Map<string, number>();
      for (const m of inbox.received)
        for (const to of m.to) got.set(`${to}\n${m.subject}`, (got.get(`${to}\n${m.subject}`) ?? 0) + 1);
      expect(Object.fromEntries(got)).toEqual(Object.fromEntries(expected));
      console.log(`mails delivered over SMTP: ${inbox.received.length}`);
    }, 60_000);
  });
});

// Users imported from Django keep their hashes until their first login here, and each kind costs
// its own time to check (PBKDF2 at 870k iterations ~10× our argon2id): a failed login must not
// tell which names exist, nor which were imported, nor at what cost. Django's own hashes, the
// import as an operator runs it (the CLI), then a server over that database.
type Fixture = { model: string; pk: number; fields: Record<string, unknown> };
const KIND_ROUNDS = 9; // each failure here takes the slowest kind's time (bcrypt cost 12: ~0.5 s, more on a busy box)
const FIXTURE = fileURLToPath(new URL("../../fixtures/django-import/", import.meta.url));
const readFixture = (name: string): unknown => JSON.parse(readFileSync(join(FIXTURE, name), "utf8"));

describe.each(DATABASES)(
  "failed logins cost the same whatever the account's hash (%s, imported Django users)",
  (kind) => {
    const facts = readFixture("facts.json") as { secret_key: string; users: { username: string; password: string }[] };
    const passwordOf = (name: string) => facts.users.find((u) => u.username === name)!.password;
    const djangoUsers = (readFixture("dumpdata.json") as Fixture[]).filter((o) => o.model === "auth.user");
    // admin: PBKDF2-SHA256 260k; erin: Django's argon2 (100 MiB, p=8); frank: bcrypt_sha256 cost 12;
    // mallory: md5 (not verifiable: checked as the dummy is); ops: PBKDF2 at 870k (Django 5.2's
    // default), made here as Django makes it.
    const IMPORTED = ["admin", "erin", "frank", "mallory", "ops"];
    const OPS_PASSWORD = "Pb870k!old-password";
    const salt = randomBytes(16).toString("base64url").slice(0, 22);
    const digest = pbkdf2Sync(OPS_PASSWORD, salt, 870_000, 32, "sha256").toString("base64");
    const password = `pbkdf2_sha256$870000$${salt}$${digest}`;
    const ops = { ...djangoUsers[0]!.fields, username: "ops", email: "ops@example.com", password };
    const wrong = (username: string) => () => ({ username, password: WRONG });
    const wrongFor = Object.fromEntries(IMPORTED.map((name) => [name, wrong(name)]));
    const unknown = () => ({ username: stranger(), password: WRONG });
    /** Every median at least 0.7× the slowest: unpadded, the fast kinds answer in ~0.1× its time. */
    const alike = (medians: Record<string, number>) => {
      const slowest = Math.max(...Object.values(medians));
      for (const [what, ms] of Object.entries(medians)) {
        expect(ms, `${what}: ${fmt(ms)} vs ${fmt(slowest)}`).toBeGreaterThanOrEqual(0.7 * slowest);
      }
    };
    let s: TestServer;
    let dir: string;
    let dropPg: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "portcullis-timing-"));
      let url = `pglite:${join(dir, "db")}`;
      if (kind === "postgresql") ({ url, drop: dropPg } = await freshPostgres());
      const fromFixture = djangoUsers.filter((u) => IMPORTED.includes(u.fields.username as string));
      const users = [...fromFixture, { model: "auth.user", pk: 50, fields: ops }];
      writeFileSync(join(dir, "dump.json"), JSON.stringify(users));
      const env = { DATABASE_URL: url, SECRET_KEY: facts.secret_key, LOG_LEVEL: "warn" };
      const imported = await runCommand(["import-django", join(dir, "dump.json")], env, 120_000);
      expect(imported.code, imported.output).toBe(0);
      // The timing runs fail the same accounts ~50 times: keep the lockout's waits out of the way.
      const lockout = JSON.stringify({ FREE_FAILURES: 100, MAX_FAILURES: 100 });
      s = await startTestServer("pglite", { ...env, LOGIN_LOCKOUT: lockout });
      for (const username of ["native", "sleeper"]) {
        const json = { username, email: `${username}@example.com`, password: PW };
        const created = await s.request("POST", "/auth/users/", { json });
        expect(created.status).toBe(201);
      }
      // Deactivated, say, by staff.
      await s.deps.prisma.user.update({ where: { username: "sleeper" }, data: { isActive: false } });
    }, 180_000);
    afterAll(async () => {
      await s?.stop();
      await dropPg?.();
      rmSync(dir, { recursive: true, force: true });
    });

    it("REST token/login: unknown name, our argon2id and every imported kind answer alike, in the same time", async () => {
      const others = { unknown, ...wrongFor };
      const { medians } = await race(
        s,
        `login by hash kind (${kind})`,
        "/auth/token/login/",
        wrong("native"),
        others,
        KIND_ROUNDS,
      );
      alike(medians);
    }, 120_000);

    it("tRPC jwt.create: the same, and an inactive account's RIGHT password answers as a wrong one does", async () => {
      const inactiveRight = () => ({ username: "sleeper", password: PW });
      const others = { unknown, inactiveRight, ops: wrong("ops") };
      const { medians } = await race(
        s,
        `jwt.create by hash kind (${kind})`,
        "/trpc/jwt.create",
        wrong("native"),
        others,
        KIND_ROUNDS,
      );
      alike(medians);
    }, 120_000);

    it("imported users still log in (and are re-hashed); once none holds a slow hash, failures cost our argon2id again", async () => {
      const path = "/auth/token/login/";
      const before = await race(
        s,
        `before the re-hash (${kind})`,
        path,
        wrong("native"),
        { unknown, ops: wrong("ops") },
        KIND_ROUNDS,
      );
      expect(before.medians.known).toBeGreaterThanOrEqual(0.7 * before.medians.ops!); // padded to the slow kinds
      for (const [username, password] of [
        ...["admin", "erin", "frank"].map((n) => [n, passwordOf(n)]),
        ["ops", OPS_PASSWORD],
      ]) {
        const ok = await post(s, path, { username, password });
        expect(ok.status, `${username}: ${ok.body}`).toBe(200);
      }
      const where = { NOT: { password: { startsWith: "$argon2id$" } } };
      const left = await s.deps.prisma.user.findMany({ where, select: { username: true } });
      expect(left.map((u) => u.username)).toEqual(["mallory"]); // md5: checked as the dummy is
      await surveyLoginCosts(s.deps); // what the server does now and then (and at every start)
      const after = await race(s, `after the re-hash (${kind})`, path, wrong("native"), { unknown }, KIND_ROUNDS);
      expect(after.medians.known).toBeLessThan(0.6 * before.medians.known!);
      expect(after.medians.unknown).toBeGreaterThanOrEqual(0.6 * after.medians.known!);
    }, 120_000);
  },
);
