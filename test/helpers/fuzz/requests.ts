// The fuzz suite's whole-request arbitraries: encodings and content types, Authorization and other
// headers, methods, paths and query strings, and the REST and tRPC request specs built from them.

import { METHODS } from "node:http";
import fc from "fast-check";
import type { Fields, RestEndpoint, TrpcEndpoint } from "./endpoints.ts";
import {
  type Body,
  bodyArb,
  int,
  type Mangle,
  NONE_JWT,
  oddString,
  Ref,
  type RefName,
  sometimes,
  tokenLike,
} from "./values.ts";

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

// ── Whole requests ────────────────────────────────────────────────────────────────────────────

export type Role = "user" | "staff";
export type Common = {
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
