// The mails the user flows send. A flow queues a mail (one row in mail_outbox) and answers at
// once; the outbox delivers it. Links are built here, at delivery, from DOMAIN/PROTOCOL and
// Djoser's URL templates (never from the request's Host header: a forged Host would otherwise
// receive the token) and from the user's state at that moment, so no token is ever stored.
import type { Deps, User } from "./deps.ts";
import { encodeUid, makeToken } from "./links.ts";
import type { MailContext, MailKind } from "./mail.ts";

const URL_SETTING: Partial<Record<MailKind, "ACTIVATION_URL" | "PASSWORD_RESET_CONFIRM_URL" | "USERNAME_RESET_CONFIRM_URL">> = {
  activation: "ACTIVATION_URL",
  password_reset: "PASSWORD_RESET_CONFIRM_URL",
  username_reset: "USERNAME_RESET_CONFIRM_URL",
};

/** sessionsEnded: true, the other sessions ended with a password change; "all", every one. */
export type MailExtra = { sessionsEnded?: boolean | "all" };

/**
 * Queues one mail to `user`. Queued, not sent: the answer does not wait on (or reveal, by its
 * timing) a mail server, and a mail server that is down loses nothing.
 */
export async function queueMail(deps: Deps, kind: MailKind, user: User, extra: MailExtra = {}): Promise<void> {
  if (!hasAddress(deps, kind, user.email, user.id)) return;
  await deps.prisma.mailOutbox.create({ data: { kind, userId: user.id, data: extra } });
  deps.outbox.kick();
}

/** A mail queued in the same write as the user row (a nested create); kick the outbox after it. */
export function withMail(deps: Deps, kind: MailKind | null, email: string) {
  return kind && hasAddress(deps, kind, email) ? { mails: { create: { kind, data: {} } } } : {};
}

function hasAddress(deps: Deps, kind: MailKind, email: string, userId?: number): boolean {
  if (!email) deps.log.warn({ kind, userId }, "user has no email address; mail not sent");
  return !!email;
}

/** The template context of a mail to `user`, with a fresh link where the kind has one. */
export function mailContext(deps: Pick<Deps, "settings">, kind: MailKind, user: User, extra: MailExtra): MailContext {
  const { DOMAIN, SITE_NAME, PROTOCOL } = deps.settings.DJOSER;
  const ctx: MailContext = {
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
  return ctx;
}
