// JWT keys over time: kid rotation and secret rotation across server restarts on one database,
// and `portcullis serve` refusing bad keys at start-up, naming the setting.
import { createPublicKey } from "node:crypto";
import { join } from "node:path";
import jsonwebtoken from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStaff, DATABASES, startTestServer } from "../../helpers/server.ts";
import {
  accessClaims,
  expectAccepted,
  expectRefused,
  expectViewRefused,
  forge,
  headerOf,
  keyPair,
  lastingDatabase,
  login,
  PRIVATE_JWK_MEMBERS,
  RS256_PRIVATE,
  refresh,
  SECRET_KEY,
  serveCli,
  startOn,
  tmp,
  tmpFile,
} from "./forge.ts";

describe.each(DATABASES)("key rotation across restarts on %s", (kind) => {
  let db: { url: string; drop(): Promise<void> };
  beforeAll(async () => {
    db = await lastingDatabase(kind);
  });
  afterAll(async () => db?.drop());

  it(
    "RS256 kid rotation: k1 tokens verify while k1 is an additional key, " + "and are refused once it is gone",
    async () => {
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
        await expectRefused(
          s,
          forge(accessClaims(userId), { alg: "RS256", key: k2.privatePem, header: { kid: "k1" } }),
        );

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
        expect((await s.request("GET", "/.well-known/jwks.json")).json.keys.map((k: { kid: string }) => k.kid)).toEqual(
          ["k2"],
        );
      } finally {
        await s.stop();
      }
    },
  );

  it(
    "HS256 secret rotation: the old secret as an additional key " +
      "(no KID) keeps old kid-less tokens valid until removed",
    async () => {
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
    },
  );
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

  it(
    "a VERIFYING_KEY that is not the public half of SIGNING_KEY: " + "exit 1, naming SIMPLE_JWT.VERIFYING_KEY",
    async () => {
      const r = await serveCli({
        ...base,
        SIMPLE_JWT_ALGORITHM: "RS256",
        SIMPLE_JWT_SIGNING_KEY_FILE: RS256_PRIVATE,
        SIMPLE_JWT_VERIFYING_KEY: keyPair("rsa").publicPem,
      });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain("SIMPLE_JWT.VERIFYING_KEY: is not the public half of SIGNING_KEY");
    },
  );

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
