// `portcullis import-django` from a postgresql:// Django database (the tables Django 3.2's
// migrations make, filled with the rows of the fixture the REAL Djoser 2.1 / Django 3.2 made), as
// an operator runs it, then a Portcullis server over the imported database.
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { freshPostgres } from "../../helpers/server.ts";
import { byName, cli, dump, facts, HASH_NOTES, post, serveOver, tmp } from "./import-django-setup.ts";

// Each case spawns the CLI (tsx start-up, PGlite start-up) a few times: slower than 30 s on a busy machine.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

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
  id bigserial PRIMARY KEY, blacklisted_at timestamptz NOT NULL,
  token_id bigint NOT NULL UNIQUE REFERENCES token_blacklist_outstandingtoken (id));`;

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
            "INSERT INTO auth_user (id, password, last_login, is_superuser, username, first_name, last_name, " +
              "email, is_staff, is_active, date_joined) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
            "INSERT INTO token_blacklist_outstandingtoken (id, token, created_at, expires_at, user_id, jti) " +
              "VALUES ($1, $2, $3, $4, $5, $6)",
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
        "INSERT INTO token_blacklist_outstandingtoken (id, token, expires_at, user_id, jti) " +
          "VALUES (99, 'x', '2126-01-01Z', NULL, 'deleted-users-jti')",
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
        "Not imported from the source:\n" +
        "  1 blacklisted refresh token(s) of users deleted in Django: " +
        "no user to attach them to (their ids are not handed out again)\n",
    );
    const again = await cli(["import-django", django.url, "--json"], env);
    expect(JSON.parse(again.stdout).users).toEqual({ imported: 0, updated: 0, unchanged: 10, skipped: 0 });

    const s = await serveOver(target);
    try {
      const logins = await s.deps.prisma.$queryRawUnsafe<{ username: string; last_login: string }[]>(
        "SELECT username, to_char(last_login AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS last_login " +
          "FROM auth_user WHERE last_login IS NOT NULL ORDER BY id",
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
      "UPDATE auth_user SET is_active = true, email = 'bob@new.example.com', " +
        "last_login = '2026-11-28T10:00:00.000001Z' WHERE username = 'bob'",
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
        "  authtoken key of user 4 (carol): not re-created: " +
        "its user was already here before this run, so a missing key was revoked here (logout) or never imported\n",
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
