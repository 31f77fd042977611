// `portcullis import-django` as an operator runs it (`node bin/portcullis.js import-django …` in a
// child process, set up through the environment), from a dumpdata file the REAL Djoser 2.1 /
// Django 3.2 made (test/fixtures/django-import/, see its README.md), then a Portcullis server over
// the imported database, with the reference's SECRET_KEY, answering the clients of the old
// deployment.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { checkToken, decodeUid } from "../../../src/compat/django/links.ts";
import { openDatabase } from "../../../src/db/index.ts";
import { DATABASES, freshPostgres, type TestServer } from "../../helpers/server.ts";
import { byName, cli, DUMP, dump, facts, HASH_NOTES, post, SERVER_ENV, serveOver, tmp } from "./import-django-setup.ts";

const NEW_PASSWORD = "Nw5!reset-after-the-move";

// Each case spawns the CLI (tsx start-up, PGlite start-up) a few times: slower than 30 s on a busy machine.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

/**
 * Row counts and the id sequence, read with the project's own database opener (then closed: PGlite
 * is single-process).
 */
async function snapshot(url: string) {
  const db = await openDatabase(url);
  try {
    const [row] = await db.prisma.$queryRawUnsafe<Record<string, number | null>[]>(
      `SELECT (SELECT count(*)::int FROM auth_user) AS users, (SELECT count(*)::int FROM auth_token) AS tokens,
              (SELECT count(*)::int FROM jwt_session) AS sessions,
              (SELECT count(*)::int FROM jwt_refresh_token) AS refresh,
              pg_sequence_last_value(pg_get_serial_sequence('auth_user', 'id')::regclass)::int AS seq`,
    );
    return row!;
  } finally {
    await db.close();
  }
}

const counts = (label: string, c: string) => new RegExp(`^${label}\\s+${c}$`, "m");
const FIRST_IMPORT = [
  counts("users:", "10 imported, 0 updated, 0 unchanged, 0 skipped"),
  counts("authtoken keys:", "3 imported, 0 updated, 0 unchanged, 0 skipped"),
  counts("blacklisted refresh tokens:", "1 imported, 0 updated, 0 unchanged, 0 skipped"),
];

const BAD_USAGE_ENV = { DATABASE_URL: "pglite:memory", SECRET_KEY: facts.secret_key };
it("bad usage exits 2 and says what to do", async () => {
  const none = await cli(["import-django"], BAD_USAGE_ENV);
  expect(none.code).toBe(2);
  expect(none.stderr).toContain(
    "import-django needs exactly one source (got 0). Pass the Django database's postgresql://… URL, or a " +
      "file made with `python manage.py dumpdata",
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
                to_char(last_login AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS last_login
         FROM auth_user ORDER BY id`,
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
      // The gap Django left (user 5 deleted) stays.
      expect(rows.map((r) => r.id)).toEqual([1, 2, 3, 4, 6, 7, 8, 9, 10, 11]);
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

    it(
      "the reset link Django mailed before the move works once " + "(POST /auth/users/reset_password_confirm/)",
      async () => {
        const { uid, token, username } = facts.reset;
        const first = await post(s, "/auth/users/reset_password_confirm/", { uid, token, new_password: NEW_PASSWORD });
        expect(first.status, `reset_password_confirm answered ${first.status} ${first.text}`).toBe(204);
        resetDone = true;
        const carolKey = byName(facts.reset.username).auth_token;
        carolKeyRevoked =
          (await s.request("GET", "/auth/users/me/", { headers: { authorization: `Token ${carolKey}` } })).status ===
          401;
        const again = await post(s, "/auth/users/reset_password_confirm/", { uid, token, new_password: NEW_PASSWORD });
        expect(again.status).toBe(400);
        expect(again.json).toEqual({ token: ["Invalid token for given user."] });
        expect((await post(s, "/auth/token/login/", { username, password: NEW_PASSWORD })).status).toBe(200);
      },
    );

    it(
      "every hash Django made logs in with the old password, " + "on token/login and jwt/create, and becomes argon2id",
      async () => {
        // carol is left to the reset-link case (a login would change her password hash and last_login,
        // which the link covers).
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
      },
    );

    it(
      "an inactive user stays inactive; " + "an md5 hash cannot log in (reported as such); neither is re-hashed",
      async () => {
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
      },
    );

    it(
      "an inactive user who never logged in waits for activation; " +
        "any other inactive one counts as deactivated by staff",
      async () => {
        const select = { isActive: true, lastLogin: true, activationPending: true };
        const rows = await s.deps.prisma.user.findMany({ select });
        expect(rows.filter((r) => !r.isActive).length).toBeGreaterThan(0);
        for (const r of rows) expect(r.activationPending).toBe(!r.isActive && r.lastLogin === null);
      },
    );

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

  it(
    "after the move: conflicts are skipped with their reason, " + "users used in Portcullis are not overwritten",
    async () => {
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
      const used =
        "used in Portcullis since it was imported (or made here): Portcullis's row is newer, not overwritten";
      // bob, mallory and sso never logged in here: unchanged. admin, alice, dave, erin, frank, grace
      // did, and carol reset her password.
      const usedHere = ["admin", "alice", ...(resetDone ? ["carol"] : []), "dave", "erin", "frank", "grace"];
      expect(r.stdout).toBe(
        `Django import from ${file} (dumpdata)\n` +
          `users:                      0 imported, 0 updated, ${10 - usedHere.length} unchanged, ` +
          `${usedHere.length + 2} skipped\n` +
          `authtoken keys:             0 imported, 0 updated, ${carolKeyRevoked ? 2 : 3} unchanged, ` +
          `${carolKeyRevoked ? 2 : 1} skipped\n` +
          "blacklisted refresh tokens: 0 imported, 0 updated, 1 unchanged, 0 skipped\n" +
          "next new user id: 14\n" +
          "Skipped:\n" +
          usedHere.map((n) => `  user ${byName(n).id} (${n}): ${used}\n`).join("") +
          '  user 12 (zoe): conflict: id 12 is another user in Portcullis ("newbie")\n' +
          "  user 13 (newbie): conflict: the username belongs to user 12 in Portcullis\n" +
          (carolKeyRevoked
            ? "  authtoken key of user 4 (carol): not re-created: its user was already here before this run, " +
              "so a missing key was revoked here (logout) or never imported\n"
            : "") +
          "  authtoken key of user 12 (zoe): the user was not imported\n" +
          HASH_NOTES,
      );
    },
  );
});
