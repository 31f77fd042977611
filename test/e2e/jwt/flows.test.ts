// SimpleJWT's flows end to end (jwt/create, authentication by JWT, settings that shape them), through
// REST and the typed tRPC client, over PGlite and PostgreSQL. Sessions (refresh, rotation, reuse
// detection, logout) are in jwt-sessions.test.ts.
import { describe, expect, it } from "vitest";
import { type Auth, bearer, PW, type Server, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { DATABASES } from "../../helpers/server.ts";
import { failure } from "../../helpers/trpc.ts";

const NO_ACCOUNT = { detail: "No active account found with the given credentials" };
const REQUIRED = ["This field is required."];

const claimsOf = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;

/** /users/me/ (REST) and users.me (tRPC) both answer the user behind these headers. */
async function expectMe(s: Server, headers: Auth, user: Record<string, unknown>) {
  const rest = await s.me(headers);
  expect(rest.status, rest.text).toBe(200);
  expect(rest.json).toEqual(user);
  expect(await s.trpc(headers).users.me.query()).toEqual(user);
}

describe.each(DATABASES)("JWT flows on %s", (kind) => {
  describe("SimpleJWT's defaults", () => {
    const s = useServer(kind);

    it("jwt/create answers {refresh, access} with SimpleJWT's claims and one sid in both", async () => {
      const id = await s.signUp("claims");
      const rest = await s.jwtLogin("claims");
      const trpc = await s.trpc().jwt.create.mutate({ username: "claims", password: PW });
      expect(Object.keys(trpc)).toEqual(["refresh", "access"]);
      for (const pair of [rest, trpc]) {
        const refresh = claimsOf(pair.refresh);
        const access = claimsOf(pair.access);
        expect(refresh).toMatchObject({
          token_type: "refresh",
          user_id: id,
          jti: expect.stringMatching(/^[0-9a-f]{32}$/),
          sid: expect.stringMatching(/^[0-9a-f]{32}$/),
        });
        expect(access).toMatchObject({
          token_type: "access",
          user_id: id,
          jti: expect.stringMatching(/^[0-9a-f]{32}$/),
          sid: refresh.sid,
          iat: refresh.iat,
        });
        expect(access.jti).not.toBe(refresh.jti);
      }
      expect(claimsOf(trpc.refresh).sid).not.toBe(claimsOf(rest.refresh).sid);
    });

    it("jwt/create dates the pair from one instant: exp − iat is exactly each lifetime", async () => {
      // SimpleJWT's RefreshToken.access_token counts the access exp from the refresh token's
      // creation time, so both expire relative to the same instant.
      await s.signUp("lifetimes");
      for (const pair of [
        await s.jwtLogin("lifetimes"),
        await s.trpc().jwt.create.mutate({ username: "lifetimes", password: PW }),
      ]) {
        const refresh = claimsOf(pair.refresh);
        const access = claimsOf(pair.access);
        expect(Number(refresh.exp) - Number(refresh.iat)).toBe(86_400);
        expect(Number(access.exp) - Number(access.iat)).toBe(300);
      }
    });

    it("jwt/create refuses a wrong password and an inactive user with one 401 and a Bearer challenge", async () => {
      await s.signUp("refused");
      await s.signUp("dormant");
      await s.deps.prisma.user.updateMany({ where: { username: "dormant" }, data: { isActive: false } });
      for (const body of [
        { username: "refused", password: "wrong-password" },
        { username: "nobody" },
        { username: "dormant" },
      ]) {
        const res = await s.request("POST", "/auth/jwt/create/", { json: { password: PW, ...body } });
        expect(res.status).toBe(401);
        expect(res.json).toEqual(NO_ACCOUNT);
        expect(res.headers.get("www-authenticate")).toBe('Bearer realm="api"');
        const err = await failure(s.trpc().jwt.create.mutate({ password: PW, ...body }));
        expect(err.data?.code).toBe("no_active_account");
        expect(err.data?.httpStatus).toBe(401);
        expect(err.message).toBe(NO_ACCOUNT.detail);
      }
    });

    it("jwt/create without fields is DRF's 400 naming each field", async () => {
      const res = await s.request("POST", "/auth/jwt/create/", { json: {} });
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ username: REQUIRED, password: REQUIRED });
      const err = await failure(s.trpc().jwt.create.mutate({ password: "" }));
      expect(err.data?.code).toBe("invalid_input");
      expect(err.data?.fields).toEqual({ username: REQUIRED, password: ["This field may not be blank."] });
    });

    it("an access token authenticates /users/me/ and users.me behind Bearer", async () => {
      const id = await s.signUp("bearer", "bearer@example.com");
      const { access } = await s.jwtLogin("bearer");
      await expectMe(s, bearer(access), { email: "bearer@example.com", id, username: "bearer" });
    });

    it("UPDATE_LAST_LOGIN off: jwt/create leaves last_login untouched", async () => {
      const id = await s.signUp("nolastlogin");
      await s.jwtLogin("nolastlogin");
      await s.trpc().jwt.create.mutate({ username: "nolastlogin", password: PW });
      expect((await s.deps.prisma.user.findUniqueOrThrow({ where: { id } })).lastLogin).toBeNull();
    });

    it("token/logout authenticated by a JWT ends the opaque token and leaves the JWT working (Djoser)", async () => {
      const id = await s.signUp("mixed");
      const key = await s.tokenLogin("mixed");
      const { access } = await s.jwtLogin("mixed");
      const out = await s.request("POST", "/auth/token/logout/", { headers: bearer(access) });
      expect(out.status).toBe(204);
      expect(out.text).toBe("");
      const stale = await s.me(tokenAuth(key));
      expect(stale.status).toBe(401);
      expect(stale.json).toEqual({ detail: "Invalid token." });
      await expectMe(s, bearer(access), { email: "", id, username: "mixed" });
    });

    it("jwt/create, refresh and verify ignore Authorization, even a bad one", async () => {
      await s.signUp("ignorer");
      const headers = { authorization: "Token nope" };
      const created = await s.request("POST", "/auth/jwt/create/", {
        headers,
        json: { username: "ignorer", password: PW },
      });
      expect(created.status).toBe(200);
      const refreshed = await s.request("POST", "/auth/jwt/refresh/", {
        headers,
        json: { refresh: created.json.refresh },
      });
      expect(refreshed.status).toBe(200);
      expect(Object.keys(refreshed.json)).toEqual(["access"]);
      const verified = await s.request("POST", "/auth/jwt/verify/", {
        headers,
        json: { token: refreshed.json.access },
      });
      expect(verified.status).toBe(200);
      expect(verified.json).toEqual({});
      // …while an authenticating view refuses the same header.
      expect((await s.me(headers)).status).toBe(401);
    });

    it("OPTIONS on jwt/create, refresh and verify answers DRF's metadata", async () => {
      const base = {
        renders: ["application/json", "text/html"],
        parses: ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
      };
      const field = (label: string) => ({ type: "string", required: true, read_only: false, label });
      const expected: Record<string, unknown> = {
        create: {
          name: "Token Obtain Pair",
          description:
            "Takes a set of user credentials and returns an access and refresh JSON web\n" +
            "token pair to prove the authentication of those credentials.",
          ...base,
          actions: { POST: { username: field("Username"), password: field("Password") } },
        },
        refresh: {
          name: "Token Refresh",
          description:
            "Takes a refresh type JSON web token and returns an access type JSON web\n" +
            "token if the refresh token is valid.",
          ...base,
          actions: {
            POST: {
              refresh: field("Refresh"),
              access: { type: "string", required: false, read_only: true, label: "Access" },
            },
          },
        },
        verify: {
          name: "Token Verify",
          description:
            "Takes a token and indicates if it is valid.  This view provides no\n" +
            "information about a token's fitness for a particular use.",
          ...base,
          actions: { POST: { token: field("Token") } },
        },
      };
      for (const [view, body] of Object.entries(expected)) {
        const res = await s.request("OPTIONS", `/auth/jwt/${view}/`);
        expect(res.status, view).toBe(200);
        expect(res.json).toEqual(body);
      }
    });

    it("GET on jwt/create, refresh, verify and logout is DRF's 405 with Allow: POST, OPTIONS", async () => {
      for (const view of ["create", "refresh", "verify", "logout"]) {
        const res = await s.request("GET", `/auth/jwt/${view}/`);
        expect(res.status, view).toBe(405);
        expect(res.json).toEqual({ detail: 'Method "GET" not allowed.' });
        expect(res.headers.get("allow")).toBe("POST, OPTIONS");
      }
    });

    it("/.well-known/jwks.json is a JSON 404 under HS256: a shared secret is never published", async () => {
      const res = await s.request("GET", "/.well-known/jwks.json");
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(res.json).toEqual({
        detail:
          "No public keys: SIMPLE_JWT.ALGORITHM is HS256, a shared secret. Use RS256 or ES256 keys to publish a JWKS.",
        code: "not_found",
      });
    });
  });

  describe("USERNAME_FIELD=email", () => {
    const s = useServer(kind, { USERNAME_FIELD: "email" });

    it("jwt/create takes email and password, and names email when it is missing", async () => {
      const id = await s.signUp("Olga@Example.com");
      const { access } = await s.jwtLogin("Olga@example.com");
      expect(claimsOf(access).user_id).toBe(id);
      expect((await s.trpc().jwt.create.mutate({ email: "Olga@example.com", password: PW })).access).toEqual(
        expect.any(String),
      );
      const missing = await s.request("POST", "/auth/jwt/create/", { json: { username: "Olga@example.com" } });
      expect(missing.status).toBe(400);
      expect(missing.json).toEqual({ email: REQUIRED, password: REQUIRED });
      const options = await s.request("OPTIONS", "/auth/jwt/create/");
      expect(Object.keys(options.json.actions.POST)).toEqual(["email", "password"]);
    });
  });

  describe("SIMPLE_JWT_UPDATE_LAST_LOGIN=true", () => {
    const s = useServer(kind, { SIMPLE_JWT_UPDATE_LAST_LOGIN: "true" });

    it("jwt/create sets last_login, through REST and tRPC", async () => {
      const id = await s.signUp("lastlogin");
      const lastLogin = async () => (await s.deps.prisma.user.findUniqueOrThrow({ where: { id } })).lastLogin;
      expect(await lastLogin()).toBeNull();
      const before = Date.now();
      await s.jwtLogin("lastlogin");
      const first = await lastLogin();
      expect(first?.getTime()).toBeGreaterThanOrEqual(before - 1);
      await new Promise((r) => setTimeout(r, 5));
      await s.trpc().jwt.create.mutate({ username: "lastlogin", password: PW });
      expect((await lastLogin())!.getTime()).toBeGreaterThan(first!.getTime());
    });
  });

  describe('SIMPLE_JWT_AUTH_HEADER_TYPES=["JWT","Bearer"]', () => {
    const s = useServer(kind, { SIMPLE_JWT_AUTH_HEADER_TYPES: '["JWT","Bearer"]' });

    it("an access token authenticates behind JWT and behind Bearer; jwt/create challenges with the first", async () => {
      const id = await s.signUp("twoschemes");
      const { access } = await s.jwtLogin("twoschemes");
      for (const scheme of ["JWT", "Bearer"])
        await expectMe(s, { authorization: `${scheme} ${access}` }, { email: "", id, username: "twoschemes" });
      const bad = await s.request("POST", "/auth/jwt/create/", {
        json: { username: "twoschemes", password: "wrong-password" },
      });
      expect(bad.status).toBe(401);
      expect(bad.json).toEqual(NO_ACCOUNT);
      expect(bad.headers.get("www-authenticate")).toBe('JWT realm="api"');
    });
  });

  describe('TOKEN_AUTH_HEADER_TYPES=["Bearer"] and SIMPLE_JWT_AUTH_HEADER_TYPES=["Bearer"]', () => {
    const s = useServer(kind, {
      TOKEN_AUTH_HEADER_TYPES: '["Bearer"]',
      SIMPLE_JWT_AUTH_HEADER_TYPES: '["Bearer"]',
    });

    it("one Bearer prefix carries both an opaque key and a JWT, told apart by shape", async () => {
      const id = await s.signUp("oneprefix");
      const user = { email: "", id, username: "oneprefix" };
      const key = await s.tokenLogin("oneprefix");
      const { access } = await s.jwtLogin("oneprefix");
      await expectMe(s, bearer(key), user);
      await expectMe(s, bearer(access), user);
      const badKey = await s.me({ authorization: `Bearer ${"0".repeat(40)}` });
      expect(badKey.status).toBe(401);
      expect(badKey.json).toEqual({ detail: "Invalid token." });
    });
  });

  describe("SIMPLE_JWT_AUTH_HEADER_NAME=HTTP_X_ACCESS_TOKEN", () => {
    const s = useServer(kind, { SIMPLE_JWT_AUTH_HEADER_NAME: "HTTP_X_ACCESS_TOKEN" });

    it("the JWT travels in X-Access-Token while Authorization keeps the opaque tokens", async () => {
      const id = await s.signUp("xheader");
      const user = { email: "", id, username: "xheader" };
      const key = await s.tokenLogin("xheader");
      const { access } = await s.jwtLogin("xheader");
      await expectMe(s, { "x-access-token": `Bearer ${access}` }, user);
      await expectMe(s, tokenAuth(key), user);
      // Authorization no longer carries JWTs.
      const misplaced = await s.me(bearer(access));
      expect(misplaced.status).toBe(401);
      expect(misplaced.json.code).toBe("authorization_scheme_not_accepted");
      expect((await failure(s.trpc(bearer(access)).users.me.query())).data?.code).toBe(
        "authorization_scheme_not_accepted",
      );
    });
  });
});
