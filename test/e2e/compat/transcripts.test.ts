// Replays the golden Djoser transcripts (test/fixtures/djoser-transcripts.jsonl, see the README
// there) against a real Portcullis server, in order, on both databases, and compares every answer
// with the one the real Djoser 2.1 / DRF 3.14 / SimpleJWT server gave. Every transcript is
// replayed, none is skipped: where Portcullis answers otherwise on purpose, the seq is an intended
// deviation (listed below, with its own assertions).
//
// What is compared (per seq):
// - the status code, exactly;
// - the headers `Allow`, `WWW-Authenticate`, `Content-Type` and `Location`, exactly (absent on
//   one side = absent on the other);
// - JSON bodies: the same keys (recursively), the same value types, arrays element by element,
//   and the same strings — except dynamic values: `auth_token` (40 lowercase hex, and the same
//   key wherever Djoser returned the same key), user `id`s (through the id map), the API root's
//   absolute URL (our origin), and `detail` of JSON parse errors (only the "JSON parse error - "
//   prefix: Python's parser words its errors differently), and the `access`/`refresh` JWTs of
//   jwt/create and jwt/refresh (compareJwt: header, claim names, token type, user, and timing);
// - text bodies (empty 204/400 bodies, 301s, Django's 404 page), exactly;
// - reset mails: a password or username reset link leaves our mailbox exactly where the
//   reference mailed one (RESET_MAILS), to the same user.
//
// What is substituted in requests: auth tokens (transcript key → ours, learnt from the login
// answers), JWTs (transcript JWT → ours, learnt from the jwt/create|refresh answers; any other JWT
// the reference signed is re-signed with its times moved to now, see reforge), user ids in paths
// (learnt from the create answers; they line up on a fresh database), and the uid/token of mailed
// links — activation, password reset and username reset — (ours come from our own mailbox, the
// newest link of that kind for that user; probe tokens the reference never mailed go out as
// recorded). The unique username suffix (`_mwyeec79804b`) stays as recorded: each run has a
// fresh DB. The replay runs as fast as it can, except that it lets our clock tick to a new second
// where the reference's did between two logins (see movesLastLogin): reset links hash last_login
// to the second.
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Mail } from "../../helpers/mail.ts";
import { readResponse } from "../../helpers/net.ts";
import { createStaff, DATABASES, startTestServer, type TestServer } from "../../helpers/server.ts";

type Transcript = {
  seq: number;
  test: string;
  request: { method: string; path: string; headers: Record<string, string>; body?: string | null };
  response: { status: number; headers: Record<string, string>; json?: unknown; text?: string };
};

const TRANSCRIPTS: Transcript[] = readFileSync(
  new URL("../../fixtures/djoser-transcripts.jsonl", import.meta.url),
  "utf8",
)
  .split("\n")
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line) as Transcript);
const BY_SEQ = new Map(TRANSCRIPTS.map((t) => [t.seq, t]));
const transcript = (seq: number) => BY_SEQ.get(seq)!;

/** The reference site's settings (refsite/settings.py) as Portcullis environment (JSON where it parses). */
const REFERENCE_ENV: Record<string, string> = {
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
const REFERENCE_ORIGIN = "http://127.0.0.1:8011";
const JSON_PARSE_ERROR = "JSON parse error - ";

const header = (headers: Record<string, string>, name: string): string | undefined =>
  Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
const authorizationOf = (t: Transcript) => header(t.request.headers, "authorization") ?? "";
const pathIs = (re: RegExp) => (t: Transcript) => re.test(t.request.path);

// ---------------------------------------------------------------------------------------------
// Intended deviations: where Portcullis answers better than Djoser. Asserted, not skipped. There
// is no skip list (any more): every flow the transcripts probe is implemented, so a seq that does
// not match Djoser is either listed here, with what we answer instead, or a failure.
// ---------------------------------------------------------------------------------------------
type Got = { status: number; headers: Headers; text: string; json: unknown };
type Deviation = { why: string; check: (got: Got, t: Transcript, r: Replay) => string[] };

const ACCEPTED_SCHEMES = ["Token", "JWT", "Bearer"];
const CHALLENGE = 'Token, JWT realm="api", Bearer realm="api"';

/** (a) An unknown scheme: Djoser says "not provided", as if no header had been sent. */
const unknownScheme: Deviation = {
  why: 'Authorization "Bogus <key>": Djoser answers 401 "Authentication credentials were not provided."; we answer 401 with code authorization_scheme_not_accepted naming "Bogus" and the accepted schemes, and a WWW-Authenticate that lists them',
  check: (got, t) => {
    const p = [...sameStatusAndHeaders(got, t, ["allow", "content-type"])];
    if (got.headers.get("www-authenticate") !== CHALLENGE)
      p.push(`www-authenticate: expected ${CHALLENGE}, got ${got.headers.get("www-authenticate")}`);
    const body = got.json as Record<string, unknown>;
    if (!body || typeof body !== "object") return [...p, `body: expected JSON, got ${got.text}`];
    const keys = Object.keys(body).sort().join(",");
    if (keys !== "code,detail,scheme_received,schemes_accepted") p.push(`body keys: ${keys}`);
    if (body.code !== "authorization_scheme_not_accepted") p.push(`code: ${String(body.code)}`);
    if (body.scheme_received !== "Bogus") p.push(`scheme_received: ${String(body.scheme_received)}`);
    if (JSON.stringify(body.schemes_accepted) !== JSON.stringify(ACCEPTED_SCHEMES))
      p.push(`schemes_accepted: ${JSON.stringify(body.schemes_accepted)}`);
    const detail = String(body.detail);
    for (const word of ["Bogus", ...ACCEPTED_SCHEMES])
      if (!detail.includes(`"${word}"`)) p.push(`detail does not name "${word}": ${detail}`);
    return p;
  },
};

/**
 * (d) An authtoken key sent behind a JWT prefix: SimpleJWT's 401 (status, headers, code, messages)
 * with a detail naming the prefix received and the one for opaque keys, plus hint (the same
 * words), scheme_received and schemes_accepted.
 */
const keyBehindJwtPrefix: Deviation = {
  why: 'Authorization "Bearer|JWT <40-hex authtoken key>": SimpleJWT\'s 401 with code token_not_valid and its messages (compared as usual), but a detail (and "hint") that names the prefix received and says to send it as "Token <key>"',
  check: (got, t, r) => {
    const body = got.json as Record<string, unknown> | undefined;
    const scheme = t.request.headers.Authorization?.split(" ")[0];
    const detail = `This looks like an opaque token, but the "${scheme}" scheme carries JWTs. Opaque tokens are accepted behind "Token": send it as "Token <key>".`;
    const p: string[] = [];
    if (body?.detail !== detail)
      p.push(`detail: expected ${JSON.stringify(detail)}, got ${JSON.stringify(body?.detail)}`);
    if (body?.hint !== detail) p.push(`hint: expected the detail's words, got ${JSON.stringify(body?.hint)}`);
    if (body?.scheme_received !== scheme) p.push(`scheme_received: got ${JSON.stringify(body?.scheme_received)}`);
    if (JSON.stringify(body?.schemes_accepted) !== '["Token"]')
      p.push(`schemes_accepted: got ${JSON.stringify(body?.schemes_accepted)}`);
    const {
      hint: _hint,
      scheme_received: _received,
      schemes_accepted: _accepted,
      detail: _detail,
      ...rest
    } = body ?? {};
    const { detail: _reference, ...reference } = t.response.json as Record<string, unknown>;
    return [...p, ...compareAll({ ...got, json: rest }, { ...t, response: { ...t.response, json: reference } }, r)];
  },
};

/**
 * (e) A confirm request whose link is bad, and whose other fields Djoser refused first: the
 * mismatched passwords of seq 176, the taken username of seq 201 (which made reset_username_confirm
 * an unthrottled oracle of taken usernames). We check the link right after the field errors, so
 * both answer the uid error, word for word as Djoser words it (seq 178, 202).
 */
const linkFirst = (why: string): Deviation => ({
  why,
  check: (got, t) => {
    const p = sameStatusAndHeaders(got, t);
    const want = { uid: ["Invalid user id or user doesn't exist."] };
    if (JSON.stringify(got.json) !== JSON.stringify(want))
      p.push(`body: expected ${JSON.stringify(want)}, got ${got.text}`);
    return p;
  },
});

/** (c) OPTIONS on /users/me/: the reference crashes (DRF metadata calls get_object without a pk). */
const meMetadata: Deviation = {
  why: "OPTIONS /auth/users/me/ authenticated: Djoser answers 500 (SimpleMetadata calls get_object without a pk); we answer 200 with DRF's metadata for the view: its PUT action lists the user serializer's fields",
  check: (got) => {
    const list = transcript(331).response.json as { renders: unknown; parses: unknown; actions: { POST: unknown } };
    const p: string[] = [];
    if (got.status !== 200) p.push(`status: expected 200, got ${got.status}`);
    if (got.headers.get("allow") !== "GET, PUT, PATCH, DELETE, HEAD, OPTIONS")
      p.push(`allow: ${got.headers.get("allow")}`);
    if (got.headers.get("content-type") !== "application/json")
      p.push(`content-type: ${got.headers.get("content-type")}`);
    if (got.headers.get("www-authenticate") !== null)
      p.push(`www-authenticate: ${got.headers.get("www-authenticate")}`);
    const expected = {
      name: "User Instance",
      description: "",
      renders: list.renders,
      parses: list.parses,
      actions: { PUT: list.actions.POST },
    };
    if (JSON.stringify(got.json) !== JSON.stringify(expected))
      p.push(`body: expected ${JSON.stringify(expected)}, got ${got.text}`);
    return p;
  },
};

/** The reference's other 500: reset_password for an email that two active users share. */
const sharedEmailReset: Deviation = {
  why: "reset_password for an email two active users share: Djoser answers 500 (MultipleObjectsReturned); we answer 204 with an empty body, as to a known email (seq 174), and mail each of them a reset link of their own, as Django's PasswordResetForm does",
  check: (got, t, r) => {
    const p = sameStatusAndHeaders(got, transcript(174));
    if (got.text !== "") p.push(`body: expected none, got ${JSON.stringify(got.text)}`);
    const twins = usersCreatedWith(String(bodyOf(t)!.email));
    if (twins.length !== 2) p.push(`expected two transcript users with this email, found ${JSON.stringify(twins)}`);
    return [...p, ...r.checkResetMails(twins.map((user) => ({ kind: "password", user })))];
  },
};

/** (b) A lower-case JWT prefix: Djoser matches prefixes case-sensitively and ignores the header. */
const lowerCasePrefix: Deviation = {
  why: 'Authorization "jwt <access>": Djoser answers 401 "Authentication credentials were not provided." (prefixes are case-sensitive there); we accept prefixes case-insensitively and answer 200 with the user, as seq 63 ("Bearer <access>") got it',
  check: (got, _t, r) => compareAll(got, transcript(63), r),
};

/**
 * A jwt/refresh that SimpleJWT answers 200 or 500 and we refuse: 401 with the view's Allow (its
 * 500 page has none; seq 79 shows the view's), SimpleJWT's view challenge (`JWT realm="api"`), JSON,
 * and exactly `body`.
 */
const refusedRefresh = (why: string, body: Record<string, string>): Deviation => ({
  why,
  check: (got) => {
    const p: string[] = [];
    if (got.status !== 401) p.push(`status: expected 401, got ${got.status}`);
    const want = {
      allow: header(transcript(79).response.headers, "allow"),
      "www-authenticate": 'JWT realm="api"',
      "content-type": "application/json",
      location: null,
    };
    for (const [name, v] of Object.entries(want))
      if (got.headers.get(name) !== v)
        p.push(`${name}: expected ${JSON.stringify(v)}, got ${JSON.stringify(got.headers.get(name))}`);
    if (JSON.stringify(got.json) !== JSON.stringify(body))
      p.push(`body: expected ${JSON.stringify(body)}, got ${got.text}`);
    return p;
  },
});

const DEVIATIONS: Record<number, Deviation> = {
  52: keyBehindJwtPrefix,
  53: keyBehindJwtPrefix,
  54: unknownScheme,
  64: lowerCasePrefix,
  93: unknownScheme,
  94: keyBehindJwtPrefix,
  95: keyBehindJwtPrefix,
  316: refusedRefresh(
    "jwt/refresh with the refresh token of a deleted user: SimpleJWT refreshes it (200, it never looks the user up); we answer 401 user_not_found, as JWTAuthentication answers that user's access token (seq 317)",
    { detail: "User not found", code: "user_not_found" },
  ),
  176: linkFirst(
    "reset_password_confirm with an unknown uid and passwords that differ: Djoser answers the mismatch (it checks the link last); we answer 400 with the uid error, checking the link before the passwords",
  ),
  201: linkFirst(
    'reset_username_confirm with an unknown uid and a taken username: Djoser answers "A user with that username already exists." to anyone; we answer 400 with the uid error, checking the link before the username',
  ),
  348: meMetadata,
  354: refusedRefresh(
    'jwt/refresh with a (validly signed) refresh token without jti: SimpleJWT answers 500 (KeyError in check_blacklist); we answer 401 "Token has no id", SimpleJWT\'s own message for such a token on every other path',
    { detail: "Token has no id", code: "token_not_valid" },
  ),
  353: sharedEmailReset,
};

// ---------------------------------------------------------------------------------------------
// Replay state and comparison.
// ---------------------------------------------------------------------------------------------
const isActivation = pathIs(/^\/auth\/users\/activation\/?$/);
const bodyOf = (t: Transcript): Record<string, unknown> | null => {
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
const uidOf = (id: number) => Buffer.from(String(id)).toString("base64url");
const idOfUid = (uid: string) => Number(Buffer.from(uid, "base64url").toString("latin1"));

/** The transcript ids of the users created (POST /auth/users/ → 201) with this email. */
const usersCreatedWith = (email: string) =>
  TRANSCRIPTS.filter(
    (t) =>
      t.request.method === "POST" &&
      /^\/auth\/users\/?$/.test(t.request.path) &&
      t.response.status === 201 &&
      bodyOf(t)?.email === email,
  ).map((t) => (t.response.json as { id: number }).id);

type ResetKind = "password" | "username";
const RESET_REQUEST = /^\/auth\/users\/reset_(password|username)\/?$/;
const RESET_CONFIRM = /^\/auth\/users\/reset_(password|username)_confirm\/?$/;
const resetKindOf = (re: RegExp, t: Transcript) => re.exec(t.request.path)?.[1] as ResetKind | undefined;

/**
 * The reset mails the reference sent: at `seq`, a link for transcript user `user` with `token`.
 * Its mailbox is not in the transcripts, but each token it mailed comes back in the confirm
 * requests (177–182 and 185, 202–207), and Django's token names the second it was minted (base36
 * seconds since 2001-01-01): that of the reset request's answer (checked below). Every other
 * token a confirm request sends ("x", "abc123-0123…") is a probe the reference never minted, and
 * goes out as recorded. Our server must mail a reset link exactly at these seqs (see
 * checkResetMails): seq 171 (unknown email), 173 (inactive user) and 197 mail nothing.
 */
const RESET_MAILS: { seq: number; user: number; kind: ResetKind; token: string }[] = [
  { seq: 174, user: 2, kind: "password", token: "diolw0-c7208784305c216fcda493b2fe3fa8f9" }, // alice
  { seq: 183, user: 6, kind: "password", token: "diolw0-6a27a5ac48298a7b7b581f729173e505" }, // bob
  { seq: 198, user: 2, kind: "username", token: "diolw3-70c3173ac3f5220755937000e146ef4d" }, // alice
];
/** When Django minted a token of its default_token_generator (Unix seconds), or undefined if it is none. */
const mintedAt = (token: string) => {
  const ts = /^([0-9a-z]{1,13})-[0-9a-f]{32}$/.exec(token)?.[1];
  return ts === undefined ? undefined : Date.UTC(2001, 0, 1) / 1000 + parseInt(ts, 36);
};

type LinkKind = "activation" | ResetKind;
/** Our mail links (REFERENCE_ENV's URL templates after DOMAIN), e.g. http://localhost:8000/password/reset/confirm/{uid}/{token}. */
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
type Link = { kind: LinkKind; uid: string; token: string };
const linksIn = (mails: Mail[]): Link[] =>
  mails.flatMap((mail) =>
    mail.links.flatMap((link) =>
      LINK_PATTERNS.flatMap(({ kind, re }) => {
        const parts = re.exec(link);
        return parts ? [{ kind, uid: parts[1]!, token: parts[2]! }] : [];
      }),
    ),
  );

/** The link a request sends back, if the reference had mailed it: of which kind, to which transcript user. */
function mailedLinkIn(t: Transcript): (Link & { user: number }) | undefined {
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
const JWT = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
const isJwt = (s: string) => new RegExp(`^${JWT.source}$`).test(s);
const hs256 = (signingInput: string) =>
  createHmac("sha256", REFERENCE_ENV.SECRET_KEY!).update(signingInput).digest("base64url");
const segment = (jwt: string, i: 0 | 1) => Buffer.from(jwt.split(".")[i]!, "base64url").toString("utf8");
const claimsOf = (jwt: string): Record<string, unknown> => {
  try {
    return JSON.parse(segment(jwt, 1)) as Record<string, unknown>;
  } catch {
    return {};
  }
};
/** Whole seconds now, as both servers count exp and iat. */
const clock = () => Math.floor(Date.now() / 1000);
/** The reference's clock when it answered a seq: its Date header, in seconds. */
const referenceClock = (t: Transcript) => Date.parse(header(t.response.headers, "date")!) / 1000;

type JwtPair = [theirs: string, ours: string];
/** One request's JWTs (as recorded and as sent; as answered by both) and both clocks then: compareJwt's context. */
type Exchange = { sent: JwtPair[]; answered: JwtPair[]; theirClock: number; ourClock: [from: number, to: number] };

class Replay {
  /** transcript auth_token → ours */
  readonly keys = new Map<string, string>();
  /** transcript user id → ours (admin is 1 on both sides) */
  readonly ids = new Map<number, number>([[1, 1]]);
  /** transcript JWT → ours, learnt from the jwt/create and jwt/refresh answers */
  readonly jwts = new Map<string, string>();
  /** the JWTs of the request being replayed (set by send, completed by learn) */
  exchange: Exchange = { sent: [], answered: [], theirClock: 0, ourClock: [0, 0] };
  /** how many mails our mailbox held before the request being replayed (set by send) */
  mailsBefore = 0;
  /** both clocks (whole seconds) at the last request that moved a last_login (see movesLastLogin) */
  lastLoginMoved: { theirs: number; ours: number } | undefined;
  constructor(readonly server: TestServer) {}

  /** Our newest link of this kind to our user `ourId`. */
  private newestLink(kind: LinkKind, ourId: number): Link | undefined {
    return linksIn(this.server.mails())
      .filter((l) => l.kind === kind && l.uid === uidOf(ourId))
      .at(-1);
  }

  /** The reset links the request being replayed made us mail must be these (transcript users). */
  checkResetMails(expected: { kind: ResetKind; user: number }[]): string[] {
    const want = expected.map(({ kind, user }) => `${kind} reset link to ${uidOf(this.ids.get(user) ?? user)}`).sort();
    const sent = linksIn(this.server.mails().slice(this.mailsBefore)).filter((l) => l.kind !== "activation");
    const got = sent.map(({ kind, uid }) => `${kind} reset link to ${uid}`).sort();
    return JSON.stringify(got) === JSON.stringify(want)
      ? []
      : [`mails: expected ${JSON.stringify(want)}, we sent ${JSON.stringify(got)}`];
  }

  get origin() {
    return new URL(this.server.url).origin;
  }

  private substituteKeys(s: string): string {
    for (const [theirs, ours] of this.keys) s = s.split(theirs).join(ours);
    return s;
  }

  /** Every JWT in s: ours if learnt, else reforged (or as recorded); each recorded in `sent`. */
  private substituteJwts(s: string, t: Transcript, sent: JwtPair[]): string {
    return s.replace(JWT, (theirs) => {
      const ours = this.jwts.get(theirs) ?? this.reforge(theirs, t);
      sent.push([theirs, ours]);
      return ours;
    });
  }

  /**
   * A JWT we did not learn: one the reference's test suite forged, or one the reference issued in
   * an answer we answer otherwise (seq 316, a deviation). If the reference's secret signed it,
   * sign the same header and claims again (same order), with exp/iat/nbf moved by as much as our
   * clock is ahead of the reference's at this seq (an expired token stays expired, a fresh one is
   * fresh now) and user_id through the id map. Any other token (another key, alg none, a tampered
   * signature) goes out byte for byte as recorded: it must be refused either way.
   */
  private reforge(jwt: string, t: Transcript): string {
    const [head, payload, signature] = jwt.split(".") as [string, string, string];
    if (hs256(`${head}.${payload}`) !== signature) return jwt;
    const claims = claimsOf(jwt);
    const shift = clock() - referenceClock(t);
    for (const k of ["exp", "iat", "nbf"]) if (typeof claims[k] === "number") claims[k] = claims[k] + shift;
    if (typeof claims.user_id === "number") claims.user_id = this.ids.get(claims.user_id) ?? claims.user_id;
    const moved = Buffer.from(JSON.stringify(claims)).toString("base64url");
    return `${head}.${moved}.${hs256(`${head}.${moved}`)}`;
  }

  /** The request as recorded, with our tokens, JWTs, ids and mailed uid/token. */
  build(t: Transcript): { path: string; init: RequestInit; problems: string[]; jwtsSent: JwtPair[] } {
    const problems: string[] = [];
    const jwtsSent: JwtPair[] = [];
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(t.request.headers))
      headers[k] = this.substituteJwts(this.substituteKeys(v), t, jwtsSent);
    let body = t.request.body ?? undefined;
    if (body !== undefined) body = this.substituteJwts(this.substituteKeys(body), t, jwtsSent);
    const path = t.request.path.replace(
      /^\/auth\/users\/(\d+)(?=\/|$)/,
      (_m, id: string) => `/auth/users/${this.ids.get(Number(id)) ?? id}`,
    );
    const mailed = mailedLinkIn(t);
    if (mailed && body !== undefined) {
      const ourId = this.ids.get(mailed.user);
      const ours = ourId === undefined ? undefined : this.newestLink(mailed.kind, ourId);
      if (!ours) problems.push(`no ${mailed.kind} mail of ours for transcript user ${mailed.user} (ours ${ourId})`);
      else {
        body = body.replace(`"${mailed.token}"`, JSON.stringify(ours.token));
        // The uid too, where it is that user's (seqs 178 and 202 send another, with alice's token).
        if (mailed.uid === uidOf(mailed.user)) body = body.replace(`"${mailed.uid}"`, JSON.stringify(ours.uid));
      }
    }
    return { path, init: { method: t.request.method, headers, body, redirect: "manual" }, problems, jwtsSent };
  }

  /** Learns keys, JWTs and ids from an answer; reports a key that breaks Djoser's same/new-key pattern. */
  learn(t: Transcript, got: Got): string[] {
    const problems: string[] = [];
    const theirs = t.response.json as Record<string, unknown> | undefined;
    const ours = got.json as Record<string, unknown> | undefined;
    if (typeof theirs?.auth_token === "string" && typeof ours?.auth_token === "string") {
      const [x, y] = [theirs.auth_token, ours.auth_token];
      const known = this.keys.get(x);
      if (known !== undefined && known !== y)
        problems.push(`auth_token: Djoser returned the same key as before, we returned a different one`);
      if (known === undefined) {
        const reused = [...this.keys].find(([, v]) => v === y);
        // Seq 100: "token login after logout -> a NEW key"; so must ours be.
        if (reused)
          problems.push(
            `auth_token: Djoser minted a new key, we returned the key of transcript ${reused[0].slice(0, 8)}…`,
          );
        this.keys.set(x, y);
      }
    }
    for (const k of ["access", "refresh"]) {
      const [x, y] = [theirs?.[k], ours?.[k]];
      if (typeof x === "string" && typeof y === "string" && isJwt(x)) {
        this.jwts.set(x, y);
        this.exchange.answered.push([x, y]);
      }
    }
    if (
      t.request.method === "POST" &&
      /^\/auth\/users\/?$/.test(t.request.path) &&
      t.response.status === 201 &&
      got.status === 201
    ) {
      this.ids.set(Number(theirs?.id), Number(ours?.id));
    }
    return problems;
  }
}

const kind = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

/**
 * A JWT of a jwt/create|refresh answer (r.exchange holds the rest of that request). Ours must have
 * the reference's header, exactly; its claim names in its order, plus Portcullis's "sid" (the
 * session id, a string) and nothing else; each claim of the same JSON type; the same token_type;
 * the same user_id (through the id map); and the same timing: exp and iat as many seconds after
 * our clock during the request as the reference's were after its clock (its Date header) — the
 * same lifetime, 300 s or 86400 s. Except iat where SimpleJWT copies it: where the reference's iat
 * is another token's of the request (the access token of seq 59 carries its sibling refresh
 * token's iat; that of seq 77, the presented refresh token's: exp − iat = 301 there), ours must
 * be that token's too, and an iat copied from the request is not timed.
 */
function compareJwt(exp: string, got: string, at: string, r: Replay, out: string[]) {
  if (!isJwt(got)) return void out.push(`${at}: expected a JWT, got ${JSON.stringify(got)}`);
  if (segment(got, 0) !== segment(exp, 0))
    out.push(`${at}: header: expected ${segment(exp, 0)}, got ${segment(got, 0)}`);
  const [e, g] = [claimsOf(exp), claimsOf(got)];
  const names = Object.keys(g).filter((k) => k !== "sid");
  if (names.join() !== Object.keys(e).join() || ("sid" in g && typeof g.sid !== "string")) {
    out.push(`${at}: claims: expected ${JSON.stringify(e)} (+ "sid"), got ${JSON.stringify(g)}`);
  }
  for (const k of names)
    if (k in e && kind(e[k]) !== kind(g[k]))
      out.push(`${at}.${k}: expected a ${kind(e[k])}, got ${JSON.stringify(g[k])}`);
  if (g.token_type !== e.token_type)
    out.push(`${at}.token_type: expected ${String(e.token_type)}, got ${String(g.token_type)}`);
  const user = r.ids.get(e.user_id as number) ?? e.user_id;
  if (g.user_id !== user)
    out.push(`${at}.user_id: expected ${String(user)} (transcript ${String(e.user_id)}), got ${String(g.user_id)}`);
  const { sent, answered, theirClock, ourClock } = r.exchange;
  for (const [x, y] of [...sent, ...answered]) {
    if (x !== exp && claimsOf(x).iat === e.iat && claimsOf(y).iat !== g.iat)
      out.push(
        `${at}.iat: expected ${String(claimsOf(y).iat)} (copied from …${y.slice(-8)}, as the reference copied it), got ${String(g.iat)}`,
      );
  }
  const copied = sent.some(([x]) => claimsOf(x).iat === e.iat);
  for (const claim of copied ? ["exp"] : ["exp", "iat"]) {
    const offset = (e[claim] as number) - theirClock;
    const [from, to] = [ourClock[0] + offset, ourClock[1] + offset];
    const v = g[claim] as number;
    if (!(v >= from && v <= to))
      out.push(
        `${at}.${claim}: expected our clock ${offset >= 0 ? "+" : "−"} ${Math.abs(offset)} s (${from}…${to}), got ${String(v)}`,
      );
  }
}

function compareJson(exp: unknown, got: unknown, at: string, key: string | undefined, r: Replay, out: string[]) {
  if (kind(exp) !== kind(got)) {
    out.push(`${at}: expected ${kind(exp)} ${JSON.stringify(exp)}, got ${kind(got)} ${JSON.stringify(got)}`);
    return;
  }
  if (Array.isArray(exp)) {
    const g = got as unknown[];
    if (g.length !== exp.length)
      out.push(`${at}: expected ${exp.length} elements, got ${g.length}: ${JSON.stringify(g)}`);
    exp.forEach((e, i) => i < g.length && compareJson(e, g[i], `${at}[${i}]`, key, r, out));
  } else if (exp && typeof exp === "object") {
    const g = got as Record<string, unknown>;
    const [ek, gk] = [Object.keys(exp), Object.keys(g)];
    const missing = ek.filter((k) => !(k in g));
    const extra = gk.filter((k) => !(k in exp));
    if (missing.length || extra.length)
      out.push(`${at}: keys differ (missing ${JSON.stringify(missing)}, extra ${JSON.stringify(extra)})`);
    for (const k of ek) if (k in g) compareJson((exp as Record<string, unknown>)[k], g[k], `${at}.${k}`, k, r, out);
  } else if (typeof exp === "string") {
    const g = got as string;
    if (key === "auth_token") {
      if (!/^[0-9a-f]{40}$/.test(g)) out.push(`${at}: expected 40 lowercase hex, got ${g}`);
    } else if (key === "detail" && exp.startsWith(JSON_PARSE_ERROR)) {
      if (!g.startsWith(JSON_PARSE_ERROR)) out.push(`${at}: expected "${JSON_PARSE_ERROR}…", got ${JSON.stringify(g)}`);
    } else if ((key === "access" || key === "refresh") && isJwt(exp)) {
      compareJwt(exp, g, at, r, out);
    } else if (key === "users") {
      const want = exp.replace(REFERENCE_ORIGIN, r.origin);
      if (g !== want) out.push(`${at}: expected ${want}, got ${g}`);
    } else if (g !== exp) out.push(`${at}: expected ${JSON.stringify(exp)}, got ${JSON.stringify(g)}`);
  } else if (typeof exp === "number" && key === "id") {
    const want = r.ids.get(exp) ?? exp;
    if (got !== want) out.push(`${at}: expected id ${want} (transcript ${exp}), got ${String(got)}`);
  } else if (got !== exp) out.push(`${at}: expected ${JSON.stringify(exp)}, got ${JSON.stringify(got)}`);
}

const COMPARED_HEADERS = ["allow", "www-authenticate", "content-type", "location"] as const;

function sameStatusAndHeaders(got: Got, t: Transcript, names: readonly string[] = COMPARED_HEADERS): string[] {
  const p: string[] = [];
  if (got.status !== t.response.status) p.push(`status: expected ${t.response.status}, got ${got.status}`);
  for (const name of names) {
    const want = header(t.response.headers, name) ?? null;
    const have = got.headers.get(name);
    if (want !== have) p.push(`${name}: expected ${JSON.stringify(want)}, got ${JSON.stringify(have)}`);
  }
  return p;
}

function compareAll(got: Got, t: Transcript, r: Replay): string[] {
  const p = sameStatusAndHeaders(got, t);
  if ("json" in t.response) {
    if (got.json === undefined)
      p.push(`body: expected JSON ${JSON.stringify(t.response.json)}, got ${JSON.stringify(got.text)}`);
    else compareJson(t.response.json, got.json, "body", undefined, r, p);
  } else if (got.text !== (t.response.text ?? "")) {
    p.push(`body: expected ${JSON.stringify(t.response.text)}, got ${JSON.stringify(got.text)}`);
  }
  return p;
}

/**
 * The requests that moved a last_login in the reference: token logins (Djoser's login_user) and
 * reset confirmations; not jwt/create (SimpleJWT's UPDATE_LAST_LOGIN is off). Django's reset
 * tokens hash last_login to the second, and ours are byte for byte Django's, so a login ends a
 * link mailed before it only in a later second (seqs 185 and 207 expect it ended). The reference
 * ran slower than our replay does: where its clock ticked between two such requests, send waits
 * for ours to tick too.
 */
const movesLastLogin = (t: Transcript) =>
  (t.response.status === 200 && /^\/auth\/token\/login\/?$/.test(t.request.path)) ||
  (t.response.status === 204 && RESET_CONFIRM.test(t.request.path));

async function send(r: Replay, t: Transcript): Promise<{ got: Got; problems: string[] }> {
  const { path, init, problems, jwtsSent: sent } = r.build(t);
  const previous = r.lastLoginMoved;
  if (movesLastLogin(t) && previous && referenceClock(t) > previous.theirs) {
    const wait = (previous.ours + 1) * 1000 - Date.now();
    if (wait > 0) await sleep(wait);
  }
  r.mailsBefore = r.server.mails().length;
  const from = clock();
  const got = await readResponse(await fetch(r.server.url + path, init));
  await r.server.deps.outbox.idle(); // mails queued by the request are sent just after it
  r.exchange = { sent, answered: [], theirClock: referenceClock(t), ourClock: [from, clock()] };
  if (movesLastLogin(t)) r.lastLoginMoved = { theirs: referenceClock(t), ours: clock() };
  return { got, problems };
}

// ---------------------------------------------------------------------------------------------

describe("transcript replay set-up", () => {
  it("lists deviations only for seqs that exist", () => {
    for (const seq of Object.keys(DEVIATIONS)) expect(BY_SEQ.has(Number(seq)), `deviation ${seq} exists`).toBe(true);
  });

  it("replays the one lower-case JWT prefix (seq 64) as deviation (b)", () => {
    // Djoser matches SimpleJWT prefixes case-sensitively ("jwt <access>" is "not provided", seq 64);
    // we accept them case-insensitively and answer as to "Bearer <access>" (seq 63).
    const lower = TRANSCRIPTS.filter((t) => /^(jwt|bearer)([ \t]|$)/.test(authorizationOf(t))).map((t) => t.seq);
    expect(lower).toEqual([64]);
    expect(DEVIATIONS[64]).toBe(lowerCasePrefix);
    expect(transcript(63).request.headers.Authorization).toBe(
      transcript(64).request.headers.Authorization!.replace(/^jwt /, "Bearer "),
    );
  });

  it("knows every reset mail of the reference: each minted by its reset request, for its user", () => {
    for (const m of RESET_MAILS) {
      const t = transcript(m.seq);
      expect(resetKindOf(RESET_REQUEST, t), `seq ${m.seq} is a reset_${m.kind}`).toBe(m.kind);
      expect(t.response.status, `seq ${m.seq} answered 204`).toBe(204);
      expect(usersCreatedWith(String(bodyOf(t)?.email)), `seq ${m.seq} asks for user ${m.user}'s email`).toEqual([
        m.user,
      ]);
      // Minted while answering (its Date header is sent after, in the same or the next second).
      const minted = mintedAt(m.token)!;
      expect(referenceClock(t) - minted, `token of seq ${m.seq} minted then`).toBeGreaterThanOrEqual(0);
      expect(referenceClock(t) - minted, `token of seq ${m.seq} minted then`).toBeLessThanOrEqual(1);
      const confirms = TRANSCRIPTS.filter(
        (c) => c.seq > m.seq && resetKindOf(RESET_CONFIRM, c) === m.kind && bodyOf(c)?.token === m.token,
      );
      expect(confirms.length, `seq ${m.seq}'s token comes back`).toBeGreaterThan(0);
    }
  });

  it("sends any other token of a confirm request as recorded: the reference never minted it", () => {
    const recording = [referenceClock(TRANSCRIPTS[0]!), referenceClock(TRANSCRIPTS.at(-1)!)] as const;
    const probes = TRANSCRIPTS.filter(
      (t) => resetKindOf(RESET_CONFIRM, t) && typeof bodyOf(t)?.token === "string" && !mailedLinkIn(t),
    );
    for (const t of probes) {
      const minted = mintedAt(String(bodyOf(t)!.token));
      expect(
        minted === undefined || minted < recording[0] || minted > recording[1],
        `seq ${t.seq}'s token ${String(bodyOf(t)!.token)} is a probe`,
      ).toBe(true);
    }
    expect(probes.map((t) => t.seq)).toEqual([176, 179, 201, 203]);
  });
});

describe.each(DATABASES)("Djoser transcripts replayed on %s", (db) => {
  let server: TestServer;
  let r: Replay;
  const counts = { replayed: 0, matched: 0, deviations: 0 };

  beforeAll(async () => {
    server = await startTestServer(db, REFERENCE_ENV);
    const admin = await createStaff(server);
    expect(admin.id).toBe(1); // as in the reference
    r = new Replay(server);
  });
  afterAll(async () => {
    console.log(
      `[${db}] transcripts: ${counts.replayed} of ${TRANSCRIPTS.length} replayed, ${counts.matched} matched, ${counts.deviations} intended deviations`,
    );
    await server?.stop();
  });

  for (const t of TRANSCRIPTS) {
    const deviation = DEVIATIONS[t.seq];
    const title = `#${t.seq} ${t.request.method} ${t.request.path} → ${t.response.status}: ${t.test}`;
    it(deviation ? `${title} [intended deviation]` : title, async () => {
      counts.replayed++;
      const { got, problems } = await send(r, t);
      const learnt = r.learn(t, got);
      const compared = deviation
        ? deviation.check(got, t, r)
        : [...compareAll(got, t, r), ...r.checkResetMails(RESET_MAILS.filter((m) => m.seq === t.seq))];
      const found = [...problems, ...learnt, ...compared];
      expect(found, `seq ${t.seq}: ${t.test}`).toEqual([]);
      if (deviation) counts.deviations++;
      else counts.matched++;
    });
  }

  it("lined up user ids with the reference's", () => {
    expect([...r.ids].filter(([theirs, ours]) => theirs !== ours)).toEqual([]);
  });
});
