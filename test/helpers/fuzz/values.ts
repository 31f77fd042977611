// The fuzz suite's values: placeholders for live credentials (filled in when a request is sent),
// odd strings, plausible and wrong field values, and whole request bodies, as fast-check arbitraries.

import fc from "fast-check";
import type { FieldSchema, Fields } from "./endpoints.ts";

// ── Values known only when a request is sent ──────────────────────────────────────────────────

/**
 * A placeholder for a live credential or account fact of the identity sending the request (its
 * password, tokens, id…): identities change as the fuzzer logs them out or deletes them, so the
 * arbitraries stay pure and the sender fills these in. `mangle` makes a near miss of the value.
 */
export type RefName =
  | "password"
  | "username"
  | "email"
  | "userId"
  | "otherId"
  | "uid"
  | "linkToken"
  | "access"
  | "refresh"
  | "opaque"
  | "sessionId"
  | "expiredAccess"
  | "staleRefresh";
export type Mangle = "tamper" | "truncate" | "upper" | "pad";
export class Ref {
  constructor(
    readonly name: RefName,
    readonly mangle?: Mangle,
  ) {}
  toJSON() {
    return `<${this.name}${this.mangle ? `:${this.mangle}` : ""}>`; // only for reports
  }
}
export type Resolver = (ref: Ref) => string | number;

export function mangle(value: string, how: Mangle | undefined): string {
  if (!how || !value) return value;
  if (how === "truncate") return value.slice(0, -1);
  if (how === "upper") return value.toUpperCase();
  if (how === "pad") return ` ${value} `;
  const i = value.length - 2; // the last characters are the JWT signature or the key's tail
  return value.slice(0, i) + (value[i] === "A" ? "B" : "A") + value.slice(i + 1);
}

// ── Strings and values ────────────────────────────────────────────────────────────────────────

const SPECIALS = [
  "\u0000",
  "\ud800",
  "\udfff",
  "\u202e",
  "\u200f",
  "\u0627\u0644\u0639",
  "\u05e9\u05dc\u05d5\u05dd",
  "👩‍👩‍👧",
  "🔥",
  "\ufeff",
  "\uffff",
  "\r\n",
  "\t",
  " ",
  "\u00a0",
  "\u2028",
  "\u0085",
  "\x7f",
  "\x1b[31m",
  "%00",
  "%",
  "'",
  '"',
  "\\",
  "<script>",
  "${x}",
  "$ne",
  "__proto__",
  "constructor",
  "İ",
  "ß",
  "ﬀ",
  "\u212a",
  "ǅ",
  "a\u0301",
  "..",
  "/",
  "?",
  "#",
  "&",
  "=",
  ";",
  ",",
  "NaN",
  "null",
  "-0",
  "1e309",
  "９",
  "admin",
];
const char = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.constantFrom(...SPECIALS) },
);
/** 1 kB to 100 kB: a short random run repeated (generating 100 kB char by char is too slow). */
export const hugeString = fc
  .tuple(fc.string({ unit: char, minLength: 1, maxLength: 8 }), fc.integer({ min: 1_000, max: 100_000 }))
  .map(([s, n]) => s.repeat(Math.ceil(n / s.length)).slice(0, n));
export const oddString = fc.oneof(
  { weight: 24, arbitrary: fc.string({ unit: char, maxLength: 40 }) },
  { weight: 4, arbitrary: fc.string({ unit: "binary", maxLength: 300 }) },
  { weight: 4, arbitrary: fc.constant("") },
  { weight: 1, arbitrary: hugeString },
);
const anyJson = fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<unknown>;
const wrongType = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constant([]),
  fc.constant({}),
  fc.array(oddString, { maxLength: 3 }),
  fc.dictionary(oddString, anyJson, { maxKeys: 3 }),
  anyJson,
);

/** `arb` with probability `p`, else null (fc.option's `freq` counts the other way round). */
export const sometimes = <T>(arb: fc.Arbitrary<T>, p: number) =>
  fc.oneof(
    { weight: Math.round(p * 1000), arbitrary: arb },
    { weight: Math.round((1 - p) * 1000), arbitrary: fc.constant(null) },
  );

const b64url = (s: string) => Buffer.from(s).toString("base64url");
export const NONE_JWT =
  `${b64url('{"alg":"none","typ":"JWT"}')}.` +
  `${b64url('{"token_type":"access","exp":9999999999,"iat":1,"jti":"x","user_id":1}')}.`;
/** Shaped like the real thing: DRF keys, JWTs (forged, alg none), Django link tokens. */
export const tokenLike = fc.oneof(
  fc.stringMatching(/^[0-9a-f]{40}$/),
  fc
    .tuple(
      fc.jsonValue({ maxDepth: 1 }),
      fc.jsonValue({ maxDepth: 1 }),
      fc.string({ unit: "binary-ascii", maxLength: 20 }),
    )
    .map(([h, p, s]) => `${b64url(JSON.stringify(h))}.${b64url(JSON.stringify(p))}.${b64url(s)}`),
  fc.constant(NONE_JWT),
  fc.stringMatching(/^[0-9a-z]{1,13}-[0-9a-f]{32}$/),
);
const password = fc.oneof(
  fc.string({ unit: "grapheme-ascii", minLength: 8, maxLength: 24 }).map((s) => `${s}Zq7!`),
  fc.constantFrom("password", "12345678", "short", "Kq7!vLp2#Zx9"),
  oddString,
);
const username = fc.oneof(
  fc.stringMatching(/^[\w.@+-]{1,30}$/),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }),
  fc.constant("x".repeat(151)),
);
const email = fc.oneof(
  fc.emailAddress(),
  fc.constantFrom("a@b", "@x.y", "a@b.c.", "UPPER@EXAMPLE.COM", `${"e".repeat(250)}@x.co`),
);
export const int = fc.oneof(
  fc.integer({ min: -2, max: 2_000 }),
  fc.constantFrom(0, -1, 2 ** 31, 2 ** 53, 1.5, -0),
  fc.integer(),
);

/** Which live value a field may carry: the right one gets a request past validation. */
const REFS_BY_FIELD: Record<string, RefName[]> = {
  password: ["password"],
  current_password: ["password"],
  new_password: ["password"],
  re_new_password: ["password"],
  re_password: ["password"],
  username: ["username"],
  new_username: ["username"],
  re_new_username: ["username"],
  email: ["email"],
  new_email: ["email"],
  re_new_email: ["email"],
  uid: ["uid"],
  token: ["linkToken", "access", "refresh", "expiredAccess", "opaque"],
  refresh: ["refresh", "staleRefresh", "access"],
  id: ["userId", "otherId", "sessionId"],
  userId: ["userId", "otherId"],
};
const PLAUSIBLE: Record<string, fc.Arbitrary<unknown>> = {
  password,
  current_password: password,
  new_password: password,
  re_new_password: password,
  re_password: password,
  username,
  new_username: username,
  re_new_username: username,
  email,
  new_email: email,
  re_new_email: email,
  uid: fc.oneof(
    fc.integer({ min: 1, max: 3_000 }).map((n) => b64url(String(n))),
    fc.constantFrom("MA", "LTE", "MDAx", "Mh"),
  ),
  token: tokenLike,
  refresh: tokenLike,
};
/** Every field name some endpoint knows: bodies borrow them, to send the right names to the wrong place. */
const KNOWN_FIELDS = [
  ...Object.keys(REFS_BY_FIELD),
  "active",
  "kind",
  "from",
  "to",
  "cursor",
  "limit",
  "is_staff",
  "is_superuser",
  "is_active",
  "__proto__",
  "constructor",
];

function plausible(name: string, schema: FieldSchema): fc.Arbitrary<unknown> {
  if (PLAUSIBLE[name]) return PLAUSIBLE[name];
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.format === "date-time") return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  if (type === "integer" || type === "number") return int;
  if (type === "boolean") return fc.boolean();
  return oddString;
}

function fieldValue(name: string, schema: FieldSchema): fc.Arbitrary<unknown> {
  const refs = REFS_BY_FIELD[name] ?? [];
  return fc.oneof(
    { weight: 4, arbitrary: plausible(name, schema) },
    {
      weight: refs.length ? 3 : 0,
      arbitrary: refs.length
        ? fc
            .tuple(
              fc.constantFrom(...refs),
              sometimes(fc.constantFrom<Mangle>("tamper", "truncate", "upper", "pad"), 0.15),
            )
            .map(([r, m]) => new Ref(r, m ?? undefined))
        : fc.constant(null),
    },
    { weight: 2, arbitrary: oddString },
    { weight: 2, arbitrary: wrongType },
  );
}

/**
 * A body is a list of entries, not an object: "__proto__" stays a plain key, and a key may come
 * twice (`{"password": "a", "password": 1}`), as a hand-made client may send it.
 */
export type Body = { entries: [string, unknown][] } | { value: unknown };

export function bodyArb(fields: Fields): fc.Arbitrary<Body | undefined> {
  const names = Object.keys(fields);
  // Every field, each plausible or live: the bodies that get past validation into the flows.
  const wellFormed = fc.tuple(
    ...names.map((n) => {
      const refs = REFS_BY_FIELD[n] ?? [];
      const value = refs.length
        ? fc.oneof(
            plausible(n, fields[n]!),
            fc.constantFrom(...refs).map((r) => new Ref(r)),
          )
        : plausible(n, fields[n]!);
      return value.map((v): [string, unknown] => [n, v]);
    }),
  );
  const own = names.length
    ? fc
        .subarray(names)
        .chain((picked) =>
          fc.tuple(...picked.map((n) => fieldValue(n, fields[n]!).map((v): [string, unknown] => [n, v]))),
        )
    : fc.constant([] as [string, unknown][]);
  const extra = fc.array(
    fc.tuple(fc.oneof(fc.constantFrom(...KNOWN_FIELDS), oddString), fc.oneof(wrongType, oddString)),
    { maxLength: 3 },
  );
  return fc.oneof(
    { weight: 8, arbitrary: wellFormed.map((entries): Body => ({ entries })) },
    {
      weight: 16,
      arbitrary: fc.tuple(own, sometimes(extra, 0.25)).map(([a, b]): Body => ({ entries: [...a, ...(b ?? [])] })),
    },
    { weight: 4, arbitrary: anyJson.map((value): Body => ({ value })) },
    {
      weight: 2,
      arbitrary: fc.constantFrom<Body | undefined>(
        undefined,
        { value: "" },
        { value: [] },
        { value: null },
        { entries: [] },
      ),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom(...names, "x"), hugeString).map(([k, v]): Body => ({ entries: [[k, v]] })),
    },
  );
}
