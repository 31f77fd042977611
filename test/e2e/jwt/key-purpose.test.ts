import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, useServer } from "../../helpers/fixture.ts";
import { createStaff, DATABASES, startTestServer, type TestServer } from "../../helpers/server.ts";
import {
  accessClaims,
  expectAccepted,
  expectAccessRefused,
  expectRefused,
  expectViewRefused,
  forge,
  HS,
  lastingDatabase,
  login,
  me,
  refresh,
  SECRET_KEY,
  verify,
} from "./forge.ts";

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

  it(
    "by default SECRET_KEY is not the JWT key: " +
      "a token signed with SECRET_KEY is refused, REST and tRPC; the server's own work",
    async () => {
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
    },
  );

  it(
    "ACCEPT_TOKENS_WITHOUT_SID=false: " + "SimpleJWT's sid-less access and refresh tokens are refused; ours work",
    async () => {
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
    },
  );

  it("NODE_ENV=production refuses sid-less tokens unless ACCEPT_TOKENS_WITHOUT_SID is set", async () => {
    expectAccessRefused(await me(production, forge(accessClaims(ids[2]!))), "Token has no session id");
    const pair = await login(production);
    await expectAccepted(production, pair.access, ids[2]);
  });
});

describe.each(DATABASES)("sessions on %s", (kind) => {
  const s = useServer(kind, HS);
  let userId: number;
  beforeAll(async () => {
    userId = (await createStaff(s)).id;
  });

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
