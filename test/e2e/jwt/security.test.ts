// JWT verification attacked from the outside: forged, tampered, expired, mistyped and foreign-key
// tokens against a real server, through /auth/users/me/, /auth/jwt/verify/, /auth/jwt/refresh/ and
// /.well-known/jwks.json only.
//
// How each case is built: a forged token is signed with the server's REAL key (for HS256 the
// SIGNING_KEY these servers are given, which is SECRET_KEY as a SimpleJWT cutover sets it; the
// configured private key otherwise) and carries valid claims for an existing user, except for
// the one thing under test. Each case also shows the same token without that one flaw accepted, so
// the refusal can only come from the check the case is named after.
import { spawn } from "node:child_process";
import {
  createHash,
  createHmac,
  createPublicKey,
  sign as cryptoSign,
  generateKeyPairSync,
  randomUUID,
} from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import jsonwebtoken from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createStaff,
  DATABASES,
  type DatabaseKind,
  freshPostgres,
  startTestServer,
  type TestServer,
} from "../../helpers/server.ts";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const SECRET_KEY = "jwt-security-tests-secret-key-0123456789abcdef";
/** An HS256 server keyed as a SimpleJWT cutover keys it: SIGNING_KEY is the old SECRET_KEY (the default is derived). */
const HS = { SECRET_KEY, SIMPLE_JWT_SIGNING_KEY: SECRET_KEY };
const STAFF = { username: "admin", password: "Adm1n-Passw0rd!" };
const BIN = fileURLToPath(new URL("../../../bin/portcullis.js", import.meta.url));
const FIXTURES = fileURLToPath(new URL("../../fixtures/simplejwt/", import.meta.url));
const RS256_PRIVATE = join(FIXTURES, "rs256-private.pem");
const RS256_PUBLIC = join(FIXTURES, "rs256-public.pem");
const ES256_PRIVATE = join(FIXTURES, "es256-private.pem");
const ES256_PUBLIC = join(FIXTURES, "es256-public.pem");
const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

// Made on first use, so a run that filters out every test here leaves nothing behind.
let tmpDir: string | undefined;
const tmp = () => (tmpDir ??= mkdtempSync(join(tmpdir(), "portcullis-jwt-security-")));
afterAll(() => tmpDir && rmSync(tmpDir, { recursive: true, force: true }));

type Claims = Record<string, unknown>;

const now = () => Math.floor(Date.now() / 1000);
const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const segment = (token: string, i: 0 | 1): Claims =>
  JSON.parse(Buffer.from(token.split(".")[i]!, "base64url").toString("utf8"));
const headerOf = (token: string) => segment(token, 0);
const payloadOf = (token: string) => segment(token, 1);
const omit = (claims: Claims, ...names: string[]) =>
  Object.fromEntries(Object.entries(claims).filter(([k]) => !names.includes(k)));

/** Valid access-token claims as SimpleJWT writes them, for a user; `over` replaces or adds claims. */
function accessClaims(userId: number, over: Claims = {}): Claims {
  const iat = now();
  return { token_type: "access", exp: iat + 300, iat, jti: randomUUID().replaceAll("-", ""), user_id: userId, ...over };
}

/**
 * A compact JWS signed by hand (node:crypto), so every header member and claim is exactly what the
 * case says: nothing added (jsonwebtoken would add iat), nothing refused (alg "none", HS256 with a PEM).
 * `key` is the HMAC secret for HS256/384/512, a private key PEM for RS256 or ES256.
 */
function forge(
  claims: Claims,
  { alg = "HS256", key = SECRET_KEY as string | null, header = {} as Claims } = {},
): string {
  const input = `${b64json({ alg, typ: "JWT", ...header })}.${b64json(claims)}`;
  if (alg === "none" || key === null) return `${input}.`;
  const hash = `sha${alg.slice(2)}`;
  const signature = alg.startsWith("HS")
    ? createHmac(hash, key).update(input).digest()
    : cryptoSign(hash, Buffer.from(input), alg.startsWith("ES") ? { key, dsaEncoding: "ieee-p1363" } : key);
  return `${input}.${signature.toString("base64url")}`;
}

/** A fresh RSA or EC key pair as PEM strings (PKCS#8 / SPKI). */
function keyPair(kind: "rsa" | "ec" = "rsa") {
  const { privateKey, publicKey } =
    kind === "rsa"
      ? generateKeyPairSync("rsa", { modulusLength: 2048 })
      : generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    publicPem: publicKey.export({ type: "spki", format: "pem" }) as string,
  };
}

/** Writes a file under the suite's temp folder and returns its path (for *_KEY_FILE settings). */
function tmpFile(name: string, text: string): string {
  const path = join(tmp(), `${randomUUID()}-${name}`);
  writeFileSync(path, text);
  return path;
}

/** RFC 7638 thumbprint of a public JWK (the required members, lexicographic order, SHA-256). */
function thumbprint(jwk: Record<string, unknown>): string {
  const members =
    jwk.kty === "RSA" ? { e: jwk.e, kty: jwk.kty, n: jwk.n } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return createHash("sha256").update(JSON.stringify(members)).digest("base64url");
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const me = (s: TestServer, token: string) => s.request("GET", "/auth/users/me/", { headers: bearer(token) });
const verify = (s: TestServer, token: string) => s.request("POST", "/auth/jwt/verify/", { json: { token } });
const refresh = (s: TestServer, token: string) => s.request("POST", "/auth/jwt/refresh/", { json: { refresh: token } });

async function login(s: TestServer, credentials = STAFF): Promise<{ refresh: string; access: string }> {
  const res = await s.request("POST", "/auth/jwt/create/", { json: credentials });
  expect(res.status, res.text).toBe(200);
  return res.json;
}

/** /me and jwt/verify both take the token (the control half of every case). */
async function expectAccepted(s: TestServer, token: string, userId?: number) {
  const res = await me(s, token);
  expect(res.status, res.text).toBe(200);
  if (userId !== undefined) expect(res.json.id).toBe(userId);
  const v = await verify(s, token);
  expect(v.status, v.text).toBe(200);
  expect(v.json).toEqual({});
}

/** JWTAuthentication's refusal (on /me): SimpleJWT's InvalidToken body with one AccessToken message. */
function expectAccessRefused(
  res: { status: number; json: any; text: string },
  message = "Token is invalid or expired",
) {
  expect(res.status, res.text).toBe(401);
  expect(res.json).toEqual({
    detail: "Given token not valid for any token type",
    code: "token_not_valid",
    messages: [{ token_class: "AccessToken", token_type: "access", message }],
  });
}

/** A SimpleJWT view's refusal (verify, refresh): 401 {"detail": message, "code": "token_not_valid"}. */
function expectViewRefused(res: { status: number; json: any; text: string }, message = "Token is invalid or expired") {
  expect(res.status, res.text).toBe(401);
  expect(res.json).toEqual({ detail: message, code: "token_not_valid" });
}

/** Refused on /me and on jwt/verify with the same message. */
async function expectRefused(s: TestServer, token: string, message = "Token is invalid or expired") {
  expectAccessRefused(await me(s, token), message);
  expectViewRefused(await verify(s, token), message);
}

/** A database that outlives one server, so a restart with other keys sees the same users and sessions. */
async function lastingDatabase(kind: DatabaseKind): Promise<{ url: string; drop(): Promise<void> }> {
  if (kind === "postgresql") return freshPostgres();
  const dir = mkdtempSync(join(tmpdir(), "portcullis-jwt-pglite-"));
  return { url: `pglite:${dir}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A server on a given database. startTestServer makes a database of its own only for kind
 * "postgresql"; with "pglite" it takes DATABASE_URL from env, whichever engine that URL names.
 */
const startOn = (url: string, env: Record<string, string>) =>
  startTestServer("pglite", { SECRET_KEY, ...env, DATABASE_URL: url });

/** `portcullis serve` in a clean environment; only settings refusals are expected, so it is killed after 20 s. */
function serveCli(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, "serve"], {
    cwd: tmp(),
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LOG_LEVEL: "warn",
      PORT: "0",
      DATABASE_URL: "pglite:memory",
      DATA_DIR: join(tmp(), "cli-data"),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += c));
  child.stderr.on("data", (c) => (stderr += c));
  const guard = setTimeout(() => child.kill("SIGKILL"), 20_000);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// HS256 (the default): claims, signatures and token types
// ---------------------------------------------------------------------------------------------

describe("HS256 server: forged and broken tokens are refused", () => {
  let s: TestServer;
  let userId: number;
  beforeAll(async () => {
    s = await startTestServer("pglite", HS);
    userId = (await createStaff(s)).id;
  });
  afterAll(async () => s?.stop());

  it("a token forged with the real key and valid claims is accepted (the control for every case below)", async () => {
    await expectAccepted(s, forge(accessClaims(userId)), userId);
  });

  it('alg "none": an unsigned token with valid claims is refused on /me and on verify', async () => {
    const claims = accessClaims(userId);
    for (const header of [{}, { typ: undefined }]) {
      await expectRefused(s, forge(claims, { alg: "none", header }));
      // Spelled otherwise, and with a signature that was never checked against anything.
      await expectRefused(s, forge(claims, { alg: "None", key: null, header }));
      await expectRefused(s, `${forge(claims, { alg: "none", header })}${forge(claims).split(".")[2]}`);
    }
  });

  it("an HS256 token signed with another secret is refused", async () => {
    await expectRefused(s, forge(accessClaims(userId), { key: `${SECRET_KEY}-not-quite` }));
  });

  it("an HS512 token signed with the real secret is refused: the algorithm is the server's, not the header's", async () => {
    await expectRefused(s, forge(accessClaims(userId), { alg: "HS512" }));
  });

  it("a tampered token (payload changed, signature kept) is refused", async () => {
    const { access } = await login(s);
    await expectAccepted(s, access, userId);
    const [header, , signature] = access.split(".");
    // Stretch its life by a year: every claim stays valid, only the signature no longer matches.
    const stretched = { ...payloadOf(access), exp: Number(payloadOf(access).exp) + 365 * 86_400 };
    await expectRefused(s, `${header}.${b64json(stretched)}.${signature}`);
    // One character flipped in the payload segment (a jti digit: the JSON stays well-formed).
    const payload = access.split(".")[1]!;
    const jtiAt = Buffer.from(payload, "base64url").toString("utf8").indexOf('"jti":"') + 7;
    const flipped = Buffer.from(payload, "base64url").toString("utf8");
    const edited = flipped.slice(0, jtiAt) + (flipped[jtiAt] === "a" ? "b" : "a") + flipped.slice(jtiAt + 1);
    await expectRefused(s, `${header}.${Buffer.from(edited).toString("base64url")}.${signature}`);
    // And one character flipped in the signature itself.
    const sig = signature!;
    const mid = Math.floor(sig.length / 2);
    await expectRefused(
      s,
      `${header}.${payload}.${sig.slice(0, mid)}${sig[mid] === "A" ? "B" : "A"}${sig.slice(mid + 1)}`,
    );
  });

  it("an expired token signed with the real key: 401 Token is invalid or expired on /me, verify and refresh", async () => {
    const expired = forge(accessClaims(userId, { exp: now() - 60, iat: now() - 360 }));
    await expectRefused(s, expired);
    const expiredRefresh = forge(accessClaims(userId, { token_type: "refresh", exp: now() - 60, iat: now() - 360 }));
    expectViewRefused(await refresh(s, expiredRefresh));
  });

  it("nbf in the future is refused", async () => {
    await expectAccepted(s, forge(accessClaims(userId, { nbf: now() - 5 })), userId);
    await expectRefused(s, forge(accessClaims(userId, { nbf: now() + 120 })));
  });

  it("iat in the future is refused (as PyJWT refuses it)", async () => {
    await expectRefused(s, forge(accessClaims(userId, { iat: now() + 120 })));
  });

  it("a refresh token used as an access token on /me: Token has wrong type", async () => {
    const pair = await login(s);
    expect(payloadOf(pair.refresh).token_type).toBe("refresh");
    expectAccessRefused(await me(s, pair.refresh), "Token has wrong type");
    // jwt/verify takes any type (SimpleJWT's UntypedToken).
    expect((await verify(s, pair.refresh)).status).toBe(200);
  });

  it("an access token used on /jwt/refresh/: 401 Token has wrong type", async () => {
    const pair = await login(s);
    expect((await refresh(s, pair.refresh)).status).toBe(200);
    expectViewRefused(await refresh(s, pair.access), "Token has wrong type");
  });

  it("a token without jti: Token has no id", async () => {
    await expectRefused(s, forge(omit(accessClaims(userId), "jti")), "Token has no id");
  });

  it("a token without token_type: Token has no type (verify, typeless, takes it)", async () => {
    const untyped = forge(omit(accessClaims(userId), "token_type"));
    expectAccessRefused(await me(s, untyped), "Token has no type");
    expectViewRefused(await refresh(s, untyped), "Token has no type");
    expect((await verify(s, untyped)).status).toBe(200);
  });

  it("a token without exp: Token has no 'exp' claim", async () => {
    await expectRefused(s, forge(omit(accessClaims(userId), "exp")), "Token has no 'exp' claim");
  });

  it("a token without user_id: 401 Token contained no recognizable user identification", async () => {
    const res = await me(s, forge(omit(accessClaims(userId), "user_id")));
    expect(res.status, res.text).toBe(401);
    expect(res.json).toEqual({
      detail: "Token contained no recognizable user identification",
      code: "token_not_valid",
    });
  });

  it("JWKS: an HMAC secret is never published (404)", async () => {
    const res = await s.request("GET", "/.well-known/jwks.json");
    expect(res.status).toBe(404);
    expect(res.json.code).toBe("not_found");
    expect(res.text).not.toContain(SECRET_KEY);
  });

  it("a token naming a user that does not exist: 401 User not found", async () => {
    const res = await me(s, forge(accessClaims(userId + 100_000)));
    expect(res.status, res.text).toBe(401);
    expect(res.json).toEqual({ detail: "User not found", code: "user_not_found" });
  });
});

describe("SIMPLE_JWT_LEEWAY", () => {
  let strict: TestServer;
  let lenient: TestServer;
  let ids: { strict: number; lenient: number };
  beforeAll(async () => {
    [strict, lenient] = await Promise.all([
      startTestServer("pglite", { ...HS, SIMPLE_JWT_LEEWAY: "0" }),
      startTestServer("pglite", { ...HS, SIMPLE_JWT_LEEWAY: "30" }),
    ]);
    ids = { strict: (await createStaff(strict)).id, lenient: (await createStaff(lenient)).id };
  });
  afterAll(async () => Promise.all([strict?.stop(), lenient?.stop()]));

  it("a token expired 5 s ago passes with LEEWAY=30 and fails with LEEWAY=0", async () => {
    const claims = (id: number) => accessClaims(id, { exp: now() - 5, iat: now() - 305 });
    await expectAccepted(lenient, forge(claims(ids.lenient)), ids.lenient);
    await expectRefused(strict, forge(claims(ids.strict)));
  });

  it("iat and nbf 10 s in the future pass with LEEWAY=30 and fail with LEEWAY=0", async () => {
    for (const over of [{ iat: now() + 10 }, { nbf: now() + 10 }]) {
      await expectAccepted(lenient, forge(accessClaims(ids.lenient, over)), ids.lenient);
      await expectRefused(strict, forge(accessClaims(ids.strict, over)));
    }
  });

  it("LEEWAY does not stretch further: expired 60 s ago fails with LEEWAY=30", async () => {
    await expectRefused(lenient, forge(accessClaims(ids.lenient, { exp: now() - 60, iat: now() - 360 })));
  });
});

describe("AUDIENCE and ISSUER configured", () => {
  const AUD = "portcullis-api";
  const ISS = "https://auth.example";
  let s: TestServer;
  let userId: number;
  beforeAll(async () => {
    s = await startTestServer("pglite", { ...HS, SIMPLE_JWT_AUDIENCE: AUD, SIMPLE_JWT_ISSUER: ISS });
    userId = (await createStaff(s)).id;
  });
  afterAll(async () => s?.stop());

  it("the right aud and iss are accepted", async () => {
    await expectAccepted(s, forge(accessClaims(userId, { aud: AUD, iss: ISS })), userId);
  });

  it("a wrong aud, a wrong iss, a missing aud or a missing iss is refused", async () => {
    const good = accessClaims(userId, { aud: AUD, iss: ISS });
    await expectRefused(s, forge({ ...good, aud: "another-api" }));
    await expectRefused(s, forge({ ...good, iss: "https://evil.example" }));
    await expectRefused(s, forge(omit(good, "aud")));
    await expectRefused(s, forge(omit(good, "iss")));
    await expectRefused(s, forge(omit(good, "aud", "iss")));
  });

  it("the tokens the server issues carry aud and iss, and are accepted back", async () => {
    const pair = await login(s);
    for (const token of [pair.access, pair.refresh]) expect(payloadOf(token)).toMatchObject({ aud: AUD, iss: ISS });
    await expectAccepted(s, pair.access, userId);
    const refreshed = await refresh(s, pair.refresh);
    expect(refreshed.status, refreshed.text).toBe(200);
    expect(payloadOf(refreshed.json.access)).toMatchObject({ aud: AUD, iss: ISS, token_type: "access" });
    await expectAccepted(s, refreshed.json.access, userId);
  });
});

// ---------------------------------------------------------------------------------------------
// Asymmetric keys: algorithm confusion, keys named by the token, kid, JWKS
// ---------------------------------------------------------------------------------------------

describe("RS256 server (fixture key pair)", () => {
  const publicPem = readFileSync(RS256_PUBLIC, "utf8");
  const privateKey = readFileSync(RS256_PRIVATE, "utf8");
  const serverKid = thumbprint(createPublicKey(publicPem).export({ format: "jwk" }));
  let s: TestServer;
  let userId: number;
  beforeAll(async () => {
    s = await startTestServer("pglite", {
      SECRET_KEY,
      SIMPLE_JWT_ALGORITHM: "RS256",
      SIMPLE_JWT_SIGNING_KEY_FILE: RS256_PRIVATE,
    });
    userId = (await createStaff(s)).id;
  });
  afterAll(async () => s?.stop());

  it("tokens signed with the real private key are accepted, with or without the server's kid", async () => {
    await expectAccepted(s, forge(accessClaims(userId), { alg: "RS256", key: privateKey }), userId);
    await expectAccepted(
      s,
      forge(accessClaims(userId), { alg: "RS256", key: privateKey, header: { kid: serverKid } }),
      userId,
    );
  });

  it("HS/RS confusion: HS256 signed with the server's public key PEM as the HMAC secret is refused", async () => {
    const jwksPem = createPublicKey({
      key: (await s.request("GET", "/.well-known/jwks.json")).json.keys[0],
      format: "jwk",
    }).export({ type: "spki", format: "pem" }) as string;
    for (const secret of [publicPem, publicPem.trim(), jwksPem]) {
      for (const header of [{}, { kid: serverKid }]) {
        for (const alg of ["HS256", "HS384", "HS512"])
          await expectRefused(s, forge(accessClaims(userId), { alg, key: secret, header }));
      }
    }
  });

  it('alg "none" is refused, also when it names the server\'s kid', async () => {
    for (const header of [{}, { kid: serverKid }])
      await expectRefused(s, forge(accessClaims(userId), { alg: "none", header }));
  });

  it("RS512 signed with the real private key is refused, even naming the server's kid: the key's algorithm rules, not the header's", async () => {
    for (const header of [{}, { kid: serverKid }])
      await expectRefused(s, forge(accessClaims(userId), { alg: "RS512", key: privateKey, header }));
  });

  it("an HS256 token signed with SECRET_KEY is refused: SECRET_KEY only serves HS* servers", async () => {
    await expectRefused(s, forge(accessClaims(userId)));
  });

  it("an unknown kid is refused even when the signature is the real key's", async () => {
    await expectRefused(
      s,
      forge(accessClaims(userId), { alg: "RS256", key: privateKey, header: { kid: "unknown-kid" } }),
    );
    await expectRefused(s, forge(accessClaims(userId), { alg: "RS256", key: privateKey, header: { kid: 1 } }));
  });

  it("jwk, jku and x5u headers are ignored: an attacker key embedded or linked in the token is never used nor fetched", async () => {
    const attacker = keyPair("rsa");
    const attackerJwk = { ...createPublicKey(attacker.publicPem).export({ format: "jwk" }), alg: "RS256", use: "sig" };
    const attackerKid = thumbprint(attackerJwk);
    const fetched: string[] = [];
    const trap: Server = createServer((req, res) => {
      fetched.push(req.url ?? "");
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys: [{ ...attackerJwk, kid: attackerKid }] }));
    });
    await new Promise<void>((resolve) => trap.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(trap.address() as AddressInfo).port}`;
    try {
      const links = { jwk: attackerJwk, jku: `${base}/jwks.json`, x5u: `${base}/cert.pem` };
      for (const header of [
        links,
        { ...links, kid: attackerKid },
        { ...links, kid: serverKid },
        { jku: links.jku, kid: attackerKid },
        { jwk: { ...attackerJwk, kid: attackerKid } },
      ]) {
        await expectRefused(s, forge(accessClaims(userId), { alg: "RS256", key: attacker.privatePem, header }));
      }
      // The same headers on a token the real key signed change nothing: they are not read at all.
      await expectAccepted(s, forge(accessClaims(userId), { alg: "RS256", key: privateKey, header: links }), userId);
      expect(fetched).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => trap.close(() => resolve()));
    }
  });

  it("JWKS: the public key only (kty, n, e), kid = RFC 7638 thumbprint, alg and use; no private member", async () => {
    const res = await s.request("GET", "/.well-known/jwks.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/jwk-set+json");
    const expected = createPublicKey(publicPem).export({ format: "jwk" });
    expect(res.json).toEqual({
      keys: [{ kty: "RSA", n: expected.n, e: expected.e, kid: serverKid, alg: "RS256", use: "sig" }],
    });
    for (const member of PRIVATE_JWK_MEMBERS) expect(res.json.keys[0]).not.toHaveProperty(member);
    // What the server issues carries that kid and verifies with the published key alone.
    const { access } = await login(s);
    expect(headerOf(access)).toEqual({ alg: "RS256", typ: "JWT", kid: serverKid });
    const published = createPublicKey({ key: res.json.keys[0], format: "jwk" });
    expect(jsonwebtoken.verify(access, published, { algorithms: ["RS256"] })).toMatchObject({
      token_type: "access",
      user_id: userId,
    });
  });
});

describe("JWKS never publishes private key material", () => {
  it("ES256: kty EC, crv/x/y, kid = RFC 7638 thumbprint, and tokens verify with the published key", async () => {
    const s = await startTestServer("pglite", {
      SECRET_KEY,
      SIMPLE_JWT_ALGORITHM: "ES256",
      SIMPLE_JWT_SIGNING_KEY: readFileSync(ES256_PRIVATE, "utf8"),
      SIMPLE_JWT_VERIFYING_KEY: readFileSync(ES256_PUBLIC, "utf8"),
    });
    try {
      const res = await s.request("GET", "/.well-known/jwks.json");
      expect(res.status).toBe(200);
      const expected = createPublicKey(readFileSync(ES256_PUBLIC, "utf8")).export({ format: "jwk" });
      const kid = thumbprint(expected);
      expect(res.json).toEqual({
        keys: [{ kty: "EC", crv: "P-256", x: expected.x, y: expected.y, kid, alg: "ES256", use: "sig" }],
      });
      for (const member of PRIVATE_JWK_MEMBERS) expect(res.json.keys[0]).not.toHaveProperty(member);
      const { id } = await createStaff(s);
      const { access } = await login(s);
      expect(headerOf(access).kid).toBe(kid);
      expect(
        jsonwebtoken.verify(access, createPublicKey({ key: res.json.keys[0], format: "jwk" }), {
          algorithms: ["ES256"],
        }),
      ).toMatchObject({ user_id: id });
    } finally {
      await s.stop();
    }
  });

  it("private PEMs given as VERIFYING_KEY and as an additional key publish their public halves only", async () => {
    const extra = keyPair("ec");
    const s = await startTestServer("pglite", {
      SECRET_KEY,
      SIMPLE_JWT_ALGORITHM: "RS256",
      SIMPLE_JWT_SIGNING_KEY_FILE: RS256_PRIVATE,
      SIMPLE_JWT_VERIFYING_KEY_FILE: RS256_PRIVATE,
      SIMPLE_JWT_ADDITIONAL_VERIFYING_KEYS: JSON.stringify([
        { KID: "old-ec", ALGORITHM: "ES256", KEY: extra.privatePem },
      ]),
    });
    try {
      const res = await s.request("GET", "/.well-known/jwks.json");
      expect(res.status).toBe(200);
      expect(res.json.keys.map((k: { kid: string; alg: string }) => [k.alg, k.kid])).toEqual([
        ["RS256", thumbprint(createPublicKey(readFileSync(RS256_PUBLIC, "utf8")).export({ format: "jwk" }))],
        ["ES256", "old-ec"],
      ]);
      for (const key of res.json.keys) {
        for (const member of PRIVATE_JWK_MEMBERS) expect(key).not.toHaveProperty(member);
        expect(Object.keys(key).sort()).toEqual(
          key.kty === "RSA" ? ["alg", "e", "kid", "kty", "n", "use"] : ["alg", "crv", "kid", "kty", "use", "x", "y"],
        );
      }
      expect(res.text).not.toMatch(/"(d|p|q|dp|dq|qi)"\s*:/);
    } finally {
      await s.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Sessions and key rotation: these touch the database, so they run on PGlite and PostgreSQL
// ---------------------------------------------------------------------------------------------

describe.each(DATABASES)("one key per purpose, and tokens without a session id, on %s", (kind) => {
  let plain: TestServer; // SECRET_KEY only: the HS256 key is derived from it
  let strict: TestServer; // SIGNING_KEY = SECRET_KEY (a cutover), ACCEPT_TOKENS_WITHOUT_SID=false
  let production: TestServer; // NODE_ENV=production: sid-less tokens refused by default
  let ids: number[];
  let productionDb: { url: string; drop(): Promise<void> } | undefined;
  beforeAll(async () => {
    // Production refuses pglite:memory: that server gets a database of its own either way.
    productionDb = await lastingDatabase(kind);
    const prod = {
      ...HS,
      NODE_ENV: "production",
      ALLOWED_HOSTS: '["127.0.0.1","localhost"]',
      DATABASE_URL: productionDb.url,
    };
    [plain, strict, production] = await Promise.all([
      startTestServer(kind, { SECRET_KEY }),
      startTestServer(kind, { ...HS, SIMPLE_JWT_ACCEPT_TOKENS_WITHOUT_SID: "false" }),
      startTestServer(kind, prod),
    ]);
    ids = await Promise.all([plain, strict, production].map(async (s) => (await createStaff(s)).id));
  });
  afterAll(async () => {
    await Promise.all([plain?.stop(), strict?.stop(), production?.stop()]);
    await productionDb?.drop();
  });

  it("by default SECRET_KEY is not the JWT key: a token signed with SECRET_KEY is refused, REST and tRPC; the server's own work", async () => {
    await expectRefused(plain, forge(accessClaims(ids[0]!)));
    expectViewRefused(await refresh(plain, forge({ ...accessClaims(ids[0]!), token_type: "refresh" })));
    const { createTRPCClient, httpLink } = await import("@trpc/client");
    const client = createTRPCClient<import("../../../src/trpc/router.ts").AppRouter>({
      links: [httpLink({ url: `${plain.url}/trpc`, headers: bearer(forge(accessClaims(ids[0]!))) })],
    });
    await expect(client.users.me.query()).rejects.toThrow("Given token not valid for any token type");
    const pair = await login(plain);
    await expectAccepted(plain, pair.access, ids[0]);
    expect((await refresh(plain, pair.refresh)).status).toBe(200);
  });

  it("ACCEPT_TOKENS_WITHOUT_SID=false: SimpleJWT's sid-less access and refresh tokens are refused; ours work", async () => {
    const access = forge(accessClaims(ids[1]!));
    expectAccessRefused(await me(strict, access), "Token has no session id");
    expectViewRefused(await verify(strict, access), "Token has no session id");
    expectViewRefused(
      await refresh(strict, forge({ ...accessClaims(ids[1]!), token_type: "refresh" })),
      "Token has no session id",
    );
    expect(await strict.deps.prisma.jwtSession.count()).toBe(0); // nothing adopted
    const pair = await login(strict);
    await expectAccepted(strict, pair.access, ids[1]);
    expect((await refresh(strict, pair.refresh)).status).toBe(200);
  });

  it("NODE_ENV=production refuses sid-less tokens unless ACCEPT_TOKENS_WITHOUT_SID is set", async () => {
    expectAccessRefused(await me(production, forge(accessClaims(ids[2]!))), "Token has no session id");
    const pair = await login(production);
    await expectAccepted(production, pair.access, ids[2]);
  });
});

describe.each(DATABASES)("sessions on %s", (kind) => {
  let s: TestServer;
  let userId: number;
  beforeAll(async () => {
    s = await startTestServer(kind, HS);
    userId = (await createStaff(s)).id;
  });
  afterAll(async () => s?.stop());

  it("after jwt/logout, the session's refresh and access tokens are refused (blacklisted)", async () => {
    const pair = await login(s);
    await expectAccepted(s, pair.access, userId);
    expect((await refresh(s, pair.refresh)).status).toBe(200);

    const out = await s.request("POST", "/auth/jwt/logout/", { json: { refresh: pair.refresh } });
    expect(out.status, out.text).toBe(204);

    expectViewRefused(await refresh(s, pair.refresh), "Token is blacklisted");
    expectAccessRefused(await me(s, pair.access), "Token is blacklisted");
    for (const token of [pair.refresh, pair.access]) {
      const v = await verify(s, token);
      // SimpleJWT's TokenVerifySerializer raises a plain ValidationError here: a 400.
      expect(v.status, v.text).toBe(400);
      expect(v.json).toEqual({ non_field_errors: ["Token is blacklisted"] });
    }
    // Another session of the same user is untouched.
    await expectAccepted(s, (await login(s)).access, userId);
  });

  it("a token of a deleted user: 401 User not found", async () => {
    const created = await s.request("POST", "/auth/users/", { json: { username: "leaver", password: "Kq7!vLp2#Zx9" } });
    expect(created.status, created.text).toBe(201);
    const { access } = await login(s, { username: "leaver", password: "Kq7!vLp2#Zx9" });
    await expectAccepted(s, access, created.json.id);
    const gone = await s.request("DELETE", "/auth/users/me/", {
      headers: bearer(access),
      json: { current_password: "Kq7!vLp2#Zx9" },
    });
    expect(gone.status, gone.text).toBe(204);
    const res = await me(s, access);
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ detail: "User not found", code: "user_not_found" });
  });
});

describe.each(DATABASES)("key rotation across restarts on %s", (kind) => {
  let db: { url: string; drop(): Promise<void> };
  beforeAll(async () => {
    db = await lastingDatabase(kind);
  });
  afterAll(async () => db?.drop());

  it("RS256 kid rotation: k1 tokens verify while k1 is an additional key, and are refused once it is gone", async () => {
    const k1 = keyPair("rsa");
    const k2 = keyPair("rsa");
    const k1Private = tmpFile("k1.pem", k1.privatePem);
    const k1Public = tmpFile("k1.pub.pem", k1.publicPem);
    const k2Private = tmpFile("k2.pem", k2.privatePem);
    const rs = { SIMPLE_JWT_ALGORITHM: "RS256" };

    // Server A signs with k1.
    let s = await startOn(db.url, { ...rs, SIMPLE_JWT_SIGNING_KEY_FILE: k1Private, SIMPLE_JWT_SIGNING_KEY_ID: "k1" });
    let t1: { access: string; refresh: string };
    let userId: number;
    try {
      userId = (await createStaff(s)).id;
      t1 = await login(s);
      expect(headerOf(t1.access)).toEqual({ alg: "RS256", typ: "JWT", kid: "k1" });
      await expectAccepted(s, t1.access, userId);
    } finally {
      await s.stop();
    }

    // Server B signs with k2 and still verifies k1.
    s = await startOn(db.url, {
      ...rs,
      SIMPLE_JWT_SIGNING_KEY_FILE: k2Private,
      SIMPLE_JWT_SIGNING_KEY_ID: "k2",
      SIMPLE_JWT_ADDITIONAL_VERIFYING_KEYS: JSON.stringify([{ KID: "k1", ALGORITHM: "RS256", KEY_FILE: k1Public }]),
    });
    let t2: { access: string; refresh: string };
    try {
      await expectAccepted(s, t1.access, userId);
      const refreshed = await refresh(s, t1.refresh);
      expect(refreshed.status, refreshed.text).toBe(200);
      expect(headerOf(refreshed.json.access).kid).toBe("k2");
      await expectAccepted(s, refreshed.json.access, userId);
      t2 = await login(s);
      expect(headerOf(t2.access)).toEqual({ alg: "RS256", typ: "JWT", kid: "k2" });
      await expectAccepted(s, t2.access, userId);
      // The kid picks the key: k2's signature under kid "k1" is not tried against k2.
      await expectRefused(s, forge(accessClaims(userId), { alg: "RS256", key: k2.privatePem, header: { kid: "k1" } }));

      const jwks = await s.request("GET", "/.well-known/jwks.json");
      expect(jwks.status).toBe(200);
      expect(
        jwks.json.keys.map((k: Record<string, unknown>) => ({ kid: k.kid, alg: k.alg, use: k.use, kty: k.kty })),
      ).toEqual([
        { kid: "k2", alg: "RS256", use: "sig", kty: "RSA" },
        { kid: "k1", alg: "RS256", use: "sig", kty: "RSA" },
      ]);
      expect(jwks.json.keys[1].n).toBe(createPublicKey(k1.publicPem).export({ format: "jwk" }).n);
      for (const key of jwks.json.keys)
        for (const member of PRIVATE_JWK_MEMBERS) expect(key).not.toHaveProperty(member);
    } finally {
      await s.stop();
    }

    // Server C has dropped k1: its tokens die, k2's live on.
    s = await startOn(db.url, { ...rs, SIMPLE_JWT_SIGNING_KEY_FILE: k2Private, SIMPLE_JWT_SIGNING_KEY_ID: "k2" });
    try {
      await expectRefused(s, t1.access);
      expectViewRefused(await refresh(s, t1.refresh));
      await expectAccepted(s, t2.access, userId);
      expect((await s.request("GET", "/.well-known/jwks.json")).json.keys.map((k: { kid: string }) => k.kid)).toEqual([
        "k2",
      ]);
    } finally {
      await s.stop();
    }
  });

  it("HS256 secret rotation: the old secret as an additional key (no KID) keeps old kid-less tokens valid until removed", async () => {
    const oldSecret = "old-hs256-signing-secret-0123456789abcdef-rotation";
    const newSecret = "new-hs256-signing-secret-0123456789abcdef-rotation";
    const credentials = { username: "rotator", password: "Adm1n-Passw0rd!" };

    let s = await startOn(db.url, { SIMPLE_JWT_SIGNING_KEY: oldSecret });
    let old: { access: string; refresh: string };
    let userId: number;
    try {
      userId = (await createStaff(s, credentials.username, credentials.password, "rotator@example.com")).id;
      old = await login(s, credentials);
      expect(headerOf(old.access)).toEqual({ alg: "HS256", typ: "JWT" });
    } finally {
      await s.stop();
    }

    s = await startOn(db.url, {
      SIMPLE_JWT_SIGNING_KEY: newSecret,
      SIMPLE_JWT_ADDITIONAL_VERIFYING_KEYS: JSON.stringify([{ ALGORITHM: "HS256", KEY: oldSecret }]),
    });
    let fresh: { access: string; refresh: string };
    try {
      await expectAccepted(s, old.access, userId);
      expect((await refresh(s, old.refresh)).status).toBe(200);
      fresh = await login(s, credentials);
      expect(headerOf(fresh.access)).toEqual({ alg: "HS256", typ: "JWT" });
      // Signed with the new secret, not the old one.
      expect(() => jsonwebtoken.verify(fresh.access, oldSecret, { algorithms: ["HS256"] })).toThrow();
      expect(jsonwebtoken.verify(fresh.access, newSecret, { algorithms: ["HS256"] })).toMatchObject({
        user_id: userId,
      });
      await expectAccepted(s, fresh.access, userId);
      // HMAC secrets are never published.
      expect((await s.request("GET", "/.well-known/jwks.json")).status).toBe(404);
    } finally {
      await s.stop();
    }

    s = await startOn(db.url, { SIMPLE_JWT_SIGNING_KEY: newSecret });
    try {
      await expectRefused(s, old.access);
      await expectAccepted(s, fresh.access, userId);
    } finally {
      await s.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Start-up refusals: `portcullis serve` stops before listening, naming the setting
// ---------------------------------------------------------------------------------------------

describe("start-up refusals of bad JWT keys (portcullis serve)", () => {
  const base = { SECRET_KEY };

  it("RS256 without a key: exit 1, naming SIMPLE_JWT.SIGNING_KEY", async () => {
    const r = await serveCli({ ...base, SIMPLE_JWT_ALGORITHM: "RS256" });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(
      "SIMPLE_JWT.SIGNING_KEY: ALGORITHM RS256 needs a private key in PEM (SIGNING_KEY or SIGNING_KEY_FILE)",
    );
    expect(r.stdout).toBe("");
  });

  it("a VERIFYING_KEY that is not the public half of SIGNING_KEY: exit 1, naming SIMPLE_JWT.VERIFYING_KEY", async () => {
    const r = await serveCli({
      ...base,
      SIMPLE_JWT_ALGORITHM: "RS256",
      SIMPLE_JWT_SIGNING_KEY_FILE: RS256_PRIVATE,
      SIMPLE_JWT_VERIFYING_KEY: keyPair("rsa").publicPem,
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain("SIMPLE_JWT.VERIFYING_KEY: is not the public half of SIGNING_KEY");
  });

  it("NODE_ENV=production with a short HS SIGNING_KEY (or additional HS key): exit 1; 32 bytes start", async () => {
    // Otherwise sound production settings, so the key is the only problem.
    // (A folder: production refuses pglite:memory, which would lose every account at restart.)
    const db = `pglite:${join(tmp(), "prod-db")}`;
    const prod = {
      ...base,
      NODE_ENV: "production",
      ALLOWED_HOSTS: '["127.0.0.1"]',
      EMAIL_BACKEND: "file",
      DATABASE_URL: db,
    };
    const [short, shortExtra] = await Promise.all([
      serveCli({ ...prod, SIMPLE_JWT_SIGNING_KEY: "x".repeat(31) }),
      serveCli({
        ...prod,
        SIMPLE_JWT_ADDITIONAL_VERIFYING_KEYS: JSON.stringify([{ ALGORITHM: "HS256", KEY: "short-old-secret" }]),
      }),
    ]);
    expect(short.code, short.stderr).toBe(1);
    expect(short.stderr).toContain(
      "SIMPLE_JWT.SIGNING_KEY: an HMAC key must be at least 32 bytes (256 bits) when NODE_ENV=production",
    );
    expect(shortExtra.code, shortExtra.stderr).toBe(1);
    expect(shortExtra.stderr).toContain(
      "SIMPLE_JWT.ADDITIONAL_VERIFYING_KEYS[0]: an HMAC key must be at least 32 bytes",
    );

    // The length is the reason: the same production settings with a 32-byte key start.
    const ok = await startTestServer("pglite", { ...prod, SIMPLE_JWT_SIGNING_KEY: "x".repeat(32) });
    try {
      expect((await ok.request("GET", "/healthz")).status).toBe(200);
    } finally {
      await ok.stop();
    }
  });
});
