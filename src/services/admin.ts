// Operator actions run from the CLI.
import type { Settings } from "../config/schema.ts";
import type { Prisma } from "../db/index.ts";
import { AuthError, invalid } from "../errors.ts";
import { hashPassword } from "./passwords.ts";
import { normalizeEmail, validateEmailField, validateUsername } from "./validators.ts";

/**
 * Django's createsuperuser --no-input: the password is not run through the validators (Django
 * does not either in that mode), but username and email are checked.
 */
export async function createSuperuser(settings: Settings, prisma: Prisma, input: { username?: string; email: string; password: string }) {
  const emailLogin = settings.USERNAME_FIELD === "email";
  const email = normalizeEmail(input.email);
  if (emailLogin || email) {
    // The field's checks (length after normalising included), not only the format: else an
    // address the column cannot hold fails at the insert.
    const problems = email ? validateEmailField(email) : ["This field is required."];
    if (problems.length) throw invalid({ email: problems });
  }
  if (!emailLogin) {
    if (!input.username) throw invalid({ username: ["This field is required."] });
    const problems = validateUsername(input.username);
    if (problems.length) throw invalid({ username: problems });
  }
  const username = emailLogin ? null : input.username!.normalize("NFKC");
  try {
    return await prisma.user.create({
      data: { username, email, emailKey: emailLogin ? email.toLowerCase() : null, password: await hashPassword(input.password), isStaff: true, isSuperuser: true, isActive: true },
    });
  } catch (e) {
    if ((e as { code?: string }).code === "P2002") throw new AuthError("invalid_input", "That user already exists.", { fields: { [emailLogin ? "email" : "username"]: ["A user with that username already exists."] } });
    throw e;
  }
}
