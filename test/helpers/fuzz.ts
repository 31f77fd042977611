// The fuzz suite's parts: what the endpoints are (read from the running app, so a new route or
// procedure is fuzzed without touching the suite), fast-check arbitraries for whole HTTP requests,
// a keep-alive sender, and the response shapes each adapter promises.

import http, { METHODS } from "node:http";
import fc from "fast-check";
import { z } from "zod";
import { appRouter } from "../../src/trpc/router.ts";

// ── Endpoints ────────────────────────────────────────────────────────────────────────────────

/** A JSON Schema property, as OpenAPI (REST) and z.toJSONSchema (tRPC) describe inputs. */
export type FieldSchema = { type?: string | string[]; format?: string; enum?: unknown[] };
export type Fields = Record<string, FieldSchema>;
export type RestEndpoint = { adapter: "rest"; name: string; template: string; methods: string[]; fields: Fields };
export type TrpcEndpoint = { adapter: "trpc"; name: string; type: "query" | "mutation"; fields: Fields };
export type Endpoint = RestEndpoint | TrpcEndpoint;

/** Every REST path the OpenAPI document lists, plus the API root, which it hides. */
export async function restEndpoints(baseUrl: string): Promise<RestEndpoint[]> {
  const doc = (await (await fetch(`${baseUrl}/docs/json`)).json()) as {
    paths: Record<
      string,
      Record<string, { requestBody?: { content?: Record<string, { schema?: { properties?: Fields } }> } }>
    >;
  };
  const root: RestEndpoint = { adapter: "rest", name: "/auth/", template: "/auth/", methods: ["GET"], fields: {} };
  return [
    root,
    ...Object.entries(doc.paths)
      .filter(([path]) => path.startsWith("/auth/"))
      .map(([path, ops]): RestEndpoint => {
        const fields: Fields = {};
        for (const op of Object.values(ops))
          Object.assign(fields, op.requestBody?.content?.["application/json"]?.schema?.properties);
        return {
          adapter: "rest",
          name: path,
          template: path,
          methods: Object.keys(ops).map((m) => m.toUpperCase()),
          fields,
        };
      }),
  ];
}

/** Every procedure of the router, with the fields of its input schema. */
export function trpcEndpoints(): TrpcEndpoint[] {
  const procedures = (
    appRouter as unknown as {
      _def: { procedures: Record<string, { _def: { type: "query" | "mutation"; inputs: z.ZodType[] } }> };
    }
  )._def.procedures;
  return Object.entries(procedures).map(([name, p]) => {
    const fields: Fields = {};
    for (const input of p._def.inputs)
      Object.assign(
        fields,
        (z.toJSONSchema(input, { io: "input", unrepresentable: "any" }) as { properties?: Fields }).properties,
      );
    return { adapter: "trpc", name, type: p._def.type, fields };
  });
}

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
const NONE_JWT = `${b64url('{"alg":"none","typ":"JWT"}')}.${b64url('{"token_type":"access","exp":9999999999,"iat":1,"jti":"x","user_id":1}')}.`;
/** Shaped like the real thing: DRF keys, JWTs (forged, alg none), Django link tokens. */
const tokenLike = fc.oneof(
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
const int = fc.oneof(
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

// ── Encoding ──────────────────────────────────────────────────────────────────────────────────

export type Encoding =
  | "json"
  | "json-malformed"
  | "form"
  | "multipart"
  | "multipart-broken"
  | "text"
  | "bytes"
  | "none";
export const encodingArb = (jsonWeight: number) =>
  fc.oneof(
    { weight: jsonWeight, arbitrary: fc.constant<Encoding>("json") },
    { weight: 1, arbitrary: fc.constantFrom<Encoding>("json-malformed", "text", "bytes", "none", "multipart-broken") },
    { weight: 2, arbitrary: fc.constantFrom<Encoding>("form", "multipart") },
  );
/** A Content-Type other than the one the encoding implies, now and then. */
export const contentTypeArb = sometimes(
  fc.oneof(
    fc.constantFrom(
      "application/json; charset=utf-8",
      "APPLICATION/JSON",
      "application/json; charset=latin-1",
      "application/json;",
      "text/plain",
      "application/xml",
      "application/octet-stream",
      "*/*",
      "",
      "multipart/form-data",
      "multipart/mixed; boundary=x",
      "application/x-www-form-urlencoded; charset=utf-16",
      "application/vnd.api+json",
      "application/json, text/plain",
    ),
    fc.string({
      unit: fc
        .integer({ min: 0x20, max: 0xff })
        .filter((c) => c !== 0x7f)
        .map((c) => String.fromCharCode(c)),
      maxLength: 40,
    }),
  ),
  0.12,
);

const serialize = (value: unknown, r: Resolver) => JSON.stringify(value, (_k, v) => (v instanceof Ref ? r(v) : v));
const formText = (v: unknown, r: Resolver) =>
  typeof v === "string" ? v : v instanceof Ref ? String(r(v)) : (serialize(v, r) ?? "");

/** The JSON text of a body; entries keep duplicates and "__proto__" as sent. */
export function bodyJson(body: Body, r: Resolver): string {
  if ("value" in body) return serialize(body.value, r) ?? "";
  return `{${body.entries.map(([k, v]) => `${JSON.stringify(k)}:${serialize(v, r) ?? "null"}`).join(",")}}`;
}

const flatEntries = (body: Body, r: Resolver): [string, string][] =>
  "entries" in body
    ? body.entries.flatMap(([k, v]) =>
        Array.isArray(v) ? v.map((x): [string, string] => [k, formText(x, r)]) : [[k, formText(v, r)]],
      )
    : [["value", formText(body.value, r)]];

export function encode(
  body: Body | undefined,
  encoding: Encoding,
  r: Resolver,
  seed: number,
): { type?: string; bytes?: Buffer } {
  if (!body) return encoding === "none" ? {} : { type: "application/json" };
  switch (encoding) {
    case "json":
      return { type: "application/json", bytes: Buffer.from(bodyJson(body, r)) };
    case "json-malformed": {
      const text = bodyJson(body, r);
      return {
        type: "application/json",
        bytes: Buffer.from(seed % 2 ? text.slice(0, seed % Math.max(1, text.length)) : `${text}${'}]",:'[seed % 5]}`),
      };
    }
    case "form":
      return {
        type: "application/x-www-form-urlencoded",
        bytes: Buffer.from(new URLSearchParams(flatEntries(body, r)).toString()),
      };
    case "multipart":
    case "multipart-broken": {
      const boundary = `fz${seed}`;
      const parts = flatEntries(body, r).map(
        ([k, v], i) =>
          `--${boundary}\r\nContent-Disposition: form-data; name="${k.replace(/["\r\n]/g, "")}"${i % 3 === 2 ? `; filename="f${i}.txt"\r\nContent-Type: text/plain` : ""}\r\n\r\n${v}\r\n`,
      );
      const text = parts.join("") + (encoding === "multipart" ? `--${boundary}--\r\n` : `--${boundary}`);
      return {
        type: `multipart/form-data; boundary=${encoding === "multipart" || seed % 2 ? boundary : "other"}`,
        bytes: Buffer.from(text),
      };
    }
    case "text":
      return { type: "text/plain", bytes: Buffer.from(bodyJson(body, r)) };
    case "bytes":
      return {
        type: ["application/json", "application/x-www-form-urlencoded", "application/octet-stream"][seed % 3],
        bytes: Buffer.from(Array.from({ length: 1 + (seed % 64) }, (_, i) => (seed * 31 + i * 7919) & 0xff)),
      };
    case "none":
      return { bytes: Buffer.from(bodyJson(body, r)) };
  }
}

// ── Headers, methods, paths ───────────────────────────────────────────────────────────────────

/** A header value Node will send: visible Latin-1 (non-ASCII bytes included) and tabs. */
export const headerText = (maxLength: number) =>
  fc.string({
    unit: fc
      .integer({ min: 0x1f, max: 0xff })
      .filter((c) => c !== 0x7f)
      .map((c) => (c === 0x1f ? "\t" : String.fromCharCode(c))),
    maxLength,
  });

/** Authorization as pieces: text and Refs, joined when sent. `valid` marks a live credential. */
export type AuthSpec = { valid: boolean; pieces: (string | Ref)[] } | null;
const valid = fc.oneof(
  fc.constantFrom("Token ", "token ", "TOKEN ").map((s): AuthSpec => ({ valid: true, pieces: [s, new Ref("opaque")] })),
  fc.constantFrom("Bearer ", "bearer ").map((s): AuthSpec => ({ valid: true, pieces: [s, new Ref("access")] })),
);
const invalid = fc.oneof(
  { weight: 4, arbitrary: fc.constant<AuthSpec>(null) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<AuthSpec>(
      { valid: false, pieces: [""] },
      { valid: false, pieces: ["Token"] },
      { valid: false, pieces: ["Bearer"] },
      { valid: false, pieces: ["Token a b"] },
      { valid: false, pieces: ["Bearer  x"] },
      { valid: false, pieces: [`Bearer ${NONE_JWT}`] },
    ),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.constantFrom("Token", "Bearer", "JWT", "Basic", "Digest", "bogus", "token", ""),
        fc.constantFrom(" ", "  ", "\t", ""),
        fc.oneof(tokenLike, headerText(60)),
      )
      .map(([s, sp, t]): AuthSpec => ({ valid: false, pieces: [`${s}${sp}${t}`] })),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.constantFrom("Token ", "Bearer ", "JWT ", ""),
        fc.constantFrom<RefName>("opaque", "access", "refresh", "expiredAccess", "staleRefresh"),
        sometimes(fc.constantFrom<Mangle>("tamper", "truncate", "upper"), 0.5),
      )
      .map(([s, r, m]): AuthSpec => ({ valid: false, pieces: [s, new Ref(r, m ?? undefined)] })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom("Token ", "Bearer "), fc.integer({ min: 7_000, max: 20_000 }))
      .map(([s, n]): AuthSpec => ({ valid: false, pieces: [s + "a".repeat(n)] })),
  },
);
/** Half of all requests carry a live credential, so authenticated views get to their validation. */
export const authArb = fc.oneof(valid, invalid);

export type ExtraHeaders = Record<string, string | string[]>;
export const FUZZ_ORIGIN = "https://app.example";
export const extraHeadersArb: fc.Arbitrary<ExtraHeaders> = fc
  .record(
    {
      "x-forwarded-for": fc.oneof(
        fc.ipV4(),
        fc.ipV6(),
        headerText(40),
        fc.array(fc.ipV4(), { minLength: 2, maxLength: 4 }).map((a) => a.join(", ")),
      ),
      host: fc.oneof(
        fc.constantFrom("", "evil.example", "[::1]", "localhost:99999", "a".repeat(300), "ex ample", "host:port:x"),
        headerText(30),
      ),
      "user-agent": fc.oneof(headerText(60), headerText(2_000)),
      accept: fc.constantFrom("text/html", "*/*", "application/json; version=2", "x"),
      "x-http-method-override": fc.constantFrom("DELETE", "PUT", "GET"),
      // CORS: the origin the fuzz server allows (FUZZ_ORIGIN), others, and preflights.
      origin: fc.constantFrom(FUZZ_ORIGIN, FUZZ_ORIGIN, "https://evil.example", "null", ""),
      "access-control-request-method": fc.constantFrom("POST", "GET", "DELETE", "PROPFIND"),
      cookie: headerText(80),
    },
    { requiredKeys: [] },
  )
  .map((h) => h as ExtraHeaders);

const ODD_METHODS = METHODS.filter(
  (m) => !["CONNECT", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].includes(m),
);
/** Mostly the documented methods; the rest of HTTP's, and names Node's parser refuses, too. */
export const methodArb = (documented: string[]) =>
  fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...documented) },
    { weight: 3, arbitrary: fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE") },
    { weight: 2, arbitrary: fc.constantFrom("OPTIONS", "HEAD") },
    { weight: 1, arbitrary: fc.constantFrom(...ODD_METHODS) },
    { weight: 1, arbitrary: fc.constantFrom("FOO", "get", "G3T", "XPOST") },
  );

/** Percent-encodes for a request line, as UTF-8 (lone surrogates become U+FFFD). */
export const pct = (s: string) =>
  encodeURIComponent(s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd"));

/** A path segment: live ids, numbers, words, %-escapes (broken ones too), unicode. */
export const segmentArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<RefName>("userId", "otherId", "sessionId").map((r) => new Ref(r)) },
  { weight: 3, arbitrary: int.map(String) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "me",
      "abc",
      "t1",
      "j0",
      "0x1",
      "1e3",
      "+1",
      "%201",
      "%ZZ",
      "%",
      "%00",
      "%2F",
      "%2e%2e",
      "%E2%80%AE",
      "%C0%AF",
      "..",
      ".",
      "x".repeat(20_000),
      "9".repeat(400),
    ),
  },
  { weight: 2, arbitrary: oddString.filter((s) => s.length < 200).map(pct) },
);
export const querySuffixArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant("") },
  {
    weight: 1,
    arbitrary: fc.constantFrom("?", "?format=json", "?format=api", "?a=1&a=2", "?%ZZ", "?input=%7B", "?batch=1", "#x"),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.tuple(oddString, oddString), { maxLength: 3 })
      .map((p) => `?${p.map(([k, v]) => `${pct(k)}=${pct(v)}`).join("&")}`),
  },
);
export const pathVariantArb = fc.oneof(
  { weight: 14, arbitrary: fc.constant("exact") },
  {
    weight: 1,
    arbitrary: fc.constantFrom("bare", "suffix", "double-slash", "upper", "escaped", "dot-segment", "trailing-slashes"),
  },
);
export type PathVariant =
  | "exact"
  | "bare"
  | "suffix"
  | "double-slash"
  | "upper"
  | "escaped"
  | "dot-segment"
  | "trailing-slashes";

export function variantPath(path: string, variant: PathVariant, suffix: string): string {
  switch (variant) {
    case "exact":
      return path;
    case "bare":
      return path.replace(/\/$/, "");
    case "suffix":
      return `${path}${pct(suffix).slice(0, 100) || "x"}/`;
    case "double-slash":
      return path.replace(/\/([^/]*)$/, "//$1");
    case "upper":
      return path.toUpperCase();
    case "escaped":
      return path.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`);
    case "dot-segment":
      return path.replace(/\/([^/]+)\/$/, "/$1/../$1/");
    case "trailing-slashes":
      return `${path}//`;
  }
}

// ── Sending ───────────────────────────────────────────────────────────────────────────────────

export type Wire = { method: string; path: string; headers: Record<string, string | string[]>; body?: Buffer };
export type Answer = { status: number; headers: http.IncomingHttpHeaders; body: Buffer };

/** One request over the keep-alive agent; rejects only when no response arrives at all. */
export function send(agent: http.Agent, base: URL, w: Wire, timeoutMs = 60_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { ...w.headers, ...(w.body ? { "content-length": String(w.body.length) } : {}) };
    const req = http.request(
      { host: base.hostname, port: base.port, method: w.method, path: w.path, headers, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(w.body);
  });
}

// ── Whole requests ────────────────────────────────────────────────────────────────────────────

export type Role = "user" | "staff";
type Common = {
  role: Role;
  auth: AuthSpec;
  headers: ExtraHeaders | null;
  encoding: Encoding;
  contentType: string | null;
  seed: number;
};
export type RestSpec = Common & {
  method: string;
  segment: string | Ref;
  variant: PathVariant;
  suffix: string;
  query: string;
  body: Body | undefined;
};
export type TrpcSpec = Common & {
  method: string;
  partners: [string, Body | undefined][] | null;
  input: Body | undefined;
  via: "auto" | "query" | "body" | "both";
  rawInput: string | null;
  variant: "exact" | "unknown" | "slash" | "upper" | "escaped" | "empty-batch";
  stream: boolean;
};

const common = {
  role: fc.constantFrom<Role>("user", "user", "staff"),
  auth: authArb,
  headers: sometimes(extraHeadersArb, 0.3),
  contentType: contentTypeArb,
  seed: fc.nat(),
};

export const restSpecArb = (ep: RestEndpoint): fc.Arbitrary<RestSpec> =>
  fc.record({
    ...common,
    encoding: encodingArb(6),
    method: methodArb(ep.methods),
    segment: segmentArb,
    variant: pathVariantArb as fc.Arbitrary<PathVariant>,
    suffix: oddString.filter((s) => s.length < 100),
    query: querySuffixArb,
    body: bodyArb(ep.fields),
  });

export const trpcSpecArb = (ep: TrpcEndpoint, all: TrpcEndpoint[]): fc.Arbitrary<TrpcSpec> => {
  const anyFields: Fields = Object.assign({}, ...all.map((e) => e.fields));
  const natural = ep.type === "query" ? "GET" : "POST";
  return fc.record({
    ...common,
    encoding: encodingArb(12),
    method: fc.oneof(
      { weight: 14, arbitrary: fc.constant(natural) },
      { weight: 2, arbitrary: fc.constant(natural === "GET" ? "POST" : "GET") },
      { weight: 2, arbitrary: methodArb(["GET", "POST"]) },
    ),
    // Batched with up to three other calls (unknown names too), each with its own input.
    partners: sometimes(
      fc.array(fc.tuple(fc.constantFrom(...all.map((e) => e.name), "nope", ""), bodyArb(anyFields)), { maxLength: 3 }),
      0.2,
    ),
    input: bodyArb(ep.fields),
    via: fc.constantFrom("auto", "auto", "auto", "auto", "auto", "auto", "query", "body", "both"),
    rawInput: sometimes(
      fc.oneof(
        fc.constantFrom("{", "undefined", "[]", '{"0":', "%ZZ", "null"),
        oddString.filter((s) => s.length < 200),
      ),
      0.08,
    ),
    variant: fc.oneof(
      { weight: 20, arbitrary: fc.constant("exact" as const) },
      { weight: 1, arbitrary: fc.constantFrom("unknown", "slash", "upper", "escaped", "empty-batch") },
    ),
    // httpBatchStreamLink's JSON Lines answers.
    stream: fc.oneof({ weight: 19, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  });
};

/** The headers every request shares: its own, Authorization, and a Content-Type for a body. */
function headersOf(spec: Common, r: Resolver, type: string | undefined): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = { ...spec.headers };
  if (spec.auth)
    h.authorization = spec.auth.pieces.map((p) => (p instanceof Ref ? mangle(String(r(p)), p.mangle) : p)).join("");
  const contentType = spec.contentType ?? type;
  if (contentType !== undefined) h["content-type"] = contentType;
  return h;
}

export function buildRest(ep: RestEndpoint, spec: RestSpec, r: Resolver): Wire {
  const segment = spec.segment instanceof Ref ? pct(String(r(spec.segment))) : spec.segment;
  const path = variantPath(ep.template.replace(/\{[^}]+\}/g, segment), spec.variant, spec.suffix) + spec.query;
  const { type, bytes } = encode(spec.body, spec.encoding, r, spec.seed);
  return { method: spec.method, path, headers: headersOf(spec, r, type), body: bytes };
}

/** The number of calls in a batched tRPC request (0 when it is not batched); "/trpc/?batch=1" is one call, to "". */
export const batchSize = (spec: TrpcSpec) =>
  spec.variant === "empty-batch" ? 1 : spec.partners ? 1 + spec.partners.length : 0;

/** tRPC's HTTP protocol: queries by GET with ?input=, mutations by POST with a JSON body, ?batch=1 with {"0": …}. */
export function buildTrpc(ep: TrpcEndpoint, spec: TrpcSpec, r: Resolver): Wire {
  const names = [ep.name, ...(spec.partners ?? []).map(([n]) => n)];
  let name = names.join(",");
  if (spec.variant === "unknown") name += "Nope";
  if (spec.variant === "upper") name = name.toUpperCase();
  if (spec.variant === "escaped") name = name.replace(".", "%2E");
  const batched = spec.partners !== null || spec.variant === "empty-batch";
  const inputs = [spec.input, ...(spec.partners ?? []).map(([, b]) => b)];
  const json = (b: Body | undefined) => (b === undefined ? undefined : bodyJson(b, r));
  let text: string | undefined;
  if (batched) {
    const parts = names.map((_, i) => (inputs[i] === undefined ? null : `"${i}":${json(inputs[i])}`)).filter(Boolean);
    text =
      spec.seed % 17 === 0 ? `[${parts.map((p) => p!.slice(p!.indexOf(":") + 1)).join(",")}]` : `{${parts.join(",")}}`;
  } else text = json(spec.input);
  if (spec.rawInput !== null) text = spec.rawInput;
  const inQuery = spec.via === "query" || spec.via === "both" || (spec.via === "auto" && spec.method !== "POST");
  const inBody = spec.via === "body" || spec.via === "both" || (spec.via === "auto" && spec.method === "POST");
  const query = [batched ? "batch=1" : "", inQuery && text !== undefined ? `input=${pct(text)}` : ""]
    .filter(Boolean)
    .join("&");
  const path = `/trpc/${spec.variant === "empty-batch" ? "" : name}${spec.variant === "slash" ? "/" : ""}${query ? `?${query}` : ""}`;
  let type: string | undefined;
  let bytes: Buffer | undefined;
  if (inBody && text !== undefined) {
    if (spec.encoding === "json") [type, bytes] = ["application/json", Buffer.from(text)];
    else ({ type, bytes } = encode(spec.input, spec.encoding, r, spec.seed));
  }
  const headers = headersOf(spec, r, type);
  if (spec.stream) headers["trpc-accept"] = "application/jsonl";
  return { method: spec.method, path, headers, body: bytes };
}

// ── What each adapter promises ────────────────────────────────────────────────────────────────

const isJsonType = (a: Answer) => /^application\/json\b/i.test(String(a.headers["content-type"] ?? ""));
function parse(a: Answer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(a.body.toString("utf8")) };
  } catch {
    return { ok: false };
  }
}
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isStringList = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((m) => typeof m === "string");
const pathOf = (w: Wire) => w.path.split(/[?#]/)[0]!;

/** DRF's error shapes: {detail: "…", …}, {field: ["…", …], …}, or a bare list of messages. */
export function isDrfError(v: unknown): boolean {
  if (isStringList(v)) return true;
  if (!isObject(v) || Object.keys(v).length === 0) return false;
  if (typeof v.detail === "string") return true;
  return Object.values(v).every(isStringList);
}

/** null when the answer is one the REST adapter may give; else what is wrong with it. */
export function checkRest(w: Wire, a: Answer): string | null {
  if (a.status >= 500) return `${a.status} server error`;
  if (w.method === "HEAD") return a.body.length ? "HEAD answered with a body" : null;
  if (a.status >= 300 && a.status < 400) {
    // Django's APPEND_SLASH: only a slash-less path may be redirected, and only to itself plus "/".
    const location = String(a.headers.location ?? "");
    return a.status === 301 && !pathOf(w).endsWith("/") && location.split("?")[0] === `${pathOf(w)}/`
      ? null
      : `unexpected ${a.status} to ${location}`;
  }
  if (a.status === 204) return a.body.length ? "204 with a body" : null;
  if (isBodilessRefusal(a)) return null;
  if (a.status === 400 && a.body.length === 0 && /\/resend_activation\/$/.test(pathOf(w))) return null; // Djoser's empty 400
  // Django's own 404 page answers a path no route matches, as legacy clients receive it.
  if (
    a.status === 404 &&
    /^text\/html/.test(String(a.headers["content-type"])) &&
    a.body.includes("<h1>Not Found</h1>")
  )
    return null;
  if (!isJsonType(a)) return `${a.status} with Content-Type ${a.headers["content-type"] ?? "(none)"}`;
  const body = parse(a);
  if (!body.ok) return `${a.status} with a body that is not JSON`;
  if (a.status < 300)
    return isObject(body.value) || Array.isArray(body.value) ? null : `${a.status} with a JSON scalar`;
  return isDrfError(body.value)
    ? null
    : `${a.status} not in a DRF error shape${pathOf(w).startsWith("/auth/") ? "" : " (path outside /auth/)"}`;
}

type TrpcErrorShape = { error: { message: string; code: number; data: { code: string; httpStatus: number } } };
function isTrpcError(v: unknown): v is TrpcErrorShape {
  if (!isObject(v) || !isObject(v.error)) return false;
  const { message, code, data } = v.error;
  return (
    typeof message === "string" &&
    typeof code === "number" &&
    isObject(data) &&
    typeof data.code === "string" &&
    typeof data.httpStatus === "number"
  );
}
const isTrpcResult = (v: unknown) => isObject(v) && isObject(v.result);

/**
 * Node's parser refused the request (a header too large, a malformed request) where its method
 * is not sure (see methodInView in src/http/guards.ts): the answer closes the connection without a
 * body, which any client, one that sent HEAD included, reads right.
 */
const isBodilessRefusal = (a: Answer) =>
  (a.status === 431 || a.status === 400 || a.status === 408) && a.body.length === 0 && a.headers.connection === "close";

/**
 * What Node's HTTP parser refuses (a method it does not know, headers over 16 KB) never reaches a
 * route, so no adapter answers it: the server's own {"detail": …} does, for every path.
 */
const isTransportRefusal = (w: Wire, a: Answer, v: unknown) =>
  (a.status === 431 || (a.status === 400 && !METHODS.includes(w.method))) &&
  isObject(v) &&
  typeof v.detail === "string";

/** null when the answer is one tRPC's HTTP protocol allows; `calls` is the batch's length (0 unbatched). */
export function checkTrpc(w: Wire, a: Answer, calls: number): string | null {
  if (a.status >= 500) return `${a.status} server error`;
  if (w.method === "HEAD") return a.body.length ? "HEAD answered with a body" : null;
  if ((a.status === 204 && a.body.length === 0) || isBodilessRefusal(a)) return null;
  const lines = a.body.toString("utf8").split("\n").filter(Boolean);
  if (w.headers["trpc-accept"] && a.status === 200 && lines.length > 1) {
    // A streamed batch: a head line, then one line per settled call; each a JSON value.
    return lines.every((l) => parse({ ...a, body: Buffer.from(l) }).ok)
      ? null
      : "a JSON Lines answer with a line that is not JSON";
  }
  const body = parse(a);
  if (!body.ok) return `${a.status} with a body that is not JSON`;
  const v = body.value;
  if (isTransportRefusal(w, a, v)) return null;
  if (!isJsonType(a))
    return `${a.status} in tRPC's shape but with Content-Type ${a.headers["content-type"] ?? "(none)"}`;
  // A batch answers item by item, or with one error when the request as a whole is refused.
  if (calls && Array.isArray(v)) {
    if (v.length !== calls) return `a batch of ${calls} answered with ${v.length} items`;
    const bad = v.find((item) => !isTrpcResult(item) && !isTrpcError(item));
    if (bad !== undefined) return `batch item not in tRPC's shape: ${JSON.stringify(bad).slice(0, 200)}`;
    const mixed = a.status === 207;
    const wrong = v.find((item) => isTrpcError(item) && !mixed && item.error.data.httpStatus !== a.status);
    return wrong
      ? `batch status ${a.status} but an item says ${(wrong as TrpcErrorShape).error.data.httpStatus}`
      : null;
  }
  if (a.status < 300) return isTrpcResult(v) ? null : `${a.status} without {result}`;
  if (!isTrpcError(v)) return `${a.status} not in tRPC's error shape`;
  return v.error.data.httpStatus === a.status
    ? null
    : `status ${a.status} but data.httpStatus ${v.error.data.httpStatus}`;
}

// ── Figures ───────────────────────────────────────────────────────────────────────────────────

export type Tally = {
  sent: number;
  statuses: Map<string, number>;
  serverErrors: number;
  violations: number;
  validAuth: number;
};
export const newTally = (): Tally => ({ sent: 0, statuses: new Map(), serverErrors: 0, violations: 0, validAuth: 0 });

export function table(title: string, rows: [string, Tally][]): string {
  const hist = (t: Tally) =>
    [...t.statuses]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([s, n]) => `${s}:${n}`)
      .join(" ");
  const width = Math.max(...rows.map(([n]) => n.length), 8);
  const lines = rows.map(
    ([name, t]) =>
      `${name.padEnd(width)}  ${String(t.sent).padStart(7)}  ${String(t.serverErrors).padStart(3)}  ${String(t.violations).padStart(5)}  ${hist(t)}`,
  );
  return [title, `${"endpoint".padEnd(width)}  ${"sent".padStart(7)}  5xx   fail  statuses`, ...lines].join("\n");
}
