// What a Django source yields to `portcullis import-django`, whichever reader made it: users, DRF
// authtoken keys and SimpleJWT's blacklist, with timestamps in one canonical form.
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
