// The Django database itself (postgresql://…) as a source for `portcullis import-django`, read
// with pg in one read-only snapshot.
import pg from "pg";
import { type DjangoSource, type DjangoUser, SourceError } from "./records.ts";

// Django with USE_TZ stores timestamptz; read as UTC text with microseconds (the session is UTC, so
// a naive `timestamp` column reads as UTC too).
const ts = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export async function fromPostgres(url: string): Promise<DjangoSource> {
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
              to_regclass('token_blacklist_blacklistedtoken') IS NOT NULL AS blacklist, ` +
        "to_regclass('auth_user_groups') IS NOT NULL AS groups",
    );
    if (!t.users) throw new SourceError(`${where} has no auth_user table: is it the Django database?`);
    const { n, max } = await one<{ n: number; max: number | null }>(
      "SELECT count(*)::int AS n, max(id) AS max FROM auth_user",
    );
    const leftOut: string[] = [];
    if (t.blacklist) {
      const { orphans } = await one<{ orphans: number }>(
        "SELECT count(*)::int AS orphans FROM token_blacklist_blacklistedtoken b " +
          "JOIN token_blacklist_outstandingtoken o ON o.id = b.token_id WHERE o.user_id IS NULL",
      );
      if (orphans)
        leftOut.push(
          `${orphans} blacklisted refresh token(s) of users deleted in Django: ` +
            "no user to attach them to (their ids are not handed out again)",
        );
    }
    if (t.groups) {
      const { g } = await one<{ g: number }>(
        "SELECT count(DISTINCT user_id)::int AS g FROM " +
          "(SELECT user_id FROM auth_user_groups UNION ALL SELECT user_id FROM auth_user_user_permissions) x",
      );
      if (g)
        leftOut.push(
          `group memberships and permissions of ${g} user(s): ` +
            "Portcullis has neither (is_staff and is_superuser are imported)",
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
                  `SELECT key, user_id, ${ts("created")} AS created ` +
                    "FROM authtoken_token WHERE user_id = ANY($1::int[])",
                  [ids],
                )
              ).rows
            : [];
          const blacklisted = t.blacklist
            ? (
                await client.query(
                  `SELECT o.jti, o.user_id, ${ts("o.created_at")} AS created, ${ts("o.expires_at")} AS expires_at, ` +
                    `${ts("b.blacklisted_at")} AS blacklisted_at
                     FROM token_blacklist_blacklistedtoken b ` +
                    "JOIN token_blacklist_outstandingtoken o ON o.id = b.token_id WHERE o.user_id = ANY($1::int[])",
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
