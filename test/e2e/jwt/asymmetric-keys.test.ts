// JWT verification with asymmetric keys: algorithm confusion, keys named by the token (kid, jwk,
// jku, x5u), and a JWKS that publishes public halves only. Cases are built as in
// forged-tokens.test.ts (forge.ts).

import { createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import jsonwebtoken from "jsonwebtoken";
import { beforeAll, describe, expect, it } from "vitest";
import { useServer } from "../../helpers/fixture.ts";
import { createStaff, startTestServer } from "../../helpers/server.ts";
import {
  accessClaims,
  ES256_PRIVATE,
  ES256_PUBLIC,
  expectAccepted,
  expectRefused,
  forge,
  headerOf,
  keyPair,
  login,
  PRIVATE_JWK_MEMBERS,
  RS256_PRIVATE,
  RS256_PUBLIC,
  SECRET_KEY,
  thumbprint,
} from "./forge.ts";

// ---------------------------------------------------------------------------------------------
// Asymmetric keys: algorithm confusion, keys named by the token, kid, JWKS
// ---------------------------------------------------------------------------------------------

describe("RS256 server (fixture key pair)", () => {
  const publicPem = readFileSync(RS256_PUBLIC, "utf8");
  const privateKey = readFileSync(RS256_PRIVATE, "utf8");
  const serverKid = thumbprint(createPublicKey(publicPem).export({ format: "jwk" }));
  const s = useServer("pglite", {
    SECRET_KEY,
    SIMPLE_JWT_ALGORITHM: "RS256",
    SIMPLE_JWT_SIGNING_KEY_FILE: RS256_PRIVATE,
  });
  let userId: number;
  beforeAll(async () => {
    userId = (await createStaff(s)).id;
  });

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

  it(
    "RS512 signed with the real private key is refused, even naming the server's kid: " +
      "the key's algorithm rules, not the header's",
    async () => {
      for (const header of [{}, { kid: serverKid }])
        await expectRefused(s, forge(accessClaims(userId), { alg: "RS512", key: privateKey, header }));
    },
  );

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

  it(
    "jwk, jku and x5u headers are ignored: " +
      "an attacker key embedded or linked in the token is never used nor fetched",
    async () => {
      const attacker = keyPair("rsa");
      const attackerJwk = {
        ...createPublicKey(attacker.publicPem).export({ format: "jwk" }),
        alg: "RS256",
        use: "sig",
      };
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
    },
  );

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
