// What the reference recorded: the golden Djoser transcripts (test/fixtures/djoser-transcripts.jsonl),
// the reference site's settings, the links it mailed, and the JWTs it signed.
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Mail } from "../../../helpers/mail.ts";

export type Transcript = {
  seq: number;
  test: string;
  request: { method: string; path: string; headers: Record<string, string>; body?: string | null };
  response: { status: number; headers: Record<string, string>; json?: unknown; text?: string };
};

export const TRANSCRIPTS: Transcript[] = readFileSync(
  new URL("../../../fixtures/djoser-transcripts.jsonl", import.meta.url),
  "utf8",
)
  .split("\n")
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line) as Transcript);
export const BY_SEQ = new Map(TRANSCRIPTS.map((t) => [t.seq, t]));
export const transcript = (seq: number) => BY_SEQ.get(seq)!;

/** The reference site's settings (refsite/settings.py) as Portcullis environment (JSON where it parses). */
export const REFERENCE_ENV: Record<string, string> = {
  DJOSER_SEND_ACTIVATION_EMAIL: "true",
  DJOSER_SEND_CONFIRMATION_EMAIL: "true",
  DJOSER_USER_CREATE_PASSWORD_RETYPE: "true",
  DJOSER_SET_PASSWORD_RETYPE: "true",
  DJOSER_PASSWORD_RESET_CONFIRM_RETYPE: "true",
  DJOSER_PASSWORD_CHANGED_EMAIL_CONFIRMATION: "true",
  DJOSER_LOGOUT_ON_PASSWORD_CHANGE: "true",
  DJOSER_ACTIVATION_URL: "activate/{uid}/{token}",
  DJOSER_PASSWORD_RESET_CONFIRM_URL: "password/reset/confirm/{uid}/{token}",
  DJOSER_USERNAME_RESET_CONFIRM_URL: "username/reset/confirm/{uid}/{token}",
  SIMPLE_JWT_AUTH_HEADER_TYPES: '["JWT","Bearer"]',
  SIMPLE_JWT_ROTATE_REFRESH_TOKENS: "true",
  SIMPLE_JWT_BLACKLIST_AFTER_ROTATION: "true",
  DEFAULT_FROM_EMAIL: "webmaster@localhost",
  // The reference's SECRET_KEY (refsite/settings.py), which signed its JWTs: the tokens its test
  // suite forged are re-signed with it (reforge below), so ours must verify with it too.
  SECRET_KEY: "djoser-ref-insecure-secret-key-for-differential-testing-0001",
  // SimpleJWT signs with SECRET_KEY; ours derives a JWT key from it unless told, as a cutover does.
  SIMPLE_JWT_SIGNING_KEY: "djoser-ref-insecure-secret-key-for-differential-testing-0001",
  // Portcullis extension (default true), absent from SimpleJWT: the reference behaves as if off.
  // Seq 79 presents again the refresh token seq 77 rotated out; with detection on that would end
  // alice's session and kill the tokens it issued, changing seqs 81, 101, 110, 140, 163… Reuse
  // detection is tested on its own elsewhere.
  SIMPLE_JWT_REFRESH_TOKEN_REUSE_DETECTION: "false",
  // Portcullis extension (default false: it enumerates accounts): Djoser's empty 400 for an
  // address with no inactive account (seqs 32, 36). The setting exists for clients relying on it.
  DJOSER_RESEND_ACTIVATION_SHOW_EMAIL_NOT_FOUND: "true",
  // Two more Portcullis extensions the reference lacks: an email change through users/me needs
  // current_password (seq 150 changes it without), and a password change ends every other session
  // (seq 163 expects alice's JWT alive after set_password). Both are tested on their own elsewhere.
  DJOSER_EMAIL_CHANGE_REQUIRES_PASSWORD: "false",
  DJOSER_PASSWORD_CHANGE_ENDS_SESSIONS: "false",
  // Portcullis's email change (default) keeps the old address until the new one is confirmed;
  // seqs 150–155 record Djoser's: the new address at once, the account inactive until it activates
  // again. Verified email changes are tested on their own (account-guard.test.ts).
  DJOSER_EMAIL_CHANGE_DEACTIVATES: "true",
};

/** Where the reference ran; absolute URLs in its answers (the API root) carry this origin. */
export const REFERENCE_ORIGIN = "http://127.0.0.1:8011";
export const JSON_PARSE_ERROR = "JSON parse error - ";

export const header = (headers: Record<string, string>, name: string): string | undefined =>
  Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
export const authorizationOf = (t: Transcript) => header(t.request.headers, "authorization") ?? "";
const pathIs = (re: RegExp) => (t: Transcript) => re.test(t.request.path);

const isActivation = pathIs(/^\/auth\/users\/activation\/?$/);
export const bodyOf = (t: Transcript): Record<string, unknown> | null => {
  try {
    const v = JSON.parse(t.request.body ?? "");
    return v && typeof v === "object" && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
};
/** uid/token pairs Djoser mailed: those an activation request got a 204 with. Others are probes. */
const MAILED = new Set(
  TRANSCRIPTS.filter((t) => isActivation(t) && t.response.status === 204).map((t) => {
    const b = bodyOf(t)!;
    return `${String(b.uid)}/${String(b.token)}`;
  }),
);
export const uidOf = (id: number) => Buffer.from(String(id)).toString("base64url");
const idOfUid = (uid: string) => Number(Buffer.from(uid, "base64url").toString("latin1"));

/** The transcript ids of the users created (POST /auth/users/ → 201) with this email. */
export const usersCreatedWith = (email: string) =>
  TRANSCRIPTS.filter(
    (t) =>
      t.request.method === "POST" &&
      /^\/auth\/users\/?$/.test(t.request.path) &&
      t.response.status === 201 &&
      bodyOf(t)?.email === email,
  ).map((t) => (t.response.json as { id: number }).id);

export type ResetKind = "password" | "username";
export const RESET_REQUEST = /^\/auth\/users\/reset_(password|username)\/?$/;
export const RESET_CONFIRM = /^\/auth\/users\/reset_(password|username)_confirm\/?$/;
export const resetKindOf = (re: RegExp, t: Transcript) => re.exec(t.request.path)?.[1] as ResetKind | undefined;

/**
 * The reset mails the reference sent: at `seq`, a link for transcript user `user` with `token`.
 * Its mailbox is not in the transcripts, but each token it mailed comes back in the confirm
 * requests (177–182 and 185, 202–207), and Django's token names the second it was minted (base36
 * seconds since 2001-01-01): that of the reset request's answer (checked below). Every other
 * token a confirm request sends ("x", "abc123-0123…") is a probe the reference never minted, and
 * goes out as recorded. Our server must mail a reset link exactly at these seqs (see
 * checkResetMails): seq 171 (unknown email), 173 (inactive user) and 197 mail nothing.
 */
export const RESET_MAILS: { seq: number; user: number; kind: ResetKind; token: string }[] = [
  { seq: 174, user: 2, kind: "password", token: "diolw0-c7208784305c216fcda493b2fe3fa8f9" }, // alice
  { seq: 183, user: 6, kind: "password", token: "diolw0-6a27a5ac48298a7b7b581f729173e505" }, // bob
  { seq: 198, user: 2, kind: "username", token: "diolw3-70c3173ac3f5220755937000e146ef4d" }, // alice
];
/** When Django minted a token of its default_token_generator (Unix seconds), or undefined if it is none. */
export const mintedAt = (token: string) => {
  const ts = /^([0-9a-z]{1,13})-[0-9a-f]{32}$/.exec(token)?.[1];
  return ts === undefined ? undefined : Date.UTC(2001, 0, 1) / 1000 + parseInt(ts, 36);
};

export type LinkKind = "activation" | ResetKind;
/**
 * Our mail links (REFERENCE_ENV's URL templates after DOMAIN), e.g.
 * http://localhost:8000/password/reset/confirm/{uid}/{token}.
 */
const LINK_PATTERNS = Object.entries({
  activation: REFERENCE_ENV.DJOSER_ACTIVATION_URL!,
  password: REFERENCE_ENV.DJOSER_PASSWORD_RESET_CONFIRM_URL!,
  username: REFERENCE_ENV.DJOSER_USERNAME_RESET_CONFIRM_URL!,
}).map(([kind, template]) => {
  const [before, between, after] = template.split(/\{uid\}|\{token\}/) as [string, string, string];
  const esc = (x: string) => x.replace(/[.*+?^$()|[\]\\/]/g, "\\$&");
  return {
    kind: kind as LinkKind,
    re: new RegExp(`^https?://[^/]+/${esc(before)}([A-Za-z0-9_-]+)${esc(between)}([0-9a-z]+-[0-9a-f]+)${esc(after)}$`),
  };
});
export type Link = { kind: LinkKind; uid: string; token: string };
export const linksIn = (mails: Mail[]): Link[] =>
  mails.flatMap((mail) =>
    mail.links.flatMap((link) =>
      LINK_PATTERNS.flatMap(({ kind, re }) => {
        const parts = re.exec(link);
        return parts ? [{ kind, uid: parts[1]!, token: parts[2]! }] : [];
      }),
    ),
  );

/** The link a request sends back, if the reference had mailed it: of which kind, to which transcript user. */
export function mailedLinkIn(t: Transcript): (Link & { user: number }) | undefined {
  const sent = bodyOf(t);
  if (!sent || typeof sent.token !== "string") return undefined;
  const [uid, token] = [String(sent.uid), sent.token];
  if (isActivation(t))
    return MAILED.has(`${uid}/${token}`) ? { kind: "activation", user: idOfUid(uid), uid, token } : undefined;
  const kind = resetKindOf(RESET_CONFIRM, t);
  const mail = RESET_MAILS.find((m) => m.kind === kind && m.token === token);
  return mail && { kind: mail.kind, user: mail.user, uid, token };
}

// JWTs. The reference signed its tokens HS256 with its SECRET_KEY, which our server runs with too.
export const JWT = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
export const isJwt = (s: string) => new RegExp(`^${JWT.source}$`).test(s);
export const hs256 = (signingInput: string) =>
  createHmac("sha256", REFERENCE_ENV.SECRET_KEY!).update(signingInput).digest("base64url");
export const segment = (jwt: string, i: 0 | 1) => Buffer.from(jwt.split(".")[i]!, "base64url").toString("utf8");
export const claimsOf = (jwt: string): Record<string, unknown> => {
  try {
    return JSON.parse(segment(jwt, 1)) as Record<string, unknown>;
  } catch {
    return {};
  }
};
/** Whole seconds now, as both servers count exp and iat. */
export const clock = () => Math.floor(Date.now() / 1000);
/** The reference's clock when it answered a seq: its Date header, in seconds. */
export const referenceClock = (t: Transcript) => Date.parse(header(t.response.headers, "date")!) / 1000;
