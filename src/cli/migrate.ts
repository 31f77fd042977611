import type { Command } from "./args.ts";

export const migrateCommand: Command = {
  name: "migrate",
  summary: "apply pending database migrations and exit",
  description: `
Apply the pending migrations of prisma/migrations to DATABASE_URL and exit. Safe to run again, and
while other instances start: they wait on one advisory lock.`,
  options: {},
  async run() {
    const { commandSettings, withDatabase } = await import("./context.ts");
    const settings = commandSettings();
    return withDatabase(settings, async (db) => {
      const applied = await db.migrate();
      process.stdout.write(applied.length ? `Applied: ${applied.join(", ")}\n` : "No pending migrations.\n");
      return 0;
    });
  },
};
