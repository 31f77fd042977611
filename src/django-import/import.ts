// `portcullis import-django`: moving off Djoser without logging anyone out. Users keep their ids,
// usernames, flags, dates and password hash string as is (Django's hash verifies here and becomes
// argon2id at the first login, passwords.ts); reset links Django mailed keep working with the same
// SECRET_KEY (their hash covers id, password string, last_login and email, links.ts), activation
// links do not (each purpose has its own salt here: the user asks resend_activation for a new one);
// DRF authtoken keys keep working (stored hashed, as Portcullis stores keys); refresh tokens
// SimpleJWT blacklisted stay dead.
//
// One transaction per batch of users, holding the users and their keys and blacklisted tokens, so
// a failure leaves whole users behind, never half of one. Re-runs are safe: see importBatch.
import { isVerifiableHash } from "../compat/django/hashers.ts";
import type { Settings } from "../config/schema.ts";
import type { Prisma } from "../db/index.ts";
import { type Db, IMPORTED_BLACKLIST, importBlacklist, importKeys } from "./credentials.ts";
import { emptyPart, type ImportReport, merge, type Part } from "./report.ts";
import type { DjangoSource, DjangoUser, SourceBatch } from "./source.ts";

export { formatReport, type ImportReport } from "./report.ts";
export type ImportOptions = {
  dryRun?: boolean;
  batchSize?: number /** no Portcullis tables yet (a dry run before migrating) */;
  emptyTarget?: boolean;
  onProgress?: (done: number, total: number) => void;
};

export class ImportError extends Error {}

const ts = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const COLUMNS =
  "id int, username text, email text, first_name text, last_name text, password text, " +
  "is_active boolean, is_staff boolean, is_superuser boolean, date_joined timestamptz, last_login timestamptz";
const NAMES =
  "id, username, email, first_name, last_name, password, is_active, is_staff, is_superuser, date_joined, last_login";
type Row = {
  id: number;
  username: string;
  email: string;
  first_name: string;
  last_name: string;
  password: string;
  is_active: boolean;
  is_staff: boolean;
  is_superuser: boolean;
  date_joined: string;
  last_login: string | null;
};
const row = (u: DjangoUser): Row => ({
  id: u.id,
  username: u.username,
  email: u.email,
  first_name: u.firstName,
  last_name: u.lastName,
  password: u.password,
  is_active: u.isActive,
  is_staff: u.isStaff,
  is_superuser: u.isSuperuser,
  date_joined: u.dateJoined,
  last_login: u.lastLogin,
});
const SAME_FIELDS = [
  "email",
  "first_name",
  "last_name",
  "password",
  "is_active",
  "is_staff",
  "is_superuser",
  "date_joined",
  "last_login",
] as const;

// Portcullis's column sizes (Django 3.2's are smaller, so only a hand-edited source trips these).
function problemWith(u: DjangoUser): string | null {
  if (!Number.isInteger(u.id) || u.id < 1 || u.id > 2 ** 31 - 1) return "the id is not a positive 32-bit integer";
  if (!u.username) return "no username";
  if ([...u.username].length > 150) return "username longer than 150 characters";
  if ([...u.email].length > 254) return "email longer than 254 characters";
  if ([...u.firstName].length > 150 || [...u.lastName].length > 150)
    return "first or last name longer than 150 characters";
  if ([...u.password].length > 255) return "password hash longer than 255 characters";
  return null;
}

export async function importDjango(
  prisma: Prisma,
  settings: Settings,
  source: DjangoSource,
  opts: ImportOptions = {},
): Promise<ImportReport> {
  if (settings.USERNAME_FIELD === "email") {
    throw new ImportError(
      "import-django imports Django's auth.User, whose login is the username; " +
        "this Portcullis has USERNAME_FIELD=email (no usernames). " +
        "Import into a deployment with USERNAME_FIELD=username.",
    );
  }
  const dryRun = opts.dryRun ?? false;
  const report: ImportReport = { ...emptyPart(), source: source.label, dryRun, leftOut: [], nextId: 1 };
  // First, so that registrations during the import get ids past Django's (see django-source.ts).
  if (!dryRun) await nextUserId(prisma, source.maxId, true);
  let done = 0;
  const seen: Seen = { ids: new Set(), names: new Map() };
  for await (const batch of source.batches(opts.batchSize ?? 500)) {
    try {
      const part = dryRun
        ? await importBatch(prisma, batch, seen, false, opts.emptyTarget ?? false)
        : await prisma.$transaction((tx) => importBatch(tx, batch, seen, true, false), {
            maxWait: 60_000,
            timeout: 600_000,
          });
      merge(report, part);
    } catch (e) {
      const first = batch.users[0]?.id;
      throw new ImportError(
        dryRun
          ? `Checking the batch of users from id ${first} failed (dry run, nothing written): ${(e as Error).message}`
          : `The batch of users from id ${first} failed and was rolled back ` +
              `(the ${done} users before it are imported; running the import again is safe): ${(e as Error).message}`,
      );
    }
    done += batch.users.length;
    opts.onProgress?.(done, source.totalUsers);
  }
  report.leftOut = source.leftOut;
  report.nextId = opts.emptyTarget ? source.maxId + 1 : await nextUserId(prisma, source.maxId, !dryRun);
  return report;
}

/** The id the next registration gets; with `bump`, first moves the sequence past `floor` and max(id). */
async function nextUserId(db: Db, floor: number, bump: boolean): Promise<number> {
  const [r] = await db.$queryRawUnsafe<{ last: number | null; max: number | null }[]>(
    "SELECT pg_sequence_last_value(pg_get_serial_sequence('auth_user', 'id')::regclass)::int AS last, " +
      "(SELECT max(id) FROM auth_user) AS max",
  );
  const last = r?.last ?? 0;
  const target = Math.max(Math.min(floor, 2 ** 31 - 2), r?.max ?? 0); // a corrupt pk (skipped) must not break setval
  if (bump && target > last)
    await db.$queryRawUnsafe("SELECT setval(pg_get_serial_sequence('auth_user', 'id'), $1::int, true)", target);
  return Math.max(target, last) + 1;
}

/** Ids and usernames met so far in the source (Django keeps both unique; a hand-made dump may not). */
type Seen = { ids: Set<number>; names: Map<string, number> };

/**
 * One batch. A user whose id and username are both free is imported. One already here under the
 * same id and username is compared field by field: unchanged, or updated from Django — unless it
 * has been used in Portcullis since (a Portcullis password, a login, a key or JWT used here): then
 * Portcullis's row is the newer truth and is left alone. Same id with another username, or the
 * username under another id, is a conflict: skipped with the reason. Keys are created only with
 * their user (imported or updated now): a key missing for an earlier-imported user was revoked
 * here (logout) and must not come back. Blacklisted jtis are added for every user that is the
 * same person here (adding dead tokens is always safe).
 */
async function importBatch(
  db: Db,
  batch: SourceBatch,
  seen: Seen,
  write: boolean,
  emptyTarget: boolean,
): Promise<Part> {
  const part = emptyPart();
  const who = new Map(batch.users.map((u) => [u.id, `user ${u.id} (${u.username})`]));
  const valid = batch.users.filter((u) => {
    const problem = problemWith(u);
    if (!problem) return true;
    part.users.skipped++;
    part.skipped.push(`user ${u.id} (${JSON.stringify(u.username)}): ${problem}`);
    return false;
  });
  const existing = emptyTarget
    ? []
    : await db.$queryRawUnsafe<(Row & { used_here: boolean })[]>(
        `SELECT u.id, u.username, u.email, u.first_name, u.last_name, u.password, u.is_active, u.is_staff, ` +
          `u.is_superuser,
                ${ts("u.date_joined")} AS date_joined, ${ts("u.last_login")} AS last_login,
                (u.password LIKE '$argon2%' OR u.token_seed IS NOT NULL OR u.jwt_not_before IS NOT NULL
                 OR EXISTS (SELECT 1 FROM auth_token t WHERE t.user_id = u.id ` +
          `AND (t.shared OR t.last_used_at IS NOT NULL))
                 OR EXISTS (SELECT 1 FROM jwt_session s WHERE s.user_id = u.id ` +
          `AND s.revoked_reason IS DISTINCT FROM '${IMPORTED_BLACKLIST}')) AS used_here
           FROM auth_user u
          WHERE u.id IN (SELECT jsonb_array_elements_text($1::jsonb)::int) ` +
          "OR u.username IN (SELECT jsonb_array_elements_text($2::jsonb))",
        JSON.stringify(valid.map((u) => u.id)),
        JSON.stringify(valid.map((u) => u.username)),
      );
  const byId = new Map(existing.map((r) => [r.id, r]));
  const byName = new Map(existing.map((r) => [r.username, r]));
  const inserts: Row[] = [];
  const updates: Row[] = [];
  const fresh = new Set<number>(); // imported or updated now: their keys come too
  const same = new Set<number>(); // the same person here: their blacklisted jtis come too
  for (const u of valid) {
    const src = row(u);
    const here = byId.get(u.id);
    const skip = (reason: string) => {
      part.users.skipped++;
      part.skipped.push(`${who.get(u.id)}: ${reason}`);
    };
    const twin = seen.ids.has(u.id)
      ? `id ${u.id}`
      : seen.names.has(u.username)
        ? `username (user ${seen.names.get(u.username)})`
        : null;
    if (twin) {
      skip(`the source holds this ${twin} twice: only the first is imported`);
      continue;
    }
    seen.ids.add(u.id);
    seen.names.set(u.username, u.id);
    if (here && here.username !== u.username) {
      skip(`conflict: id ${u.id} is another user in Portcullis (${JSON.stringify(here.username)})`);
      continue;
    }
    const taken = byName.get(u.username);
    if (!here && taken) {
      skip(`conflict: the username belongs to user ${taken.id} in Portcullis`);
      continue;
    }
    same.add(u.id);
    if (here && SAME_FIELDS.every((f) => here[f] === src[f])) {
      part.users.unchanged++;
    } else if (here?.used_here) {
      skip("used in Portcullis since it was imported (or made here): Portcullis's row is newer, not overwritten");
      continue;
    } else {
      (here ? updates : inserts).push(src);
      part.users[here ? "updated" : "imported"]++;
      fresh.add(u.id);
    }
    if (u.password.startsWith("!")) part.unusable.push(who.get(u.id)!);
    else if (!isVerifiableHash(u.password)) {
      const algorithm = /^[a-z0-9_]+\$/.test(u.password)
        ? u.password.slice(0, u.password.indexOf("$"))
        : "unrecognised format";
      part.cannotLogIn.push(`${who.get(u.id)}: ${algorithm}`);
    }
  }
  if (write && inserts.length) {
    await db.$executeRawUnsafe(
      `INSERT INTO auth_user (${NAMES}) SELECT ${NAMES} FROM jsonb_to_recordset($1::jsonb) AS x(${COLUMNS})`,
      JSON.stringify(inserts),
    );
  }
  if (write && updates.length) {
    const set = NAMES.split(", ")
      .slice(1)
      .map((c) => `${c} = x.${c}`)
      .join(", ");
    await db.$executeRawUnsafe(
      `UPDATE auth_user u SET ${set} FROM jsonb_to_recordset($1::jsonb) AS x(${COLUMNS}) WHERE u.id = x.id`,
      JSON.stringify(updates),
    );
  }
  if (write && inserts.length + updates.length) {
    // Django keeps no "waiting for activation": an inactive user who never logged in is taken to be;
    // any other inactive one counts as deactivated by staff, and only staff activate it (users.ts).
    const ids = [...inserts, ...updates].map((u) => u.id);
    const sql =
      "UPDATE auth_user SET activation_pending = (NOT is_active AND last_login IS NULL)" + " WHERE id = ANY($1::int[])";
    await db.$executeRawUnsafe(sql, ids);
  }

  const target = { db, part, write, emptyTarget };
  const users = { who, same, fresh };
  await importKeys(target, batch.tokens, users);
  await importBlacklist(target, batch.blacklisted, users);
  return part;
}
