// `portcullis serve | migrate | flushexpiredtokens | endallsessions | createsuperuser | import-django`. Commands
// work on a PGlite folder while no server is running; a second start over a migrated database
// just starts.
import { existsSync, statSync } from "node:fs";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { loadSettings, SettingsError } from "./config/load.ts";
import { flushExpired } from "./core/housekeeping.ts";
import { endEverySession } from "./core/sessions/end.ts";
import { createSuperuser } from "./core/users/admin.ts";
import { type Database, openDatabase } from "./db/index.ts";
import { createStore } from "./db/store/index.ts";
import { formatReport, importDjango } from "./django-import/import.ts";
import { openDjangoSource } from "./django-import/source.ts";
import { AuthError } from "./errors.ts";
import { serve, serveWorkers } from "./server.ts";

const USAGE = `Usage: portcullis <command> [options]

Commands:
  serve [--workers N]        start the HTTP server (tRPC at /trpc, Djoser REST at /auth/, docs at /docs);
                             --workers N runs N processes on one port (PostgreSQL only; see README)
  migrate                    apply pending database migrations and exit
  flushexpiredtokens         delete expired refresh tokens, dead JWT sessions, lockout counts
                             quiet for LOGIN_LOCKOUT.FORGET_AFTER, opaque tokens past TOKEN_TTL or
                             TOKEN_IDLE_TTL and audit events older than AUDIT_RETENTION_DAYS
                             (servers also do it every FLUSH_EXPIRED_INTERVAL seconds)
  endallsessions --yes       end every opaque token and every JWT session of every user: after
                             SECRET_KEY changed (or leaked), keys derived from the old one would
                             otherwise keep working; everyone logs in again
  createsuperuser            create a staff superuser
      --username U --email E [--no-input]   the password comes from PORTCULLIS_SUPERUSER_PASSWORD
  import-django <source> [--dry-run] [--json] [--batch-size N]
                             import users (ids, password hashes, flags, dates), DRF authtoken keys and
                             SimpleJWT's blacklisted refresh tokens from a Django/Djoser database, so
                             old passwords, keys and reset links keep working. <source> is either
                             the Django database's postgresql://… URL, or a JSON file made with
                               python manage.py dumpdata auth.User authtoken.Token token_blacklist --indent 2
                             Safe to run again (present users are compared, never duplicated).
      --dry-run              report what would be imported; write nothing
      --json                 print the report as JSON
      --batch-size N         users per transaction (default 500)
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "serve":
        return await serveCommand(rest);
      case "migrate":
        return await migrate();
      case "createsuperuser":
        return await superuser(rest);
      case "import-django":
        return await importFromDjango(rest);
      case "flushexpiredtokens":
        return await flushExpiredCommand();
      case "endallsessions":
        return await endAllSessionsCommand(rest);
      case undefined:
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`Unknown command "${command}".\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof SettingsError) process.stderr.write(`${e.message}\n`);
    else if (e instanceof AuthError)
      process.stderr.write(
        `Error: ${
          Object.values(e.fields ?? {})
            .flat()
            .join(" ") || e.message
        }\n`,
      );
    else process.stderr.write(`Error: ${(e as Error).message}\n`);
    return 1;
  }
}

async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { workers: { type: "string" } } });
  const workers = values.workers === undefined ? 1 : Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
    process.stderr.write(`--workers expects a whole number from 1 to 256, got "${values.workers}".\n`);
    return 2;
  }
  if (workers === 1) await serve();
  else await serveWorkers(workers);
  return 0;
}

async function migrate(): Promise<number> {
  const { settings } = loadSettings();
  const db = await openDatabase(settings.DATABASE_URL, { poolSize: settings.DATABASE_POOL_SIZE });
  try {
    const applied = await db.migrate();
    process.stdout.write(applied.length ? `Applied: ${applied.join(", ")}\n` : "No pending migrations.\n");
    return 0;
  } finally {
    await db.close();
  }
}

async function flushExpiredCommand(): Promise<number> {
  const { settings } = loadSettings();
  const db = await openDatabase(settings.DATABASE_URL, { poolSize: 1 });
  try {
    if (settings.AUTO_MIGRATE) await db.migrate();
    const flushed = await flushExpired({ store: createStore(db.prisma), settings });
    process.stdout.write(
      `Deleted ${flushed.refreshTokens} expired refresh token(s), ${flushed.sessions} dead JWT session(s), ` +
        `${flushed.loginLocks} forgotten lockout count(s), ${flushed.authTokens} expired opaque token(s), ` +
        `${flushed.auditEvents} audit event(s) past AUDIT_RETENTION_DAYS.\n`,
    );
    return 0;
  } finally {
    await db.close();
  }
}

async function endAllSessionsCommand(args: string[]): Promise<number> {
  const parsed = parseOrUsage("endallsessions", { args, options: { yes: { type: "boolean" } } });
  if (typeof parsed === "number") return parsed;
  if (!parsed.values.yes) return usage("endallsessions signs every user out everywhere: pass --yes to go ahead.");
  const { settings } = loadSettings();
  const db = await openDatabase(settings.DATABASE_URL, { poolSize: 1 });
  try {
    if (settings.AUTO_MIGRATE) await db.migrate();
    const { tokens, sessions } = await endEverySession({ store: createStore(db.prisma) });
    const ended = `Ended ${tokens} opaque token(s) and ${sessions} JWT session(s)`;
    process.stdout.write(`${ended}; every JWT issued until now is refused.\n`);
    return 0;
  } finally {
    await db.close();
  }
}

async function superuser(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { username: { type: "string" }, email: { type: "string" }, "no-input": { type: "boolean" } },
  });
  const password = process.env.PORTCULLIS_SUPERUSER_PASSWORD;
  if (!values["no-input"]) {
    process.stderr.write(
      "Interactive input is not supported yet: pass --no-input and set PORTCULLIS_SUPERUSER_PASSWORD.\n",
    );
    return 2;
  }
  if (!password) {
    process.stderr.write("PORTCULLIS_SUPERUSER_PASSWORD must be set with --no-input.\n");
    return 2;
  }
  const { settings } = loadSettings();
  const db = await openDatabase(settings.DATABASE_URL, { poolSize: settings.DATABASE_POOL_SIZE });
  try {
    if (settings.AUTO_MIGRATE) await db.migrate();
    const user = await createSuperuser(settings, db.prisma, {
      username: values.username,
      email: values.email ?? "",
      password,
    });
    process.stdout.write(`Superuser created: id ${user.id}.\n`);
    return 0;
  } finally {
    await db.close();
  }
}

function usage(message: string): number {
  process.stderr.write(`${message}\n\n${USAGE}`);
  return 2;
}

/** parseArgs, or the usage answer (exit code 2) naming the command when the arguments do not parse. */
function parseOrUsage<T extends ParseArgsConfig>(command: string, config: T): ReturnType<typeof parseArgs<T>> | number {
  try {
    return parseArgs(config);
  } catch (e) {
    return usage(`${command}: ${(e as Error).message}`);
  }
}

async function importFromDjango(args: string[]): Promise<number> {
  const parsed = parseOrUsage("import-django", {
    args,
    allowPositionals: true,
    options: { "dry-run": { type: "boolean" }, json: { type: "boolean" }, "batch-size": { type: "string" } },
  });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const dryRun = values["dry-run"] ?? false;
  const batchSize = values["batch-size"] === undefined ? 500 : Number(values["batch-size"]);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
    return usage("import-django: --batch-size must be a whole number from 1 to 10000.");
  const howTo =
    "Pass the Django database's postgresql://… URL, or a file made with " +
    "`python manage.py dumpdata auth.User authtoken.Token token_blacklist --indent 2 > dump.json`.";
  if (positionals.length !== 1)
    return usage(`import-django needs exactly one source (got ${positionals.length}). ${howTo}`);
  const spec = positionals[0]!;
  const isUrl = /^postgres(ql)?:\/\//.test(spec);
  if (!isUrl && !(existsSync(spec) && statSync(spec).isFile()))
    return usage(`import-django: no such file: ${spec}. ${howTo}`);
  const { settings } = loadSettings();
  if (isUrl && spec === settings.DATABASE_URL)
    return usage(
      "import-django: the source is DATABASE_URL itself; " +
        "point DATABASE_URL at Portcullis's database and pass Django's.",
    );
  const source = await openDjangoSource(spec);
  const bar = progress(dryRun ? "checked" : "imported");
  let db: Database | undefined;
  try {
    // A dry run creates nothing, not even an empty PGlite folder.
    const pgliteDir = settings.DATABASE_URL.startsWith("pglite:")
      ? settings.DATABASE_URL.slice("pglite:".length)
      : null;
    let emptyTarget = dryRun && pgliteDir !== null && pgliteDir !== "memory" && !existsSync(pgliteDir);
    db = await openDatabase(emptyTarget ? "pglite:memory" : settings.DATABASE_URL, {
      poolSize: settings.DATABASE_POOL_SIZE,
    });
    const pending = emptyTarget ? [] : await db.pending();
    if (pending.length && dryRun) {
      // Never migrated: every user would be new. Half-migrated: the tables cannot be read as they will be.
      const [row] = await db.prisma.$queryRawUnsafe<{ t: string | null }[]>(
        "SELECT to_regclass('auth_user')::text AS t",
      );
      if (row?.t)
        throw new Error(
          `the database has pending migrations (${pending.join(", ")}): ` +
            "run `portcullis migrate` first (a dry run writes nothing).",
        );
      emptyTarget = true;
    } else if (pending.length && !settings.AUTO_MIGRATE) {
      throw new Error(
        `the database has pending migrations (${pending.join(", ")}) and AUTO_MIGRATE is off: ` +
          "run `portcullis migrate` first.",
      );
    } else if (pending.length) {
      await db.migrate();
    }
    const report = await importDjango(db.prisma, settings, source, {
      dryRun,
      batchSize,
      emptyTarget,
      onProgress: bar.update,
    }).finally(bar.end);
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return 0;
  } finally {
    await source.close();
    await db?.close();
  }
}

/** "imported 1500/20000 users" on stderr: one line rewritten in place on a terminal, a line per batch otherwise. */
function progress(verb: string) {
  const tty = process.stderr.isTTY === true;
  let open = false; // a terminal line not ended yet
  return {
    update(done: number, total: number) {
      const text = `${verb} ${done}/${total} users`;
      if (!tty) return void process.stderr.write(`${text}\n`);
      const width = 30;
      const filled = total > 0 ? Math.min(width, Math.round((width * done) / total)) : width;
      process.stderr.write(`\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${text}`);
      open = true;
    },
    end() {
      if (open) process.stderr.write("\n");
      open = false;
    },
  };
}
