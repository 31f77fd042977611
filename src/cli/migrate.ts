import type { Command } from "./args.ts";

export const migrateCommand: Command = {
  name: "migrate",
  summary: "apply pending database migrations and exit",
  description: `
Apply the pending migrations of prisma/migrations to DATABASE_URL and exit, printing each as it is
applied (or "No migrations to apply."). Safe to run again, and while other instances start: they
wait on one advisory lock.`,
  options: {},
  async run() {
    const { commandSettings, withDatabase } = await import("./context.ts");
    const settings = commandSettings();
    return withDatabase(settings, async (db) => {
      // Django's words: each migration as it runs, "OK" once it is recorded.
      process.stdout.write("Running migrations:\n");
      const applied = await db.migrate({
        applying: (name) => process.stdout.write(`  Applying ${name}...`),
        applied: () => process.stdout.write(" OK\n"),
      });
      if (!applied.length) process.stdout.write("  No migrations to apply.\n");
      return 0;
    });
  },
};
