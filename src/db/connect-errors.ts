// What a failed connection to DATABASE_URL tells an operator: the URL it tried (password masked),
// what went wrong in words, and what to check, instead of a bare "connect ECONNREFUSED".

export class DatabaseUnreachable extends Error {}

/** The URL with its password replaced by ****, for messages and logs. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "****";
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:****@");
  }
}

type PgError = Error & { code?: string; errors?: { code?: string }[] };

/** A connection error of `pg` for `url`, as a DatabaseUnreachable that says what to check. */
export function unreachable(url: string, e: unknown): Error {
  if (!(e instanceof Error)) return new DatabaseUnreachable(`Cannot connect to ${maskUrl(url)}: ${String(e)}`);
  const err = e as PgError;
  const code = err.code ?? err.errors?.[0]?.code;
  let host = "localhost";
  let port = "5432";
  let user = "";
  let database = "";
  try {
    const u = new URL(url);
    host = u.hostname || host;
    port = u.port || port;
    user = decodeURIComponent(u.username);
    database = decodeURIComponent(u.pathname.slice(1));
  } catch {
    // described with the defaults
  }
  const at = `${host}:${port}`;
  const why: Record<string, string> = {
    ECONNREFUSED: `connection refused. Is PostgreSQL running on ${at}? Check DATABASE_URL.`,
    ENOTFOUND: `the host "${host}" is not known. Check the host name in DATABASE_URL.`,
    EAI_AGAIN: `the host "${host}" could not be looked up (DNS). Check the host name in DATABASE_URL.`,
    ETIMEDOUT: `${at} did not answer. Is it reachable from here (firewall, network)? Check DATABASE_URL.`,
    EHOSTUNREACH: `${at} is unreachable from here. Check the host in DATABASE_URL.`,
    ENETUNREACH: `${at} is unreachable from here. Check the host in DATABASE_URL.`,
    "28P01": `password authentication failed for user "${user}". Check the user and password in DATABASE_URL.`,
    "28000": `${err.message}. Check the user in DATABASE_URL (and the server's pg_hba.conf).`,
    "3D000": `${err.message}. Create it (\`createdb ${database}\`) or fix the database name in DATABASE_URL.`,
  };
  const detail = (code && why[code]) || `${err.message || code || "unknown error"}. Check DATABASE_URL.`;
  return new DatabaseUnreachable(`Cannot connect to the database at ${maskUrl(url)}: ${detail}`);
}
