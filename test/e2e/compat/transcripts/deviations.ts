// Intended deviations: where Portcullis answers better than Djoser. Asserted, not skipped. There
// is no skip list (any more): every flow the transcripts probe is implemented, so a seq that does
// not match Djoser is either listed here, with what we answer instead, or a failure.
import { bodyOf, header, type Transcript, transcript, usersCreatedWith } from "./reference.ts";
import { compareAll, type Got, type Replay, sameStatusAndHeaders } from "./replay.ts";

type Deviation = { why: string; check: (got: Got, t: Transcript, r: Replay) => string[] };

const ACCEPTED_SCHEMES = ["Token", "JWT", "Bearer"];
const CHALLENGE = 'Token, JWT realm="api", Bearer realm="api"';

/** (a) An unknown scheme: Djoser says "not provided", as if no header had been sent. */
const unknownScheme: Deviation = {
  why:
    'Authorization "Bogus <key>": Djoser answers 401 "Authentication credentials were not provided."; we ' +
    'answer 401 with code authorization_scheme_not_accepted naming "Bogus" and the accepted schemes, and a ' +
    "WWW-Authenticate that lists them",
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
  why:
    'Authorization "Bearer|JWT <40-hex authtoken key>": SimpleJWT\'s 401 with code token_not_valid and its ' +
    'messages (compared as usual), but a detail (and "hint") that names the prefix received and says to send ' +
    'it as "Token <key>"',
  check: (got, t, r) => {
    const body = got.json as Record<string, unknown> | undefined;
    const scheme = t.request.headers.Authorization?.split(" ")[0];
    const detail =
      `This looks like an opaque token, but the "${scheme}" scheme carries JWTs. ` +
      'Opaque tokens are accepted behind "Token": send it as "Token <key>".';
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
  why:
    "OPTIONS /auth/users/me/ authenticated: Djoser answers 500 (SimpleMetadata calls get_object without a " +
    "pk); we answer 200 with DRF's metadata for the view: its PUT action lists the user serializer's fields",
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
  why:
    "reset_password for an email two active users share: Djoser answers 500 (MultipleObjectsReturned); we " +
    "answer 204 with an empty body, as to a known email (seq 174), and mail each of them a reset link of " +
    "their own, as Django's PasswordResetForm does",
  check: (got, t, r) => {
    const p = sameStatusAndHeaders(got, transcript(174));
    if (got.text !== "") p.push(`body: expected none, got ${JSON.stringify(got.text)}`);
    const twins = usersCreatedWith(String(bodyOf(t)!.email));
    if (twins.length !== 2) p.push(`expected two transcript users with this email, found ${JSON.stringify(twins)}`);
    return [...p, ...r.checkResetMails(twins.map((user) => ({ kind: "password", user })))];
  },
};

/** (b) A lower-case JWT prefix: Djoser matches prefixes case-sensitively and ignores the header. */
export const lowerCasePrefix: Deviation = {
  why:
    'Authorization "jwt <access>": Djoser answers 401 "Authentication credentials were not provided." ' +
    "(prefixes are case-sensitive there); we accept prefixes case-insensitively and answer 200 with the " +
    'user, as seq 63 ("Bearer <access>") got it',
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

export const DEVIATIONS: Record<number, Deviation> = {
  52: keyBehindJwtPrefix,
  53: keyBehindJwtPrefix,
  54: unknownScheme,
  64: lowerCasePrefix,
  93: unknownScheme,
  94: keyBehindJwtPrefix,
  95: keyBehindJwtPrefix,
  316: refusedRefresh(
    "jwt/refresh with the refresh token of a deleted user: SimpleJWT refreshes it (200, it never looks the " +
      "user up); we answer 401 user_not_found, as JWTAuthentication answers that user's access token (seq " +
      "317)",
    { detail: "User not found", code: "user_not_found" },
  ),
  176: linkFirst(
    "reset_password_confirm with an unknown uid and passwords that differ: Djoser answers the mismatch (it " +
      "checks the link last); we answer 400 with the uid error, checking the link before the passwords",
  ),
  201: linkFirst(
    'reset_username_confirm with an unknown uid and a taken username: Djoser answers "A user with that ' +
      'username already exists." to anyone; we answer 400 with the uid error, checking the link before the ' +
      "username",
  ),
  348: meMetadata,
  354: refusedRefresh(
    "jwt/refresh with a (validly signed) refresh token without jti: SimpleJWT answers 500 (KeyError in " +
      'check_blacklist); we answer 401 "Token has no id", SimpleJWT\'s own message for such a token on every ' +
      "other path",
    { detail: "Token has no id", code: "token_not_valid" },
  ),
  353: sharedEmailReset,
};
