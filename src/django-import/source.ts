// Readers for `portcullis import-django`: the users, DRF authtoken keys and SimpleJWT blacklist of
// a Django database, from the database itself (postgresql://…, read with pg in one read-only
// snapshot) or from `python manage.py dumpdata auth.User authtoken.Token token_blacklist` JSON.
import { readFile } from "node:fs/promises";
import pg from "pg";

/** Timestamps travel as canonical UTC strings with microseconds, "2026-11-27T05:42:28.637123Z". */
export type DjangoUser = {
  id: number;
  username: string;
  email: string;
  firstName: string;
  lastName: string;
  password: string;
  isActive: boolean;
  isStaff: boolean;
  isSuperuser: boolean;
  dateJoined: string;
  lastLogin: string | null;
};
export type DjangoToken = { key: string; userId: number; created: string };
export type DjangoBlacklisted = {
  jti: string;
  userId: number;
  created: string | null;
  expiresAt: string;
  blacklistedAt: string;
};
export type SourceBatch = { users: DjangoUser[]; tokens: DjangoToken[]; blacklisted: DjangoBlacklisted[] };

export type DjangoSource = {
  label: string;
  totalUsers: number;
  /** The highest user id Django has handed out, as far as the source tells (its id sequence, or the highest pk). */
  maxId: number;
  /** Users (ordered by id) with their tokens and blacklisted refresh tokens, `size` users at a time. */
  batches(size: number): AsyncGenerator<SourceBatch>;
  /** What the source holds that is not imported, and why (complete once batches() has finished). */
  leftOut: string[];
  close(): Promise<void>;
};

/** The source cannot be read: a message for the operator, no stack. */
export class SourceError extends Error {}

const TIMESTAMP = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(Z|[+-]\d\d(?::?\d\d)?)?$/;

/**
 * ISO 8601 / PostgreSQL text → "YYYY-MM-DDTHH:MM:SS.ffffffZ" in UTC, microseconds kept (a JS Date
 * would keep milliseconds). A value without an offset is taken as UTC (Django with USE_TZ=True
 * stores UTC). Throws on anything else.
 */
export function canonicalTimestamp(text: string): string {
  const m = TIMESTAMP.exec(text);
  if (!m) throw new SourceError(`not a timestamp: ${JSON.stringify(text)}`);
  const [, y, mo, d, h, mi, s, frac = "", zone = "Z"] = m;
  const wall = Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!);
  // Date.UTC rolls "02-30" over to March: a value that does not come back unchanged is no date.
  if (new Date(wall).toISOString().slice(0, 19) !== `${y}-${mo}-${d}T${h}:${mi}:${s}`)
    throw new SourceError(`not a timestamp: ${JSON.stringify(text)}`);
  const sign = zone[0] === "-" ? -1 : 1;
  const offsetMinutes =
    zone === "Z" ? 0 : sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.replace(":", "").slice(3, 5) || 0));
  return `${new Date(wall - offsetMinutes * 60_000).toISOString().slice(0, 19)}.${frac.padEnd(6, "0")}Z`;
}

export async function openDjangoSource(spec: string): Promise<DjangoSource> {
  return /^postgres(ql)?:\/\//.test(spec) ? fromPostgres(spec) : fromDumpdata(spec);
}

// ---- dumpdata JSON -------------------------------------------------------------------------

type Obj = { model?: unknown; pk?: unknown; fields?: Record<string, unknown> };
const str = (v: unknown) => (typeof v === "string" ? v : v == null ? "" : String(v));
const when = (v: unknown) => (typeof v === "string" ? canonicalTimestamp(v) : null);

async function fromDumpdata(path: string): Promise<DjangoSource> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(path, "utf8"));
  } catch (e) {
    throw new SourceError(`Cannot read ${path}: ${(e as Error).message}`);
  }
  const usage =
    "make it with `python manage.py dumpdata auth.User authtoken.Token token_blacklist --indent 2 > dump.json`";
  if (!Array.isArray(data))
    throw new SourceError(`${path} is not a dumpdata file (a JSON array of {model, pk, fields}): ${usage}.`);
  const leftOut: string[] = [];
  const byModel = new Map<string, Obj[]>();
  for (const o of data as Obj[]) {
    const model = typeof o?.model === "string" ? o.model.toLowerCase() : "?";
    byModel.set(model, [...(byModel.get(model) ?? []), o]);
  }
  const users: DjangoUser[] = [];
  for (const o of byModel.get("auth.user") ?? []) {
    const f = o.fields ?? {};
    try {
      if (!Number.isInteger(o.pk)) throw new SourceError("no integer pk (was the dump made with --natural-primary?)");
      users.push({
        id: o.pk as number,
        username: str(f.username),
        email: str(f.email),
        firstName: str(f.first_name),
        lastName: str(f.last_name),
        password: str(f.password),
        isActive: f.is_active !== false,
        isStaff: f.is_staff === true,
        isSuperuser: f.is_superuser === true,
        dateJoined: when(f.date_joined) ?? canonicalTimestamp(new Date().toISOString()),
        lastLogin: when(f.last_login),
      });
    } catch (e) {
      leftOut.push(
        `user ${JSON.stringify(o.pk ?? null)} (${JSON.stringify(f.username ?? null)}): ${(e as Error).message}`,
      );
    }
  }
  if (!byModel.has("auth.user")) throw new SourceError(`${path} holds no auth.user objects: ${usage}.`);
  users.sort((a, b) => a.id - b.id);
  // --natural-foreign writes a user reference as ["username"].
  const idOf = new Map(users.map((u) => [u.username, u.id]));
  const userRef = (v: unknown) =>
    Number.isInteger(v)
      ? (v as number)
      : Array.isArray(v) && typeof v[0] === "string"
        ? (idOf.get(v[0]) ?? null)
        : null;
  const tokens: DjangoToken[] = (byModel.get("authtoken.token") ?? []).flatMap((o) => {
    const userId = userRef(o.fields?.user);
    if (userId === null || typeof o.pk !== "string") {
      leftOut.push("an authtoken key: no user or key in the dump");
      return [];
    }
    return [{ key: o.pk, userId, created: when(o.fields?.created) ?? canonicalTimestamp(new Date().toISOString()) }];
  });
  const outstanding = new Map(
    (byModel.get("token_blacklist.outstandingtoken") ?? []).map((o) => [o.pk, o.fields ?? {}]),
  );
  const blacklisted: DjangoBlacklisted[] = (byModel.get("token_blacklist.blacklistedtoken") ?? []).flatMap((o) => {
    const t = outstanding.get(o.fields?.token);
    const userId = t ? userRef(t.user) : null;
    if (!t || userId === null || typeof t.jti !== "string" || typeof t.expires_at !== "string") {
      const why = t
        ? "its user was deleted in Django (it names no user here)"
        : "its outstanding token is not in the dump";
      leftOut.push(`a blacklisted refresh token: ${why}`);
      return [];
    }
    return [
      {
        jti: t.jti,
        userId,
        created: when(t.created_at),
        expiresAt: canonicalTimestamp(t.expires_at),
        blacklistedAt: when(o.fields?.blacklisted_at) ?? canonicalTimestamp(new Date().toISOString()),
      },
    ];
  });
  const known = new Set(users.map((u) => u.id));
  for (const t of tokens)
    if (!known.has(t.userId)) leftOut.push(`an authtoken key of user ${t.userId}: that user is not in the dump`);
  for (const b of blacklisted)
    if (!known.has(b.userId))
      leftOut.push(`a blacklisted refresh token of user ${b.userId}: that user is not in the dump`);
  const grouped = (byModel.get("auth.user") ?? []).filter((o) =>
    [o.fields?.groups, o.fields?.user_permissions].some((v) => Array.isArray(v) && v.length > 0),
  ).length;
  if (grouped)
    leftOut.push(
      `group memberships and permissions of ${grouped} user(s): Portcullis has neither (is_staff and is_superuser are imported)`,
    );
  const ignored = [...byModel.keys()].filter(
    (m) =>
      ![
        "auth.user",
        "authtoken.token",
        "token_blacklist.outstandingtoken",
        "token_blacklist.blacklistedtoken",
      ].includes(m),
  );
  if (ignored.length) leftOut.push(`objects of other models (${ignored.join(", ")}): not Portcullis's`);
  return {
    label: `${path} (dumpdata)`,
    totalUsers: users.length,
    maxId: users.reduce((max, u) => Math.max(max, u.id), 0),
    leftOut,
    async *batches(size) {
      for (let i = 0; i < users.length; i += size) {
        const slice = users.slice(i, i + size);
        const ids = new Set(slice.map((u) => u.id));
        yield {
          users: slice,
          tokens: tokens.filter((t) => ids.has(t.userId)),
          blacklisted: blacklisted.filter((b) => ids.has(b.userId)),
        };
      }
    },
    close: async () => {},
  };
}

// ---- PostgreSQL ------------------------------------------------------------------------------

// Django with USE_TZ stores timestamptz; read as UTC text with microseconds (the session is UTC, so
// a naive `timestamp` column reads as UTC too).
const ts = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

async function fromPostgres(url: string): Promise<DjangoSource> {
  const client = new pg.Client({ connectionString: url });
  const where = url.replace(/\/\/[^@/]*@/, "//");
  try {
    await client.connect();
  } catch (e) {
    throw new SourceError(`Cannot connect to the Django database ${where}: ${(e as Error).message}`);
  }
  const one = async <T>(sql: string, params: unknown[] = []) => (await client.query(sql, params)).rows[0] as T;
  try {
    await client.query("SET TIME ZONE 'UTC'");
    // Django's id sequence may be ahead of max(id) (its newest users deleted): their ids must not be
    // handed out again, since SimpleJWT tokens issued to them name those ids. Read before the snapshot:
    // it only grows, and needs privileges a read-only role may lack.
    const seq = await one<{ v: string | null }>(
      "SELECT pg_sequence_last_value(pg_get_serial_sequence('auth_user', 'id')::regclass)::text AS v",
    ).catch(() => ({ v: null }));
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const t = await one<Record<string, boolean>>(
      `SELECT to_regclass('auth_user') IS NOT NULL AS users, to_regclass('authtoken_token') IS NOT NULL AS tokens,
              to_regclass('token_blacklist_blacklistedtoken') IS NOT NULL AS blacklist, to_regclass('auth_user_groups') IS NOT NULL AS groups`,
    );
    if (!t.users) throw new SourceError(`${where} has no auth_user table: is it the Django database?`);
    const { n, max } = await one<{ n: number; max: number | null }>(
      "SELECT count(*)::int AS n, max(id) AS max FROM auth_user",
    );
    const leftOut: string[] = [];
    if (t.blacklist) {
      const { orphans } = await one<{ orphans: number }>(
        "SELECT count(*)::int AS orphans FROM token_blacklist_blacklistedtoken b JOIN token_blacklist_outstandingtoken o ON o.id = b.token_id WHERE o.user_id IS NULL",
      );
      if (orphans)
        leftOut.push(
          `${orphans} blacklisted refresh token(s) of users deleted in Django: no user to attach them to (their ids are not handed out again)`,
        );
    }
    if (t.groups) {
      const { g } = await one<{ g: number }>(
        "SELECT count(DISTINCT user_id)::int AS g FROM (SELECT user_id FROM auth_user_groups UNION ALL SELECT user_id FROM auth_user_user_permissions) x",
      );
      if (g)
        leftOut.push(
          `group memberships and permissions of ${g} user(s): Portcullis has neither (is_staff and is_superuser are imported)`,
        );
    }
    return {
      label: `${where} (PostgreSQL)`,
      totalUsers: n,
      maxId: Math.max(max ?? 0, Number(seq.v ?? 0)),
      leftOut,
      async *batches(size) {
        for (let after = 0; ; ) {
          const users = (
            await client.query(
              `SELECT id, username, email, first_name, last_name, password, is_active, is_staff, is_superuser,
                      ${ts("date_joined")} AS date_joined, ${ts("last_login")} AS last_login
                 FROM auth_user WHERE id > $1 ORDER BY id LIMIT $2`,
              [after, size],
            )
          ).rows.map(
            (r): DjangoUser => ({
              id: r.id,
              username: r.username,
              email: r.email ?? "",
              firstName: r.first_name ?? "",
              lastName: r.last_name ?? "",
              password: r.password ?? "",
              isActive: r.is_active,
              isStaff: r.is_staff,
              isSuperuser: r.is_superuser,
              dateJoined: r.date_joined,
              lastLogin: r.last_login,
            }),
          );
          if (!users.length) return;
          after = users[users.length - 1]!.id;
          const ids = users.map((u) => u.id);
          const tokens = t.tokens
            ? (
                await client.query(
                  `SELECT key, user_id, ${ts("created")} AS created FROM authtoken_token WHERE user_id = ANY($1::int[])`,
                  [ids],
                )
              ).rows
            : [];
          const blacklisted = t.blacklist
            ? (
                await client.query(
                  `SELECT o.jti, o.user_id, ${ts("o.created_at")} AS created, ${ts("o.expires_at")} AS expires_at, ${ts("b.blacklisted_at")} AS blacklisted_at
                     FROM token_blacklist_blacklistedtoken b JOIN token_blacklist_outstandingtoken o ON o.id = b.token_id WHERE o.user_id = ANY($1::int[])`,
                  [ids],
                )
              ).rows
            : [];
          yield {
            users,
            tokens: tokens.map((r) => ({ key: r.key, userId: r.user_id, created: r.created })),
            blacklisted: blacklisted.map((r) => ({
              jti: r.jti,
              userId: r.user_id,
              created: r.created,
              expiresAt: r.expires_at,
              blacklistedAt: r.blacklisted_at,
            })),
          };
        }
      },
      close: async () => {
        await client.end().catch(() => {});
      },
    };
  } catch (e) {
    await client.end().catch(() => {});
    throw e instanceof SourceError
      ? e
      : new SourceError(`Cannot read the Django database ${where}: ${(e as Error).message}`);
  }
}
