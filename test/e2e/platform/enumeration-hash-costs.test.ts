// Users imported from Django keep their hashes until their first login here, and each kind costs
// its own time to check (PBKDF2 at 870k iterations ~10× our argon2id): a failed login must not
// tell which names exist, nor which were imported, nor at what cost. Django's own hashes, the
// import as an operator runs it (the CLI), then a server over that database.
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { surveyLoginCosts } from "../../../src/core/login/cost-survey.ts";
import { runCommand } from "../../helpers/instances.ts";
import { DATABASES, freshPostgres, startTestServer, type TestServer } from "../../helpers/server.ts";
import { fmt, PW, post, race, stranger, WRONG } from "./enumeration-setup.ts";

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

    it("REST token/login: " +
      "unknown name, our argon2id and every imported kind answer alike, in the same time", async () => {
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

    it("imported users still log in (and are re-hashed); " +
      "once none holds a slow hash, failures cost our argon2id again", async () => {
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
