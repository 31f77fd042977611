// The JWT key ring: one key signs; every key in the ring verifies, told apart by "kid", so keys
// rotate without logging anyone out. Built once at start-up; a bad key stops the start.
//
// Every key carries its own algorithm, and verification passes exactly that algorithm to
// jsonwebtoken: the token's "alg" header only chooses among our keys, it never chooses how a key is
// used. That is what defeats alg "none" and HS/RS confusion (a public key used as an HMAC secret).
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  type JsonWebKey,
  type KeyObject,
} from "node:crypto";
import { readFileSync } from "node:fs";
import { SettingsError } from "../../config/load.ts";
import type { Settings } from "../../config/schema.ts";
import { purposeKey } from "../secrets.ts";

export type Algorithm = Settings["SIMPLE_JWT"]["ALGORITHM"];
export type RingKey = { kid: string | null; algorithm: Algorithm; key: KeyObject };
export type KeyRing = {
  /** Signs every token we issue. Its private half (or the HMAC secret) never leaves this object. */
  signing: RingKey;
  /** The signing key's verifying half first, then ADDITIONAL_VERIFYING_KEYS in their order. */
  verifying: RingKey[];
  /** The public keys as a JWK Set (RFC 7517); empty when every key is an HMAC secret. */
  jwks: { keys: JsonWebKey[] };
};

const isHmac = (alg: Algorithm) => alg.startsWith("HS");
const MIN_HMAC_BYTES = 32; // RFC 7518 §3.2: an HS256 key at least as long as its hash output

function pem(setting: string, value: string | null | undefined, file: string | null | undefined): string | null {
  if (value) return value;
  if (!file) return null;
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new SettingsError(`Invalid settings:\n  SIMPLE_JWT.${setting}: cannot read ${file} (${why})`);
  }
}

function asymmetric(setting: string, text: string, algorithm: Algorithm, want: "private" | "public"): KeyObject {
  try {
    // A private PEM also yields its public half, so a verifying key may be given either way.
    const key = want === "private" ? createPrivateKey(text) : createPublicKey(text);
    const type = algorithm.startsWith("RS") ? "rsa" : "ec";
    if (key.asymmetricKeyType !== type)
      throw new Error(`an ${key.asymmetricKeyType} key cannot be used for ${algorithm}`);
    return key;
  } catch (e) {
    throw new SettingsError(
      `Invalid settings:\n  SIMPLE_JWT.${setting}: ` +
        `not a usable ${want} PEM key for ${algorithm}: ${(e as Error).message}`,
    );
  }
}

function secret(setting: string, value: string, production: boolean): KeyObject {
  if (production && Buffer.byteLength(value) < MIN_HMAC_BYTES) {
    throw new SettingsError(
      `Invalid settings:\n  SIMPLE_JWT.${setting}: ` +
        `an HMAC key must be at least ${MIN_HMAC_BYTES} bytes (256 bits) when NODE_ENV=production`,
    );
  }
  return createSecretKey(Buffer.from(value, "utf8")); // PyJWT signs with the UTF-8 bytes of the str
}

/** RFC 7638 thumbprint: a stable kid derived from the public key itself. */
function thumbprint(key: KeyObject): string {
  const jwk = key.export({ format: "jwk" });
  const members =
    jwk.kty === "RSA" ? { e: jwk.e, kty: jwk.kty, n: jwk.n } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return createHash("sha256").update(JSON.stringify(members)).digest("base64url");
}

export function loadKeyRing(settings: Settings): KeyRing {
  const jwt = settings.SIMPLE_JWT;
  const production = settings.NODE_ENV === "production";
  const alg = jwt.ALGORITHM;
  let signing: RingKey;
  let verifyingHalf: RingKey;
  if (isHmac(alg)) {
    // SimpleJWT's SIGNING_KEY defaults to SECRET_KEY; ours to a key derived from it for JWTs alone, so
    // a key shared with resource servers cannot sign reset links. A cutover from SimpleJWT sets
    // SIGNING_KEY to the old SECRET_KEY (README).
    const key = jwt.SIGNING_KEY
      ? secret("SIGNING_KEY", jwt.SIGNING_KEY, production)
      : createSecretKey(purposeKey(settings, "jwt"));
    signing = verifyingHalf = { kid: jwt.SIGNING_KEY_ID, algorithm: alg, key };
  } else {
    const privatePem = pem("SIGNING_KEY_FILE", jwt.SIGNING_KEY, jwt.SIGNING_KEY_FILE);
    if (!privatePem)
      throw new SettingsError(
        `Invalid settings:\n  SIMPLE_JWT.SIGNING_KEY: ALGORITHM ${alg} needs a private key in PEM ` +
          "(SIGNING_KEY or SIGNING_KEY_FILE); SECRET_KEY only serves HS* algorithms",
      );
    const privateKey = asymmetric("SIGNING_KEY", privatePem, alg, "private");
    const derived = createPublicKey(privateKey);
    const publicPem = pem("VERIFYING_KEY_FILE", jwt.VERIFYING_KEY, jwt.VERIFYING_KEY_FILE);
    const publicKey = publicPem ? asymmetric("VERIFYING_KEY", publicPem, alg, "public") : derived;
    if (!publicKey.equals(derived))
      throw new SettingsError(
        "Invalid settings:\n  SIMPLE_JWT.VERIFYING_KEY: " +
          "is not the public half of SIGNING_KEY; every token would be refused",
      );
    const kid = jwt.SIGNING_KEY_ID ?? thumbprint(publicKey);
    signing = { kid, algorithm: alg, key: privateKey };
    verifyingHalf = { kid, algorithm: alg, key: publicKey };
  }

  const verifying = [verifyingHalf];
  jwt.ADDITIONAL_VERIFYING_KEYS.forEach((extra, i) => {
    const setting = `ADDITIONAL_VERIFYING_KEYS[${i}]`;
    const text = pem(setting, extra.KEY, extra.KEY_FILE)!;
    const key = isHmac(extra.ALGORITHM)
      ? secret(setting, text, production)
      : asymmetric(setting, text, extra.ALGORITHM, "public");
    verifying.push({
      kid: extra.KID ?? (isHmac(extra.ALGORITHM) ? null : thumbprint(key)),
      algorithm: extra.ALGORITHM,
      key,
    });
  });
  const kids = verifying.map((k) => k.kid).filter((k) => k !== null);
  const duplicate = kids.find((k, i) => kids.indexOf(k) !== i);
  if (duplicate)
    throw new SettingsError(
      `Invalid settings:\n  SIMPLE_JWT.ADDITIONAL_VERIFYING_KEYS: kid "${duplicate}" names two keys`,
    );

  const jwks = verifying
    .filter((k) => !isHmac(k.algorithm))
    .map((k) => ({ ...k.key.export({ format: "jwk" }), kid: k.kid!, alg: k.algorithm, use: "sig" }));
  return { signing, verifying, jwks: { keys: jwks } };
}

/**
 * The keys a token may have been signed with: the one its kid names, or, for a token without a
 * kid (SimpleJWT issues none), every key of the algorithm its header claims. Never more than the ring.
 */
export function candidateKeys(ring: KeyRing, header: { kid?: unknown; alg?: unknown }): RingKey[] {
  if (typeof header.kid === "string") return ring.verifying.filter((k) => k.kid === header.kid);
  if (header.kid !== undefined) return [];
  return ring.verifying.filter((k) => k.algorithm === header.alg);
}
