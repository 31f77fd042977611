// `portcullis import-django` as an operator runs it (`node bin/portcullis.js import-django …` in a
// child process, set up through the environment), from data the REAL Djoser 2.1 / Django 3.2 made
// (test/fixtures/django-import/, see its README.md), then a Portcullis server over the imported
// database, with the reference's SECRET_KEY, answering the clients of the old deployment.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { checkToken, decodeUid } from "../../../src/compat/django/links.ts";
import { openDatabase } from "../../../src/db/index.ts";
import { DATABASES, freshPostgres, startTestServer, type TestServer } from "../../helpers/server.ts";

const BIN = fileURLToPath(new URL("../../../bin/portcullis.js", import.meta.url));
const FIXTURE = fileURLToPath(new URL("../../fixtures/django-import/", import.meta.url));
const DUMP = join(FIXTURE, "dumpdata.json");
type FactUser = {
  id: number;
  username: string;
  email: string;
  password: string | null;
  algorithm: string;
  is_active: boolean;
  is_staff: boolean;
  is_superuser: boolean;
  auth_token?: string;
};
const facts = JSON.parse(readFileSync(join(FIXTURE, "facts.json"), "utf8")) as {
  secret_key: string;
  users: FactUser[];
  jwt: { username: string; blacklisted_refresh: string; refresh: string; blacklisted_answer: unknown };
  reset: { username: string; uid: string; token: string };
};
const dump = JSON.parse(readFileSync(DUMP, "utf8")) as {
  model: string;
  pk: number | string;
  fields: Record<string, any>;
}[];
const byName = (name: string) => facts.users.find((u) => u.username === name)!;

// The server a migrated client talks to: the reference's SECRET_KEY (links), and as SimpleJWT's
// HS256 key SIGNING_KEY set to it, as a cutover sets it (ours defaults to a key derived from
// SECRET_KEY). The fixture's reset link was minted once, when the fixture was made; Django's
// PASSWORD_RESET_TIMEOUT (3 days) would expire it, so these tests allow 100 years instead.
const SERVER_ENV = {
  SECRET_KEY: facts.secret_key,
  SIMPLE_JWT_SIGNING_KEY: facts.secret_key,
  PASSWORD_RESET_TIMEOUT: String(100 * 365 * 86400),
};
const NEW_PASSWORD = "Nw5!reset-after-the-move";

// Each case spawns the CLI (tsx start-up, PGlite start-up) a few times: slower than 30 s on a busy machine.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const tmp = mkdtempSync(join(tmpdir(), "portcullis-import-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Run = { code: number | null; stdout: string; stderr: string };

/** One CLI run in a clean environment (nothing from the developer's shell), killed after 60 s. */
function cli(args: string[], env: Record<string, string>): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: tmp,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += c));
  child.stderr.on("data", (c) => (stderr += c));
  const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => (clearTimeout(guard), resolve({ code, stdout, stderr })));
  });
}

/** Row counts and the id sequence, read with the project's own database opener (then closed: PGlite is single-process). */
async function snapshot(url: string) {
  const db = await openDatabase(url);
  try {
    const [row] = await db.prisma.$queryRawUnsafe<Record<string, number | null>[]>(
      `SELECT (SELECT count(*)::int FROM auth_user) AS users, (SELECT count(*)::int FROM auth_token) AS tokens,
              (SELECT count(*)::int FROM jwt_session) AS sessions, (SELECT count(*)::int FROM jwt_refresh_token) AS refresh,
              pg_sequence_last_value(pg_get_serial_sequence('auth_user', 'id')::regclass)::int AS seq`,
    );
    return row!;
  } finally {
    await db.close();
  }
}

/** The server over an existing database: startTestServer's env wins over its defaults, and kind "pglite" makes it create no database of its own. */
const serveOver = (url: string) => startTestServer("pglite", { DATABASE_URL: url, ...SERVER_ENV });

const counts = (label: string, c: string) => new RegExp(`^${label}\\s+${c}$`, "m");
const FIRST_IMPORT = [
  counts("users:", "10 imported, 0 updated, 0 unchanged, 0 skipped"),
  counts("authtoken keys:", "3 imported, 0 updated, 0 unchanged, 0 skipped"),
  counts("blacklisted refresh tokens:", "1 imported, 0 updated, 0 unchanged, 0 skipped"),
];
const HASH_NOTES =
  'Cannot log in until a password reset (a hash algorithm Portcullis does not verify):\n  user 10 (mallory): md5\nNo usable password (Django\'s unusable "!…" password, e.g. social-login accounts):\n  user 11 (sso)\n';

async function post(s: TestServer, path: string, json: unknown, headers: Record<string, string> = {}) {
  return s.request("POST", path, { json, headers });
}

const BAD_USAGE_ENV = { DATABASE_URL: "pglite:memory", SECRET_KEY: facts.secret_key };
it("bad usage exits 2 and says what to do", async () => {
  const none = await cli(["import-django"], BAD_USAGE_ENV);
  expect(none.code).toBe(2);
  expect(none.stderr).toContain(
    "import-django needs exactly one source (got 0). Pass the Django database's postgresql://… URL, or a file made with `python manage.py dumpdata",
  );
  const missing = await cli(["import-django", join(tmp, "nope.json")], BAD_USAGE_ENV);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain(`no such file: ${join(tmp, "nope.json")}`);
  const option = await cli(["import-django", DUMP, "--dryrun"], BAD_USAGE_ENV);
  expect(option.code).toBe(2);
  expect(option.stderr).toContain("Unknown option '--dryrun'");
  const notDump = join(tmp, "not-a-dump.json");
  writeFileSync(notDump, '{"users": []}');
  const bad = await cli(["import-django", notDump], BAD_USAGE_ENV);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain("is not a dumpdata file");
  for (const r of [none, missing, option, bad]) expect(r.stdout).toBe("");
});

describe.each(DATABASES)("import-django from dumpdata.json into %s", (kind) => {
  let url: string;
  // Whether Portcullis answered the reset link (reset_password_confirm is being built alongside):
  // a reset re-hashes carol's password, which the last case sees.
  let resetDone = false;
  let carolKeyRevoked = false; // whether that reset also revoked her keys (Djoser's does not)
  let dropPg: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    if (kind === "postgresql") {
      const db = await freshPostgres();
      url = db.url;
      dropPg = db.drop;
    } else url = `pglite:${join(tmp, "portcullis-db")}`;
  });
  afterAll(async () => dropPg?.());
  const env = () => ({ DATABASE_URL: url, SECRET_KEY: facts.secret_key });

  it.runIf(kind === "pglite")(
    "a dry run before anything exists creates nothing, not even the PGlite folder",
    async () => {
      const dir = join(tmp, "never-created");
      const r = await cli(["import-django", DUMP, "--dry-run"], { ...env(), DATABASE_URL: `pglite:${dir}` });
      expect(r.code, r.stderr).toBe(0);
      for (const line of FIRST_IMPORT) expect(r.stdout).toMatch(line);
      expect(r.stdout).toContain("next new user id: 12\n");
      expect(existsSync(dir)).toBe(false);
    },
  );

  it("a dry run reports what would be imported and writes nothing", async () => {
    expect((await cli(["migrate"], env())).code).toBe(0);
    const before = await snapshot(url);
    expect(before).toEqual({ users: 0, tokens: 0, sessions: 0, refresh: 0, seq: null });
    const dry = await cli(["import-django", DUMP, "--dry-run"], env());
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(
      `Django import from ${DUMP} (dumpdata) — DRY RUN: nothing was written; the counts say what an import would do\n`,
    );
    for (const line of FIRST_IMPORT) expect(dry.stdout).toMatch(line);
    expect(dry.stdout).toContain("next new user id: 12\n");
    expect(dry.stderr).toBe("checked 10/10 users\n");
    expect(await snapshot(url)).toEqual(before);
  });

  it("imports users, keys and the blacklist, and moves the id sequence past Django's ids", async () => {
    const r = await cli(["import-django", DUMP, "--batch-size", "4"], env());
    expect(r.code, r.stderr).toBe(0);
    // Progress on stderr (not a terminal: one line per batch), the report on stdout.
    expect(r.stderr).toBe("imported 4/10 users\nimported 8/10 users\nimported 10/10 users\n");
    expect(r.stdout).toBe(
      `Django import from ${DUMP} (dumpdata)\n` +
        "users:                      10 imported, 0 updated, 0 unchanged, 0 skipped\n" +
        "authtoken keys:             3 imported, 0 updated, 0 unchanged, 0 skipped\n" +
        "blacklisted refresh tokens: 1 imported, 0 updated, 0 unchanged, 0 skipped\n" +
        "next new user id: 12\n" +
        HASH_NOTES,
    );
    expect(await snapshot(url)).toEqual({ users: 10, tokens: 3, sessions: 1, refresh: 1, seq: 11 });
  });

  it("a second run changes nothing and says so", async () => {
    const r = await cli(["import-django", DUMP, "--json"], env());
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({
      dryRun: false,
      users: { imported: 0, updated: 0, unchanged: 10, skipped: 0 },
      tokens: { imported: 0, updated: 0, unchanged: 3, skipped: 0 },
      blacklisted: { imported: 0, updated: 0, unchanged: 1, skipped: 0 },
      skipped: [],
      nextId: 12,
    });
    expect(await snapshot(url)).toEqual({ users: 10, tokens: 3, sessions: 1, refresh: 1, seq: 11 });
  });

  describe("the server over the imported database, with the reference's SECRET_KEY", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await serveOver(url);
    });
    afterAll(async () => s?.stop());

    it("keeps ids, names, flags, dates (last_login to the microsecond the source has) and hashes as is", async () => {
      const rows = await s.deps.prisma.$queryRawUnsafe<Record<string, unknown>[]>(
        `SELECT id, username, email, first_name, last_name, password, is_active, is_staff, is_superuser,
                to_char(date_joined AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS date_joined,
                to_char(last_login AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS last_login FROM auth_user ORDER BY id`,
      );
      // dumpdata writes milliseconds (DjangoJSONEncoder); the postgresql:// source keeps microseconds (below).
      const micro = (v: string | null) =>
        v === null ? null : v.replace(/Z$/, "").replace(/\.(\d+)$/, (_m, f: string) => `.${f.padEnd(6, "0")}`);
      const expected = dump
        .filter((o) => o.model === "auth.user")
        .map(({ pk, fields: f }) => ({
          id: pk,
          username: f.username,
          email: f.email,
          first_name: f.first_name,
          last_name: f.last_name,
          password: f.password,
          is_active: f.is_active,
          is_staff: f.is_staff,
          is_superuser: f.is_superuser,
          date_joined: micro(f.date_joined),
          last_login: micro(f.last_login),
        }));
      expect(rows).toEqual(expected);
      expect(rows.map((r) => r.id)).toEqual([1, 2, 3, 4, 6, 7, 8, 9, 10, 11]); // the gap Django left (user 5 deleted) stays
      expect(rows.map((r) => r.id)).toEqual(facts.users.map((u) => u.id));
    });

    it("the authtoken keys the old clients hold still authenticate", async () => {
      for (const u of facts.users.filter((u) => u.auth_token)) {
        const me = await s.request("GET", "/auth/users/me/", { headers: { authorization: `Token ${u.auth_token}` } });
        expect(me.status, `${u.username}: ${me.text}`).toBe(200);
        expect(me.json).toEqual({ email: u.email, id: u.id, username: u.username });
      }
      // Stored hashed, as every Portcullis key: the key itself is nowhere in the table.
      const stored = JSON.stringify(await s.deps.prisma.authToken.findMany());
      for (const u of facts.users.filter((u) => u.auth_token)) expect(stored).not.toContain(u.auth_token);
    });

    it("the reset link Django mailed before the move still verifies against the imported row (links.ts)", async () => {
      const { uid, token } = facts.reset;
      const user = await s.deps.prisma.user.findUniqueOrThrow({ where: { id: decodeUid(uid)! } });
      expect(user.username).toBe(facts.reset.username);
      expect(
        checkToken("password_reset", user, token, facts.secret_key, Number(SERVER_ENV.PASSWORD_RESET_TIMEOUT)),
      ).toBe(true);
      expect(
        checkToken(
          "password_reset",
          user,
          token,
          "another-secret-key-of-the-same-length-as-the-reference-one",
          Number(SERVER_ENV.PASSWORD_RESET_TIMEOUT),
        ),
      ).toBe(false);
    });

    it("the reset link Django mailed before the move works once (POST /auth/users/reset_password_confirm/)", async () => {
      const { uid, token, username } = facts.reset;
      const first = await post(s, "/auth/users/reset_password_confirm/", { uid, token, new_password: NEW_PASSWORD });
      expect(first.status, `reset_password_confirm answered ${first.status} ${first.text}`).toBe(204);
      resetDone = true;
      const carolKey = byName(facts.reset.username).auth_token;
      carolKeyRevoked =
        (await s.request("GET", "/auth/users/me/", { headers: { authorization: `Token ${carolKey}` } })).status === 401;
      const again = await post(s, "/auth/users/reset_password_confirm/", { uid, token, new_password: NEW_PASSWORD });
      expect(again.status).toBe(400);
      expect(again.json).toEqual({ token: ["Invalid token for given user."] });
      expect((await post(s, "/auth/token/login/", { username, password: NEW_PASSWORD })).status).toBe(200);
    });

    it("every hash Django made logs in with the old password, on token/login and jwt/create, and becomes argon2id", async () => {
      // carol is left to the reset-link case (a login would change her password hash and last_login, which the link covers).
      const users = facts.users.filter(
        (u) => u.password && u.is_active && u.algorithm !== "md5" && u.username !== facts.reset.username,
      );
      expect(users.map((u) => u.algorithm).sort()).toEqual([
        "argon2",
        "bcrypt",
        "bcrypt_sha256",
        "pbkdf2_sha1",
        "pbkdf2_sha256",
        "pbkdf2_sha256",
      ]);
      for (const u of users) {
        const stored = async () => (await s.deps.prisma.user.findUniqueOrThrow({ where: { id: u.id } })).password;
        expect(await stored()).toMatch(new RegExp(`^${u.algorithm}\\$`));
        const token = await post(s, "/auth/token/login/", { username: u.username, password: u.password });
        expect(token.status, `${u.username} (${u.algorithm}): ${token.text}`).toBe(200);
        expect(token.json.auth_token).toMatch(/^[0-9a-f]{40}$/);
        expect(await stored()).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/); // re-hashed at the first login
        const jwt = await post(s, "/auth/jwt/create/", { username: u.username, password: u.password });
        expect(jwt.status, `${u.username} (${u.algorithm}) after the re-hash: ${jwt.text}`).toBe(200);
        expect(Object.keys(jwt.json)).toEqual(["refresh", "access"]);
        const me = await s.request("GET", "/auth/users/me/", {
          headers: { authorization: `Bearer ${jwt.json.access}` },
        });
        expect(me.json).toEqual({ email: u.email, id: u.id, username: u.username });
        expect(
          (await post(s, "/auth/token/login/", { username: u.username, password: "not-the-password" })).status,
        ).toBe(400);
      }
    });

    it("an inactive user stays inactive; an md5 hash cannot log in (reported as such); neither is re-hashed", async () => {
      for (const name of ["bob", "mallory"]) {
        const u = byName(name);
        const before = (await s.deps.prisma.user.findUniqueOrThrow({ where: { id: u.id } })).password;
        const token = await post(s, "/auth/token/login/", { username: u.username, password: u.password });
        expect(token.status).toBe(400);
        expect(token.json).toEqual({ non_field_errors: ["Unable to log in with provided credentials."] });
        const jwt = await post(s, "/auth/jwt/create/", { username: u.username, password: u.password });
        expect(jwt.status).toBe(401);
        expect(jwt.json).toEqual({ detail: "No active account found with the given credentials" });
        expect((await s.deps.prisma.user.findUniqueOrThrow({ where: { id: u.id } })).password).toBe(before);
      }
      expect(byName("bob").is_active).toBe(false);
    });

    it("an inactive user who never logged in waits for activation; any other inactive one counts as deactivated by staff", async () => {
      const select = { isActive: true, lastLogin: true, activationPending: true };
      const rows = await s.deps.prisma.user.findMany({ select });
      expect(rows.filter((r) => !r.isActive).length).toBeGreaterThan(0);
      for (const r of rows) expect(r.activationPending).toBe(!r.isActive && r.lastLogin === null);
    });

    it("the refresh token SimpleJWT blacklisted stays dead; the rotated one SimpleJWT issued works", async () => {
      const dead = await post(s, "/auth/jwt/refresh/", { refresh: facts.jwt.blacklisted_refresh });
      expect(dead.status).toBe(401);
      expect(dead.json).toEqual(facts.jwt.blacklisted_answer); // what SimpleJWT itself answered
      expect((await post(s, "/auth/jwt/verify/", { token: facts.jwt.blacklisted_refresh })).json).toEqual({
        non_field_errors: ["Token is blacklisted"],
      });
      const live = await post(s, "/auth/jwt/refresh/", { refresh: facts.jwt.refresh });
      expect(live.status, live.text).toBe(200);
      const me = await s.request("GET", "/auth/users/me/", {
        headers: { authorization: `Bearer ${live.json.access}` },
      });
      expect(me.json.username).toBe(facts.jwt.username);
    });

    it("a new registration gets a fresh id after Django's", async () => {
      const r = await post(s, "/auth/users/", {
        username: "newbie",
        email: "newbie@example.com",
        password: "Fr3sh!after-the-move",
      });
      expect(r.status, r.text).toBe(201);
      expect(r.json).toEqual({ email: "newbie@example.com", username: "newbie", id: 12 });
    });
  });

  it("after the move: conflicts are skipped with their reason, users used in Portcullis are not overwritten", async () => {
    // Django kept running a little after the first import: it registered "zoe" as id 12 (which
    // Portcullis gave "newbie") and a "newbie" of its own as id 13, with a key for zoe.
    const later = [
      ...dump,
      { model: "auth.user", pk: 12, fields: { ...dump[1]!.fields, username: "zoe", email: "zoe@example.com" } },
      {
        model: "auth.user",
        pk: 13,
        fields: { ...dump[1]!.fields, username: "newbie", email: "other-newbie@example.com" },
      },
      {
        model: "authtoken.token",
        pk: "0123456789abcdef0123456789abcdef01234567",
        fields: { user: 12, created: "2026-11-27T06:00:00Z" },
      },
    ];
    const file = join(tmp, `later-${kind}.json`);
    writeFileSync(file, JSON.stringify(later));
    const r = await cli(["import-django", file], env());
    expect(r.code, r.stderr).toBe(0);
    const used = "used in Portcullis since it was imported (or made here): Portcullis's row is newer, not overwritten";
    // bob, mallory and sso never logged in here: unchanged. admin, alice, dave, erin, frank, grace
    // did, and carol reset her password.
    const usedHere = ["admin", "alice", ...(resetDone ? ["carol"] : []), "dave", "erin", "frank", "grace"];
    expect(r.stdout).toBe(
      `Django import from ${file} (dumpdata)\n` +
        `users:                      0 imported, 0 updated, ${10 - usedHere.length} unchanged, ${usedHere.length + 2} skipped\n` +
        `authtoken keys:             0 imported, 0 updated, ${carolKeyRevoked ? 2 : 3} unchanged, ${carolKeyRevoked ? 2 : 1} skipped\n` +
        "blacklisted refresh tokens: 0 imported, 0 updated, 1 unchanged, 0 skipped\n" +
        "next new user id: 14\n" +
        "Skipped:\n" +
        usedHere.map((n) => `  user ${byName(n).id} (${n}): ${used}\n`).join("") +
        '  user 12 (zoe): conflict: id 12 is another user in Portcullis ("newbie")\n' +
        "  user 13 (newbie): conflict: the username belongs to user 12 in Portcullis\n" +
        (carolKeyRevoked
          ? "  authtoken key of user 4 (carol): not re-created: its user was already here before this run, so a missing key was revoked here (logout) or never imported\n"
          : "") +
        "  authtoken key of user 12 (zoe): the user was not imported\n" +
        HASH_NOTES,
    );
  });
});

// The Django tables import-django reads, as Django 3.2's migrations lay them out (auth, authtoken,
// token_blacklist), reduced to what matters here: columns, types, keys.
const DJANGO_DDL = `
CREATE TABLE auth_user (
  id serial PRIMARY KEY, password varchar(128) NOT NULL, last_login timestamptz NULL, is_superuser boolean NOT NULL,
  username varchar(150) NOT NULL UNIQUE, first_name varchar(150) NOT NULL, last_name varchar(150) NOT NULL,
  email varchar(254) NOT NULL, is_staff boolean NOT NULL, is_active boolean NOT NULL, date_joined timestamptz NOT NULL);
CREATE TABLE authtoken_token (
  key varchar(40) PRIMARY KEY, created timestamptz NOT NULL, user_id integer NOT NULL UNIQUE REFERENCES auth_user (id));
CREATE TABLE token_blacklist_outstandingtoken (
  id bigserial PRIMARY KEY, token text NOT NULL, created_at timestamptz NULL, expires_at timestamptz NOT NULL,
  user_id integer NULL REFERENCES auth_user (id) ON DELETE SET NULL, jti varchar(255) NOT NULL UNIQUE);
CREATE TABLE token_blacklist_blacklistedtoken (
  id bigserial PRIMARY KEY, blacklisted_at timestamptz NOT NULL, token_id bigint NOT NULL UNIQUE REFERENCES token_blacklist_outstandingtoken (id));`;

describe("import-django from a postgresql:// Django database", () => {
  let django: { url: string; drop(): Promise<void> };
  const target = `pglite:${join(tmp, "from-postgres")}`;
  // The fixture's last_login values, plus 456 µs: PostgreSQL keeps microseconds (dumpdata does not).
  const withMicros = (t: string | null) => t?.replace(/\.(\d{3})Z$/, ".$1456Z") ?? null;

  beforeAll(async () => {
    django = await freshPostgres();
    const c = new pg.Client({ connectionString: django.url });
    await c.connect();
    try {
      await c.query(DJANGO_DDL);
      for (const { model, pk, fields: f } of dump) {
        if (model === "auth.user") {
          await c.query(
            "INSERT INTO auth_user (id, password, last_login, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            [
              pk,
              f.password,
              withMicros(f.last_login),
              f.is_superuser,
              f.username,
              f.first_name,
              f.last_name,
              f.email,
              f.is_staff,
              f.is_active,
              f.date_joined,
            ],
          );
        } else if (model === "authtoken.token") {
          await c.query("INSERT INTO authtoken_token (key, created, user_id) VALUES ($1, $2, $3)", [
            pk,
            f.created,
            f.user,
          ]);
        } else if (model === "token_blacklist.outstandingtoken") {
          await c.query(
            "INSERT INTO token_blacklist_outstandingtoken (id, token, created_at, expires_at, user_id, jti) VALUES ($1, $2, $3, $4, $5, $6)",
            [pk, f.token, f.created_at, f.expires_at, f.user, f.jti],
          );
        } else if (model === "token_blacklist.blacklistedtoken") {
          await c.query(
            "INSERT INTO token_blacklist_blacklistedtoken (id, blacklisted_at, token_id) VALUES ($1, $2, $3)",
            [pk, f.blacklisted_at, f.token],
          );
        }
      }
      // Django handed out ids up to 20 and those users were deleted since: their blacklisted token
      // has no user any more (SET_NULL), and their ids must not be handed out again.
      await c.query(
        "INSERT INTO token_blacklist_outstandingtoken (id, token, expires_at, user_id, jti) VALUES (99, 'x', '2126-01-01Z', NULL, 'deleted-users-jti')",
      );
      await c.query(
        "INSERT INTO token_blacklist_blacklistedtoken (id, blacklisted_at, token_id) VALUES (99, now(), 99)",
      );
      await c.query("SELECT setval(pg_get_serial_sequence('auth_user', 'id'), 20)");
    } finally {
      await c.end();
    }
  });
  afterAll(async () => django?.drop());

  it("imports the same users, keys and blacklist, with microseconds, and past Django's id sequence", async () => {
    const env = { DATABASE_URL: target, SECRET_KEY: facts.secret_key };
    const r = await cli(["import-django", django.url], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("imported 10/10 users\n");
    expect(r.stdout).toBe(
      `Django import from ${django.url.replace("postgres@", "")} (PostgreSQL)\n` +
        "users:                      10 imported, 0 updated, 0 unchanged, 0 skipped\n" +
        "authtoken keys:             3 imported, 0 updated, 0 unchanged, 0 skipped\n" +
        "blacklisted refresh tokens: 1 imported, 0 updated, 0 unchanged, 0 skipped\n" +
        "next new user id: 21\n" +
        HASH_NOTES +
        "Not imported from the source:\n  1 blacklisted refresh token(s) of users deleted in Django: no user to attach them to (their ids are not handed out again)\n",
    );
    const again = await cli(["import-django", django.url, "--json"], env);
    expect(JSON.parse(again.stdout).users).toEqual({ imported: 0, updated: 0, unchanged: 10, skipped: 0 });

    const s = await serveOver(target);
    try {
      const logins = await s.deps.prisma.$queryRawUnsafe<{ username: string; last_login: string }[]>(
        "SELECT username, to_char(last_login AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS last_login FROM auth_user WHERE last_login IS NOT NULL ORDER BY id",
      );
      const fromDump = dump
        .filter((o) => o.model === "auth.user" && o.fields.last_login)
        .map((o) => ({ username: o.fields.username, last_login: withMicros(o.fields.last_login) }));
      expect(logins).toEqual(fromDump); // e.g. 05:42:28.637456Z: the microseconds made it
      expect(logins.every((r) => r.last_login.endsWith("456Z"))).toBe(true);
      for (const name of ["alice", "frank", "grace"]) {
        const u = byName(name);
        expect((await post(s, "/auth/jwt/create/", { username: name, password: u.password })).status, name).toBe(200);
      }
      const alice = byName("alice");
      expect(
        (await s.request("GET", "/auth/users/me/", { headers: { authorization: `Token ${alice.auth_token}` } })).json
          .id,
      ).toBe(alice.id);
      expect((await post(s, "/auth/jwt/refresh/", { refresh: facts.jwt.blacklisted_refresh })).json).toEqual(
        facts.jwt.blacklisted_answer,
      );
      const fresh = await post(s, "/auth/users/", {
        username: "after-django",
        email: "after@example.com",
        password: "Fr3sh!after-the-move",
      });
      expect(fresh.json.id).toBe(21);
      // carol uses her old key once, then logs out here: that key is revoked for good.
      const carol = byName("carol");
      expect(
        (await s.request("POST", "/auth/token/logout/", { headers: { authorization: `Token ${carol.auth_token}` } }))
          .status,
      ).toBe(204);
    } finally {
      await s.stop();
    }
  });

  it("a re-run updates what changed in Django, and does not bring back a key revoked here", async () => {
    const env = { DATABASE_URL: target, SECRET_KEY: facts.secret_key };
    // Meanwhile in Django: bob was activated, with a new address, and logged in for a key.
    const BOB_KEY = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0";
    const c = new pg.Client({ connectionString: django.url });
    await c.connect();
    await c.query(
      "UPDATE auth_user SET is_active = true, email = 'bob@new.example.com', last_login = '2026-11-28T10:00:00.000001Z' WHERE username = 'bob'",
    );
    await c.query("INSERT INTO authtoken_token (key, created, user_id) VALUES ($1, now(), $2)", [
      BOB_KEY,
      byName("bob").id,
    ]);
    await c.end();

    const r = await cli(["import-django", django.url], env);
    expect(r.code, r.stderr).toBe(0);
    const used = "used in Portcullis since it was imported (or made here): Portcullis's row is newer, not overwritten";
    expect(r.stdout).toContain(
      "users:                      0 imported, 1 updated, 6 unchanged, 3 skipped\n" +
        "authtoken keys:             1 imported, 0 updated, 2 unchanged, 1 skipped\n" +
        "blacklisted refresh tokens: 0 imported, 0 updated, 1 unchanged, 0 skipped\n" +
        "next new user id: 22\n" +
        "Skipped:\n" +
        ["alice", "frank", "grace"].map((n) => `  user ${byName(n).id} (${n}): ${used}\n`).join("") +
        "  authtoken key of user 4 (carol): not re-created: its user was already here before this run, so a missing key was revoked here (logout) or never imported\n",
    );

    const s = await serveOver(target);
    try {
      const bob = byName("bob");
      expect((await post(s, "/auth/token/login/", { username: "bob", password: bob.password })).status).toBe(200);
      const me = await s.request("GET", "/auth/users/me/", { headers: { authorization: `Token ${BOB_KEY}` } });
      expect(me.json).toEqual({ email: "bob@new.example.com", id: bob.id, username: "bob" });
      const revoked = await s.request("GET", "/auth/users/me/", {
        headers: { authorization: `Token ${byName("carol").auth_token}` },
      });
      expect(revoked.status).toBe(401);
      expect(revoked.json).toEqual({ detail: "Invalid token." });
    } finally {
      await s.stop();
    }
  });
});
