// Readers for `portcullis import-django`: the users, DRF authtoken keys and SimpleJWT blacklist of
// a Django database, from the database itself (postgresql://…, django-db.ts) or from
// `python manage.py dumpdata auth.User authtoken.Token token_blacklist` JSON (here).
import { readFile } from "node:fs/promises";
import { fromPostgres } from "./django-db.ts";
import {
  canonicalTimestamp,
  type DjangoBlacklisted,
  type DjangoSource,
  type DjangoToken,
  type DjangoUser,
  SourceError,
} from "./records.ts";

export type {
  DjangoBlacklisted,
  DjangoSource,
  DjangoToken,
  DjangoUser,
  SourceBatch,
} from "./records.ts";
export { canonicalTimestamp, SourceError } from "./records.ts";

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
      `group memberships and permissions of ${grouped} user(s): ` +
        "Portcullis has neither (is_staff and is_superuser are imported)",
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
