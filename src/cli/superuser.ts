import { AuthError } from "../errors.ts";
import { type Command, usageError } from "./args.ts";

export const createSuperuserCommand: Command = {
  name: "createsuperuser",
  summary: "create a staff superuser",
  description: `
Django's createsuperuser, non-interactive: the password comes from PORTCULLIS_SUPERUSER_PASSWORD
and must pass AUTH_PASSWORD_VALIDATORS, as a password chosen at sign-up does.
With USERNAME_FIELD=email, --email is the login and --username is not used.`,
  options: {
    username: { type: "string", value: "U", help: "the login name (required unless USERNAME_FIELD=email)" },
    email: { type: "string", value: "E", help: "the email address" },
    "no-input": { type: "boolean", help: "do not prompt (required: prompting is not supported yet)" },
    "skip-password-validation": {
      type: "boolean",
      help: "create the user even if the password fails AUTH_PASSWORD_VALIDATORS",
    },
  },
  async run({ values }) {
    const password = process.env.PORTCULLIS_SUPERUSER_PASSWORD;
    if (!values["no-input"])
      throw usageError(
        "createsuperuser",
        "Interactive input is not supported yet: pass --no-input and set PORTCULLIS_SUPERUSER_PASSWORD.",
      );
    if (!password) throw usageError("createsuperuser", "PORTCULLIS_SUPERUSER_PASSWORD must be set with --no-input.");
    const { commandSettings, withMigratedDatabase } = await import("./context.ts");
    const { createSuperuser } = await import("../core/users/admin.ts");
    const settings = commandSettings();
    // The login field as the flag that gives it, before a database is opened.
    const login = settings.USERNAME_FIELD === "email" ? "email" : "username";
    if (!values[login])
      throw usageError("createsuperuser", `--${login} is required (the login field: USERNAME_FIELD=${login})`);
    return withMigratedDatabase(settings, async (db) => {
      const user = await createSuperuser(settings, db.prisma, {
        username: values.username as string | undefined,
        email: (values.email as string | undefined) ?? "",
        password,
        validatePassword: values["skip-password-validation"] !== true,
      }).catch((e) => {
        const weak = e instanceof AuthError ? e.fields?.password : undefined;
        if (!weak) throw e;
        throw new Error(`${weak.join(" ")} Pass --skip-password-validation to create the user anyway.`);
      });
      process.stdout.write(`Superuser created: id ${user.id}.\n`);
      return 0;
    });
  },
};
