// The mails the user flows send, with links built from DOMAIN/PROTOCOL and Djoser's URL templates
// (never from the request's Host header: a forged Host would otherwise receive the token).
import type { Deps, User } from "./deps.ts";
import { encodeUid, makeToken } from "./links.ts";
import type { MailKind } from "./mail.ts";

const URL_SETTING: Partial<Record<MailKind, "ACTIVATION_URL" | "PASSWORD_RESET_CONFIRM_URL" | "USERNAME_RESET_CONFIRM_URL">> = {
  activation: "ACTIVATION_URL",
  password_reset: "PASSWORD_RESET_CONFIRM_URL",
  username_reset: "USERNAME_RESET_CONFIRM_URL",
};

/**
 * Sends one mail. A transport failure is logged, not thrown: the account change it reports has
 * already happened, and the user can ask again (resend_activation, reset_password).
 */
export async function sendUserMail(deps: Deps, kind: MailKind, user: User, extra: { sessionsEnded?: boolean } = {}): Promise<boolean> {
  const { DOMAIN, SITE_NAME, PROTOCOL } = deps.settings.DJOSER;
  const ctx: Parameters<Deps["mailer"]["send"]>[2] = {
    site_name: SITE_NAME,
    domain: DOMAIN,
    protocol: PROTOCOL,
    user: { username: user.username, email: user.email, first_name: user.firstName },
    sessions_ended: extra.sessionsEnded ?? false,
  };
  const urlSetting = URL_SETTING[kind];
  if (urlSetting) {
    ctx.uid = encodeUid(user.id);
    ctx.token = makeToken({ id: user.id, password: user.password, lastLogin: user.lastLogin, email: user.email }, deps.settings.SECRET_KEY);
    ctx.url = deps.settings.DJOSER[urlSetting].replace("{uid}", ctx.uid).replace("{token}", ctx.token);
  }
  if (!user.email) {
    deps.log.warn({ kind, userId: user.id }, "user has no email address; mail not sent");
    return false;
  }
  try {
    await deps.mailer.send(kind, user.email, ctx);
    return true;
  } catch (e) {
    deps.log.error({ kind, userId: user.id, err: (e as Error).message }, "mail not sent");
    return false;
  }
}
