// The mails the user flows send. A flow queues a mail (one row in mail_outbox) and answers at
// once; the outbox delivers it. Links are built here, at delivery, from DOMAIN/PROTOCOL and
// Djoser's URL templates (never from the request's Host header: a forged Host would otherwise
// receive the token) and from the user's state at that moment, so no token is ever stored.

import { encodeUid, type LinkPurpose, makeToken, type TokenUser } from "../../compat/django/links.ts";
import type { MailRow } from "../../db/store/index.ts";
import type { Deps, User } from "../deps.ts";
import { emailCode } from "../mfa/crypto.ts";
import type { MailContext, MailKind } from "./transport.ts";

type UrlSetting = "ACTIVATION_URL" | "PASSWORD_RESET_CONFIRM_URL" | "USERNAME_RESET_CONFIRM_URL";
/**
 * The link kinds: which URL template, and which purpose the token is made for (each its own salt,
 * links.ts). An email change is confirmed on the activation page, so a Djoser client's page (which
 * POSTs uid and token to users/activation/) confirms it unchanged; its token is still no activation token.
 */
const LINKS: Partial<Record<MailKind, { url: UrlSetting; purpose: LinkPurpose }>> = {
  activation: { url: "ACTIVATION_URL", purpose: "activation" },
  email_change: { url: "ACTIVATION_URL", purpose: "email_change" },
  password_reset: { url: "PASSWORD_RESET_CONFIRM_URL", purpose: "password_reset" },
  username_reset: { url: "USERNAME_RESET_CONFIRM_URL", purpose: "username_reset" },
};

/**
 * `to`: the address, when it is not the account's (the old address an email change is told at).
 * `sessionsEnded`: true, the other sessions ended with a password change; "all", every one.
 */
/** `codeNonce` (mfa_code): what the code is derived from at delivery; the code itself is never stored. */
export type MailExtra = {
  sessionsEnded?: boolean | "all";
  to?: string;
  newEmail?: string;
  mfaChange?: MfaChange;
  codeNonce?: string;
};

/** What an mfa_changed mail tells of. */
export type MfaChange = keyof typeof MFA_CHANGES;
const MFA_CHANGES = {
  enabled: "Two-factor authentication has been turned on for your account.",
  method_added: "A new two-factor method has been added to your account.",
  disabled: "A two-factor method has been turned off for your account.",
  primary_changed: "The primary two-factor method of your account has been changed.",
  backup_codes_regenerated: "New backup codes have been made for your account; the old ones no longer work.",
  backup_code_used: "One of your backup codes has been used to sign in.",
  reset: "Staff have reset the two-factor authentication of your account: it is off until you set it up again.",
  passkey_added: "A passkey has been added to your account.",
  passkey_removed: "A passkey has been removed from your account.",
} as const;

/** Where a mail goes at delivery: the old address it was queued for, the address being confirmed, or the account's. */
export function recipient(kind: MailKind, user: User, extra: MailExtra): string | null {
  return (extra.to ?? (kind === "email_change" ? user.pendingEmail : user.email)) || null;
}

/**
 * Queues one mail to `user`. Queued, not sent: the answer does not wait on (or reveal, by its
 * timing) a mail server, and a mail server that is down loses nothing.
 */
export async function queueMail(deps: Deps, kind: MailKind, user: User, extra: MailExtra = {}): Promise<void> {
  if (!hasAddress(deps, kind, recipient(kind, user, extra), user.id)) return;
  await deps.store.outbox.add(kind, user.id, extra);
  deps.outbox.kick();
}

export type QueuedMail = { kind: MailKind; to: string; extra?: MailExtra };

/** The rows of mails queued in the same write as the user row (the store's users); kick the outbox after it. */
export function mailRows(deps: Deps, mails: QueuedMail[]): MailRow[] {
  return mails.filter((m) => hasAddress(deps, m.kind, m.to)).map((m) => ({ kind: m.kind, data: m.extra ?? {} }));
}

function hasAddress(deps: Deps, kind: MailKind, email: string | null, userId?: number): boolean {
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
    new_email: extra.newEmail ?? user.pendingEmail ?? "",
  };
  if (extra.mfaChange) ctx.change = MFA_CHANGES[extra.mfaChange] ?? "";
  if (extra.codeNonce) ctx.code = emailCode(deps.settings, user.id, extra.codeNonce);
  const link = LINKS[kind];
  if (link) {
    ctx.uid = encodeUid(user.id);
    ctx.token = makeToken(link.purpose, linkState(user, link.purpose), deps.settings.SECRET_KEY);
    ctx.url = deps.settings.DJOSER[link.url].replace("{uid}", ctx.uid).replace("{token}", ctx.token);
  }
  return ctx;
}

/**
 * What a link of `purpose` hashes of the user: minting and checking must agree on it. A login ends
 * reset links (the user remembered the password) but not an email change's confirmation, which
 * is bound to the pending address instead; a password change ends every kind.
 */
export function linkState(user: User, purpose: LinkPurpose): TokenUser {
  const { id, password, lastLogin, email, linkEpoch } = user;
  if (purpose === "email_change") return { id, password, lastLogin: null, email, bound: user.pendingEmail ?? "" };
  return { id, password, lastLogin, email, linkEpoch };
}
