// Logging in and out with opaque tokens, as Djoser's token/login and token/logout do.
import { AuthError, ERRORS } from "../errors.ts";
import type { Deps, RequestMeta, User } from "./deps.ts";
import { issueToken } from "./tokens.ts";
import { checkCredentials } from "./users.ts";

/** Django's update_last_login. It also ends outstanding reset links, whose hash covers last_login. */
export async function recordLogin(deps: Deps, user: User): Promise<void> {
  const lastLogin = new Date();
  await deps.prisma.user.update({ where: { id: user.id }, data: { lastLogin } });
  user.lastLogin = lastLogin;
}

export async function tokenLogin(deps: Deps, raw: unknown, meta: RequestMeta): Promise<{ auth_token: string }> {
  const user = await checkCredentials(deps, raw);
  if (!user) {
    const message = ERRORS.invalid_credentials.message;
    throw new AuthError("invalid_credentials", message, { fields: { non_field_errors: [message] } });
  }
  await recordLogin(deps, user);
  return { auth_token: await issueToken(deps, user, meta) };
}
