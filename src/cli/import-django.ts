import { existsSync, statSync } from "node:fs";
import { type Command, usageError } from "./args.ts";

const DUMPDATA = "python manage.py dumpdata auth.User authtoken.Token token_blacklist --indent 2";

export const importDjangoCommand: Command = {
  name: "import-django",
  summary: "import users, authtoken keys and blacklisted JWTs from a Django/Djoser database",
  args: "<source>",
  description: `
Import users (ids, password hashes, flags, dates), DRF authtoken keys and SimpleJWT's blacklisted
refresh tokens from a Django/Djoser database, so old passwords, keys and reset links keep working.
<source> is either the Django database's postgresql://… URL, or a JSON file made with
  ${DUMPDATA}
Safe to run again (present users are compared, never duplicated).`,
  options: {
    "dry-run": { type: "boolean", help: "report what would be imported; write nothing" },
    json: { type: "boolean", help: "print the report as JSON" },
    "batch-size": { type: "string", value: "N", help: "users per transaction (1 to 10000, default 500)" },
  },
  positionals: { min: 0, max: Number.POSITIVE_INFINITY },
  async run({ values, positionals }) {
    const dryRun = values["dry-run"] === true;
    const batchSize = values["batch-size"] === undefined ? 500 : Number(values["batch-size"]);
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
      throw usageError("import-django", "--batch-size must be a whole number from 1 to 10000.");
    const howTo = `Pass the Django database's postgresql://… URL, or a file made with \`${DUMPDATA} > dump.json\`.`;
    if (positionals.length !== 1)
      throw usageError("import-django", `import-django needs exactly one source (got ${positionals.length}). ${howTo}`);
    const spec = positionals[0]!;
    const isUrl = /^postgres(ql)?:\/\//.test(spec);
    if (!isUrl && !(existsSync(spec) && statSync(spec).isFile()))
      throw usageError("import-django", `no such file: ${spec}. ${howTo}`);
    const { commandSettings } = await import("./context.ts");
    const settings = commandSettings();
    if (isUrl && spec === settings.DATABASE_URL)
      throw usageError(
        "import-django",
        "the source is DATABASE_URL itself; point DATABASE_URL at Portcullis's database and pass Django's.",
      );
    const { runImport } = await import("./import-run.ts");
    return runImport(settings, spec, { dryRun, batchSize, json: values.json === true });
  },
};
