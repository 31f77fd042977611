// `portcullis serve | migrate | createsuperuser`. Commands work on a PGlite folder while no
// server is running; a second start over a migrated database just starts.
import { parseArgs } from "node:util";
import { loadSettings, SettingsError } from "./config/load.ts";
import { openDatabase } from "./db/index.ts";
import { AuthError } from "./errors.ts";
import { serve } from "./server.ts";
import { createSuperuser } from "./services/admin.ts";

const USAGE = `Usage: portcullis <command> [options]

Commands:
  serve                      start the HTTP server (tRPC at /trpc, Djoser REST at /auth/, docs at /docs)
  migrate                    apply pending database migrations and exit
  createsuperuser            create a staff superuser
      --username U --email E [--no-input]   the password comes from PORTCULLIS_SUPERUSER_PASSWORD
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "serve":
        await serve();
        return 0;
      case "migrate":
        return await migrate();
      case "createsuperuser":
        return await superuser(rest);
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
    else if (e instanceof AuthError) process.stderr.write(`Error: ${Object.values(e.fields ?? {}).flat().join(" ") || e.message}\n`);
    else process.stderr.write(`Error: ${(e as Error).message}\n`);
    return 1;
  }
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

async function superuser(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { username: { type: "string" }, email: { type: "string" }, "no-input": { type: "boolean" } } });
  const password = process.env.PORTCULLIS_SUPERUSER_PASSWORD;
  if (!values["no-input"]) {
    process.stderr.write("Interactive input is not supported yet: pass --no-input and set PORTCULLIS_SUPERUSER_PASSWORD.\n");
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
    const user = await createSuperuser(settings, db.prisma, { username: values.username, email: values.email ?? "", password });
    process.stdout.write(`Superuser created: id ${user.id}.\n`);
    return 0;
  } finally {
    await db.close();
  }
}
