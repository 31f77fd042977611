// `portcullis <command>`: serve, migrate, flushexpiredtokens, endallsessions, createsuperuser,
// import-django. Commands work on a PGlite folder while no server is running; a second start over
// a migrated database just starts. `<command> --help` prints the command's usage and runs nothing.
import { existsSync } from "node:fs";
import { SettingsError } from "../config/load.ts";
import { suggest } from "../config/suggest.ts";
import { AuthError } from "../errors.ts";
import { type Command, commandHelp, parseCommand, UsageError } from "./args.ts";
import { endAllSessionsCommand, flushExpiredCommand } from "./housekeeping.ts";
import { importDjangoCommand } from "./import-django.ts";
import { migrateCommand } from "./migrate.ts";
import { serveCommand } from "./serve.ts";
import { createSuperuserCommand } from "./superuser.ts";

const COMMANDS: Command[] = [
  serveCommand,
  migrateCommand,
  flushExpiredCommand,
  endAllSessionsCommand,
  createSuperuserCommand,
  importDjangoCommand,
];

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`);
  return (
    "Usage: portcullis <command> [options]\n\nCommands:\n" +
    `${lines.join("\n")}\n\n` +
    "Run `portcullis <command> --help` for a command's options. Settings come from the environment,\n" +
    "a .env file in the working directory and an optional config file (see README: Settings).\n"
  );
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) return write(process.stderr, usage(), 2);
  if (name === "--help" || name === "-h") return write(process.stdout, usage(), 0);
  if (name === "help") {
    const topic = rest[0] === undefined ? undefined : find(rest[0]);
    if (rest[0] !== undefined && !topic) return unknownCommand(rest[0]);
    return write(process.stdout, topic ? commandHelp(topic) : usage(), 0);
  }
  const command = find(name);
  if (!command) return unknownCommand(name);
  try {
    const parsed = parseCommand(command, rest);
    if (parsed === "help") return write(process.stdout, commandHelp(command), 0);
    loadDotEnv();
    return await command.run(parsed);
  } catch (e) {
    return failure(e);
  }
}

/**
 * ./.env, when there is one, into process.env: the variables already set win over it (Node's own
 * parser, as `node --env-file`).
 */
function loadDotEnv(path = ".env"): void {
  if (!existsSync(path)) return;
  try {
    process.loadEnvFile(path);
  } catch (e) {
    throw new SettingsError(`Cannot read ${path}: ${(e as Error).message}`);
  }
}

const find = (name: string) => COMMANDS.find((c) => c.name === name);

function unknownCommand(name: string): number {
  const near = suggest(
    name,
    COMMANDS.map((c) => c.name),
  );
  const hint = near ? ` Did you mean \`portcullis ${near}\`?` : "";
  return write(process.stderr, `Unknown command "${name}".${hint}\n\n${usage()}`, 2);
}

function write(stream: NodeJS.WriteStream, text: string, code: number): number {
  stream.write(text);
  return code;
}

/** The one line (or lines) an operator needs, never a stack trace: 2 for bad usage, 1 otherwise. */
function failure(e: unknown): number {
  if (e instanceof UsageError) return write(process.stderr, `${e.message}\n`, 2);
  if (e instanceof SettingsError) return write(process.stderr, `${e.message}\n`, 1);
  if (e instanceof AuthError) {
    const fields = Object.values(e.fields ?? {}).flat();
    return write(process.stderr, `Error: ${fields.join(" ") || e.message}\n`, 1);
  }
  return write(process.stderr, `Error: ${(e as Error).message}\n`, 1);
}
