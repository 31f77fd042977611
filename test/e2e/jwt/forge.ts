// How the JWT security tests build their cases: tokens signed by hand with the server's real key
// (or another), key pairs and files, the checks of an accepted and a refused token, databases that
// outlive a server, and `portcullis serve` run for its start-up refusals.
import { spawn } from "node:child_process";
import { createHash, createHmac, sign as cryptoSign, generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect } from "vitest";
import { bearer, withActors } from "../../helpers/fixture.ts";
import { type DatabaseKind, freshPostgres, startTestServer, type TestServer } from "../../helpers/server.ts";

export const SECRET_KEY = "jwt-security-tests-secret-key-0123456789abcdef";
/** An HS256 server keyed as a SimpleJWT cutover keys it: SIGNING_KEY is the old SECRET_KEY (the default is derived). */
export const HS = { SECRET_KEY, SIMPLE_JWT_SIGNING_KEY: SECRET_KEY };
export const STAFF = { username: "admin", password: "Adm1n-Passw0rd!" };
export const BIN = fileURLToPath(new URL("../../../bin/portcullis.js", import.meta.url));
export const FIXTURES = fileURLToPath(new URL("../../fixtures/simplejwt/", import.meta.url));
export const RS256_PRIVATE = join(FIXTURES, "rs256-private.pem");
export const RS256_PUBLIC = join(FIXTURES, "rs256-public.pem");
export const ES256_PRIVATE = join(FIXTURES, "es256-private.pem");
export const ES256_PUBLIC = join(FIXTURES, "es256-public.pem");
export const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

// Made on first use, so a run that filters out every test here leaves nothing behind (the hook
// belongs to the test file that imports this module).
let tmpDir: string | undefined;
export const tmp = () => (tmpDir ??= mkdtempSync(join(tmpdir(), "portcullis-jwt-security-")));
afterAll(() => tmpDir && rmSync(tmpDir, { recursive: true, force: true }));

export type Claims = Record<string, unknown>;

export const now = () => Math.floor(Date.now() / 1000);
export const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
export const segment = (token: string, i: 0 | 1): Claims =>
  JSON.parse(Buffer.from(token.split(".")[i]!, "base64url").toString("utf8"));
export const headerOf = (token: string) => segment(token, 0);
export const payloadOf = (token: string) => segment(token, 1);
export const omit = (claims: Claims, ...names: string[]) =>
  Object.fromEntries(Object.entries(claims).filter(([k]) => !names.includes(k)));

/** Valid access-token claims as SimpleJWT writes them, for a user; `over` replaces or adds claims. */
export function accessClaims(userId: number, over: Claims = {}): Claims {
  const iat = now();
  return { token_type: "access", exp: iat + 300, iat, jti: randomUUID().replaceAll("-", ""), user_id: userId, ...over };
}

/**
 * A compact JWS signed by hand (node:crypto), so every header member and claim is exactly what the
 * case says: nothing added (jsonwebtoken would add iat), nothing refused (alg "none", HS256 with a PEM).
 * `key` is the HMAC secret for HS256/384/512, a private key PEM for RS256 or ES256.
 */
export function forge(
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
export function keyPair(kind: "rsa" | "ec" = "rsa") {
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
export function tmpFile(name: string, text: string): string {
  const path = join(tmp(), `${randomUUID()}-${name}`);
  writeFileSync(path, text);
  return path;
}

/** RFC 7638 thumbprint of a public JWK (the required members, lexicographic order, SHA-256). */
export function thumbprint(jwk: Record<string, unknown>): string {
  const members =
    jwk.kty === "RSA" ? { e: jwk.e, kty: jwk.kty, n: jwk.n } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return createHash("sha256").update(JSON.stringify(members)).digest("base64url");
}

// The fixture's actors, on a server started here or by useServer.
export const me = (s: TestServer, token: string) => withActors(s).me(bearer(token));
export const verify = (s: TestServer, token: string) => withActors(s).verify(token);
export const refresh = (s: TestServer, token: string) => withActors(s).refresh(token);
/** jwt/create as the staff user (or with these credentials); the pair. */
export const login = (s: TestServer, { username, password } = STAFF) => withActors(s).jwtLogin(username, password);

/** /me and jwt/verify both take the token (the control half of every case). */
export async function expectAccepted(s: TestServer, token: string, userId?: number) {
  const res = await me(s, token);
  expect(res.status, res.text).toBe(200);
  if (userId !== undefined) expect(res.json.id).toBe(userId);
  const v = await verify(s, token);
  expect(v.status, v.text).toBe(200);
  expect(v.json).toEqual({});
}

/** JWTAuthentication's refusal (on /me): SimpleJWT's InvalidToken body with one AccessToken message. */
export function expectAccessRefused(
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
export function expectViewRefused(
  res: { status: number; json: any; text: string },
  message = "Token is invalid or expired",
) {
  expect(res.status, res.text).toBe(401);
  expect(res.json).toEqual({ detail: message, code: "token_not_valid" });
}

/** Refused on /me and on jwt/verify with the same message. */
export async function expectRefused(s: TestServer, token: string, message = "Token is invalid or expired") {
  expectAccessRefused(await me(s, token), message);
  expectViewRefused(await verify(s, token), message);
}

/** A database that outlives one server, so a restart with other keys sees the same users and sessions. */
export async function lastingDatabase(kind: DatabaseKind): Promise<{ url: string; drop(): Promise<void> }> {
  if (kind === "postgresql") return freshPostgres();
  const dir = mkdtempSync(join(tmpdir(), "portcullis-jwt-pglite-"));
  return { url: `pglite:${dir}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A server on a given database. startTestServer makes a database of its own only for kind
 * "postgresql"; with "pglite" it takes DATABASE_URL from env, whichever engine that URL names.
 */
export const startOn = (url: string, env: Record<string, string>) =>
  startTestServer("pglite", { SECRET_KEY, ...env, DATABASE_URL: url });

/** `portcullis serve` in a clean environment; only settings refusals are expected, so it is killed after 20 s. */
export function serveCli(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
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
