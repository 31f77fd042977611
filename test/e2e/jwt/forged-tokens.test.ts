import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useServer } from "../../helpers/fixture.ts";
import { createStaff, startTestServer, type TestServer } from "../../helpers/server.ts";
import {
  accessClaims,
  b64json,
  expectAccepted,
  expectAccessRefused,
  expectRefused,
  expectViewRefused,
  forge,
  HS,
  login,
  me,
  now,
  omit,
  payloadOf,
  refresh,
  SECRET_KEY,
  verify,
} from "./forge.ts";

// ---------------------------------------------------------------------------------------------
// HS256 (the default): claims, signatures and token types
// ---------------------------------------------------------------------------------------------

describe("HS256 server: forged and broken tokens are refused", () => {
  const s = useServer("pglite", HS);
  let userId: number;
  beforeAll(async () => {
    userId = (await createStaff(s)).id;
  });

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

  it(
    "an HS512 token signed with the real secret is refused: " + "the algorithm is the server's, not the header's",
    async () => {
      await expectRefused(s, forge(accessClaims(userId), { alg: "HS512" }));
    },
  );

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

  it(
    "an expired token signed with the real key: " + "401 Token is invalid or expired on /me, verify and refresh",
    async () => {
      const expired = forge(accessClaims(userId, { exp: now() - 60, iat: now() - 360 }));
      await expectRefused(s, expired);
      const expiredRefresh = forge(accessClaims(userId, { token_type: "refresh", exp: now() - 60, iat: now() - 360 }));
      expectViewRefused(await refresh(s, expiredRefresh));
    },
  );

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
  const s = useServer("pglite", { ...HS, SIMPLE_JWT_AUDIENCE: AUD, SIMPLE_JWT_ISSUER: ISS });
  let userId: number;
  beforeAll(async () => {
    userId = (await createStaff(s)).id;
  });

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
