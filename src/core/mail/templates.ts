// Email wording and the `{{ name }}` renderer. The defaults carry what Djoser's
// templates carry (site name, the link for activation/reset kinds, the username
// for reset kinds); a folder of override files can replace any part per kind.
import { readFile } from "node:fs/promises";
import path from "node:path";

export type MailKind =
  | "activation"
  | "confirmation"
  | "password_reset"
  | "password_changed_confirmation"
  | "username_reset"
  | "username_changed_confirmation"
  | "email_change"
  | "email_change_requested"
  | "email_changed"
  | "mfa_changed"
  | "mfa_code";

export type MailContext = {
  site_name: string;
  domain: string;
  protocol: string;
  url?: string;
  uid?: string;
  token?: string;
  user: { username?: string | null; email: string; first_name?: string };
  /** password_changed_confirmation: the other sessions (true), or every one ("all"), ended with the change. */
  sessions_ended?: boolean | "all";
  /** email_change*: the address the account's email is changing (or changed) to. */
  new_email?: string;
  /** mfa_changed: what changed about the account's second factors, as a sentence. */
  change?: string;
  /** mfa_code: the one-time code. */
  code?: string;
};

export type MailTemplates = { subject: string; text: string; html: string };
type Part = keyof MailTemplates;

const THANKS = "Thanks for using our site!";
const TEAM = "The {{ site_name }} team";

function linkMail(subject: string, intro: string, action: string, showUsername: boolean): MailTemplates {
  const who = "Your username, in case you've forgotten:";
  return {
    subject,
    text:
      `${intro}\n\n${action}\n{{ link }}\n` +
      (showUsername ? `${who} {{ user.username }}\n` : "") +
      `\n${THANKS}\n\n${TEAM}\n`,
    html:
      `<p>${intro}</p>\n<p>${action}</p>\n<p><a href="{{ link }}">{{ link }}</a></p>\n` +
      (showUsername ? `<p>${who} <b>{{ user.username }}</b></p>\n` : "") +
      `<p>${THANKS}</p>\n<p>${TEAM}</p>\n`,
  };
}

function noticeMail(subject: string, line: string): MailTemplates {
  return {
    subject,
    text: `${line}\n\n${THANKS}\n\n${TEAM}\n`,
    html: `<p>${line}</p>\n<p>${THANKS}</p>\n<p>${TEAM}</p>\n`,
  };
}

export const DEFAULT_TEMPLATES: Record<MailKind, MailTemplates> = {
  activation: linkMail(
    "Account activation on {{ site_name }}",
    "You're receiving this email because you need to finish the activation process on {{ site_name }}.",
    "Please go to the following page to activate your account:",
    false,
  ),
  confirmation: noticeMail(
    "{{ site_name }} - Your account has been successfully created and activated!",
    "Your account has been created and is ready to use!",
  ),
  password_reset: linkMail(
    "Password reset on {{ site_name }}",
    "You're receiving this email because you requested a password reset for your user account at {{ site_name }}.",
    "Please go to the following page and choose a new password:",
    true,
  ),
  password_changed_confirmation: noticeMail(
    "{{ site_name }} - Your password has been successfully changed!",
    "Your password has been changed!{{ sessions_note }}",
  ),
  username_reset: linkMail(
    "Username reset on {{ site_name }}",
    "You're receiving this email because you requested a username reset for your user account at {{ site_name }}.",
    "Please go to the following page and choose a new username:",
    true,
  ),
  username_changed_confirmation: noticeMail(
    "{{ site_name }} - Your username has been successfully changed!",
    "Your username has been changed!",
  ),
  // To the new address: the change takes effect when this link is used.
  email_change: linkMail(
    "Confirm your new email address on {{ site_name }}",
    "You're receiving this email because the email address of your account on {{ site_name }} " +
      "is being changed to this one.",
    "Please go to the following page to confirm it:",
    false,
  ),
  // To the old address, for both: a takeover would otherwise go unnoticed by the owner.
  email_change_requested: noticeMail(
    "{{ site_name }} - A change of your email address was requested",
    "A change of your account's email address to {{ new_email }} was requested. It takes effect once " +
      "confirmed from that address; until then this address stays in use. " +
      "If you did not ask for it, change your password now.",
  ),
  email_changed: noticeMail(
    "{{ site_name }} - Your email address has been changed",
    "The email address of your account has been changed to {{ new_email }}. If you did not make this " +
      "change, contact us now: password reset links now go to the new address.",
  ),
  // Every change of the second factors, so a takeover that turns them off does not go unnoticed.
  mfa_changed: noticeMail(
    "{{ site_name }} - Your sign-in security settings have changed",
    "{{ change }} If you did not make this change, reset your password now and contact us.",
  ),
  // django-trench's subject. The code is the whole message: no link to follow.
  mfa_code: noticeMail(
    "Your verification code",
    "Your verification code for {{ site_name }} is {{ code }}. It works once, for a few minutes. " +
      "If you did not try to sign in, change your password: someone knows it.",
  ),
};

/** Kinds whose mail is useless without `ctx.url`. */
export const LINK_KINDS: ReadonlySet<MailKind> = new Set([
  "activation",
  "password_reset",
  "username_reset",
  "email_change",
]);

export function isMailKind(kind: unknown): kind is MailKind {
  return typeof kind === "string" && Object.hasOwn(DEFAULT_TEMPLATES, kind);
}

/** Values a template may reference. `user.username` falls back to the email, as Django's
 * `get_username()` yields the login field, which is the email for email-login sites. */
export function templateVars(ctx: MailContext): Map<string, string> {
  const link = `${ctx.protocol}://${ctx.domain}/${ctx.url ?? ""}`;
  return new Map([
    ["site_name", ctx.site_name],
    ["domain", ctx.domain],
    ["protocol", ctx.protocol],
    ["url", ctx.url ?? ""],
    ["uid", ctx.uid ?? ""],
    ["token", ctx.token ?? ""],
    ["link", link],
    ["user.username", ctx.user.username || ctx.user.email],
    ["user.email", ctx.user.email],
    ["user.first_name", ctx.user.first_name ?? ""],
    ["new_email", ctx.new_email ?? ""],
    ["sessions_note", sessionsNote(ctx.sessions_ended)],
    ["change", ctx.change ?? ""],
    ["code", ctx.code ?? ""],
  ]);
}

/** Says only what was done: the other sessions, or every one, signed out, or nothing. */
function sessionsNote(ended: MailContext["sessions_ended"]): string {
  const unsure = " If you did not make this change, reset your password now.";
  if (ended === "all")
    return ` Every session, on every device, has been signed out: sign in again with the new password.${unsure}`;
  return ended ? ` Your sessions on other devices have been signed out: sign in again there.${unsure}` : "";
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

const PLACEHOLDER = /\{\{\s*([\w.]+)\s*\}\}/g;

/** Fills `{{ name }}` placeholders. Unknown names render empty and are reported through
 * `onUnknown` so a typo in an override file is visible without breaking delivery. */
export function render(
  template: string,
  vars: Map<string, string>,
  html: boolean,
  onUnknown: (name: string) => void,
): string {
  return template.replace(PLACEHOLDER, (_m, name: string) => {
    const value = vars.get(name);
    if (value === undefined) {
      onUnknown(name);
      return "";
    }
    return html ? escapeHtml(value) : value;
  });
}

/**
 * Subjects are one header line: collapse newlines so a template can't inject headers. Split, not
 * a regex "blanks, line breaks, blanks", which retries from every blank of a long run that holds
 * no line break (quadratic).
 */
export function oneLine(subject: string): string {
  return subject
    .split(/[\r\n]+/)
    .map((line) => line.trim())
    .filter(Boolean)
    .join(" ");
}

const FILE_NAMES: Record<Part, (kind: MailKind) => string> = {
  subject: (kind) => `${kind}.subject.txt`,
  text: (kind) => `${kind}.txt`,
  html: (kind) => `${kind}.html`,
};

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`cannot read email template ${file}: ${(err as Error).message}`, { cause: err });
  }
}

export type TemplateSource = { templates: MailTemplates; files: Partial<Record<Part, string>> };

/** Returns a loader that reads each kind's override files once; failures aren't cached so a
 * fixed permission problem heals without a restart. */
export function templateLoader(dir: string | null): (kind: MailKind) => Promise<TemplateSource> {
  const cache = new Map<MailKind, TemplateSource>();
  return async (kind) => {
    const hit = cache.get(kind);
    if (hit) return hit;
    const templates = { ...DEFAULT_TEMPLATES[kind] };
    const files: TemplateSource["files"] = {};
    if (dir) {
      for (const part of ["subject", "text", "html"] as const) {
        const file = path.join(dir, FILE_NAMES[part](kind));
        const content = await readOptional(file);
        if (content !== undefined) {
          templates[part] = content;
          files[part] = file;
        }
      }
    }
    const source = { templates, files };
    cache.set(kind, source);
    return source;
  };
}
