// The JWT key ring: kids, the JWKS it publishes, and which keys a token header may select.
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { loadSettings } from "../../config/load.ts";
import { candidateKeys, loadKeyRing } from "./jwt-keys.ts";

// RFC 7638 §3.1: this RSA key's JWK thumbprint is NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs.
const RFC7638_JWK = {
  kty: "RSA",
  n:
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjB" +
    "ZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8" +
    "KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_" +
    "xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
  e: "AQAB",
};
const RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
const RFC7638_PEM = createPublicKey({ key: RFC7638_JWK, format: "jwk" }).export({
  type: "spki",
  format: "pem",
}) as string;

const rsa = () =>
  generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
const ring = (env: Record<string, string>) =>
  loadKeyRing(
    loadSettings({ SECRET_KEY: "unit-test-secret-key-0123456789abcdef", DATA_DIR: "/nonexistent", ...env }).settings,
  );

describe("loadKeyRing", () => {
  it("without a KID, an RSA key's kid is its RFC 7638 thumbprint (the RFC's own example)", () => {
    const keys = ring({
      SIMPLE_JWT_ALGORITHM: "RS256",
      SIMPLE_JWT_SIGNING_KEY: rsa(),
      SIMPLE_JWT_ADDITIONAL_VERIFYING_KEYS: JSON.stringify([{ ALGORITHM: "RS256", KEY: RFC7638_PEM }]),
    });
    expect(keys.verifying[1]!.kid).toBe(RFC7638_THUMBPRINT);
    expect(keys.jwks.keys[1]).toEqual({ ...RFC7638_JWK, kid: RFC7638_THUMBPRINT, alg: "RS256", use: "sig" });
  });

  it("HS256 keys have no kid by default and are never published", () => {
    const keys = ring({
      SIMPLE_JWT_ADDITIONAL_VERIFYING_KEYS: JSON.stringify([
        { ALGORITHM: "HS256", KEY: "an-old-secret-that-is-long-enough-0123456789" },
      ]),
    });
    expect(keys.verifying.map((k) => [k.kid, k.algorithm])).toEqual([
      [null, "HS256"],
      [null, "HS256"],
    ]);
    expect(keys.jwks).toEqual({ keys: [] });
  });

  it("refuses two keys under one kid", () => {
    expect(() =>
      ring({
        SIMPLE_JWT_ALGORITHM: "RS256",
        SIMPLE_JWT_SIGNING_KEY: rsa(),
        SIMPLE_JWT_SIGNING_KEY_ID: "k",
        SIMPLE_JWT_ADDITIONAL_VERIFYING_KEYS: JSON.stringify([{ KID: "k", ALGORITHM: "RS256", KEY: RFC7638_PEM }]),
      }),
    ).toThrow(/ADDITIONAL_VERIFYING_KEYS: kid "k" names two keys/);
  });

  it("refuses a key of the wrong type for the algorithm (an EC key for RS256)", () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
      type: "pkcs8",
      format: "pem",
    }) as string;
    expect(() => ring({ SIMPLE_JWT_ALGORITHM: "RS256", SIMPLE_JWT_SIGNING_KEY: ec })).toThrow(
      /SIMPLE_JWT\.SIGNING_KEY: not a usable private PEM key for RS256/,
    );
  });
});

describe("candidateKeys", () => {
  const keys = ring({
    SIMPLE_JWT_ALGORITHM: "RS256",
    SIMPLE_JWT_SIGNING_KEY: rsa(),
    SIMPLE_JWT_SIGNING_KEY_ID: "new",
    SIMPLE_JWT_ADDITIONAL_VERIFYING_KEYS: JSON.stringify([{ KID: "old", ALGORITHM: "RS256", KEY: RFC7638_PEM }]),
  });

  it("a kid selects exactly its key; an unknown or non-string kid selects none", () => {
    expect(candidateKeys(keys, { kid: "old", alg: "RS256" }).map((k) => k.kid)).toEqual(["old"]);
    // The key keeps its own algorithm, whatever the header names.
    expect(candidateKeys(keys, { kid: "old", alg: "HS256" }).map((k) => k.kid)).toEqual(["old"]);
    expect(candidateKeys(keys, { kid: "nope", alg: "RS256" })).toEqual([]);
    expect(candidateKeys(keys, { kid: 1, alg: "RS256" })).toEqual([]);
    expect(candidateKeys(keys, { kid: null, alg: "RS256" })).toEqual([]);
  });

  it("without a kid, the keys of the header's algorithm only: none for none or HS256", () => {
    expect(candidateKeys(keys, { alg: "RS256" }).map((k) => k.kid)).toEqual(["new", "old"]);
    for (const alg of ["none", "HS256", "RS512", undefined]) expect(candidateKeys(keys, { alg })).toEqual([]);
  });
});
