// What answers say about themselves, on both adapters: nothing carrying credentials or user data
// may be cached (Cache-Control: no-store); Strict-Transport-Security on secure requests, with
// Django's SECURE_HSTS_* and SECURE_PROXY_SSL_HEADER settings; /docs can be turned off
// (API_DOCS); and an opaque key behind a JWT-only prefix is told so in the detail itself.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES, startTestServer, type TestServer } from "../../helpers/server.ts";
import { failure, trpcClient } from "../../helpers/trpc.ts";

const PW = "Kq7!vLp2#Zx9";
const CHEAP = { ARGON2: JSON.stringify({ MEMORY_COST: 1024, TIME_COST: 1, PARALLELISM: 1 }) };
const HSTS = { SECURE_HSTS_SECONDS: "31536000", SECURE_HSTS_INCLUDE_SUBDOMAINS: "true", SECURE_HSTS_PRELOAD: "true" };
const HSTS_VALUE = "max-age=31536000; includeSubDomains; preload";

for (const db of DATABASES) {
  describe(`[${db}] response headers`, () => {
    let s: TestServer; // defaults
    let proxied: TestServer; // HSTS behind one trusted proxy
    let sslHeader: TestServer; // HSTS with SECURE_PROXY_SSL_HEADER, no trusted proxy; no docs
    let key: string;
    beforeAll(async () => {
      [s, proxied, sslHeader] = await Promise.all([
        startTestServer(db, CHEAP),
        startTestServer(db, { ...CHEAP, ...HSTS, NUM_PROXIES: "1" }),
        startTestServer(db, {
          ...CHEAP,
          SECURE_HSTS_SECONDS: "600",
          SECURE_PROXY_SSL_HEADER: '["HTTP_X_FORWARDED_PROTO","https"]',
          API_DOCS: "false",
        }),
      ]);
      expect((await s.request("POST", "/auth/users/", { json: { username: "alice", password: PW } })).status).toBe(201);
      key = (await s.request("POST", "/auth/token/login/", { json: { username: "alice", password: PW } })).json
        .auth_token;
    });
    afterAll(async () => Promise.all([s?.stop(), proxied?.stop(), sslHeader?.stop()]));

    it("Cache-Control: no-store on every REST and tRPC answer: keys, JWTs, user data, errors", async () => {
      const auth = { authorization: `Token ${key}` };
      const answers = {
        "token/login": await s.request("POST", "/auth/token/login/", { json: { username: "alice", password: PW } }),
        "jwt/create": await s.request("POST", "/auth/jwt/create/", { json: { username: "alice", password: PW } }),
        "users/me": await s.request("GET", "/auth/users/me/", { headers: auth }),
        "a 400": await s.request("POST", "/auth/token/login/", { json: { username: "alice", password: "wrong" } }),
        "a 401": await s.request("GET", "/auth/users/me/"),
        "the API root": await s.request("GET", "/auth/"),
        "tRPC token.login": await s.request("POST", "/trpc/token.login", { json: { username: "alice", password: PW } }),
        "tRPC users.me": await s.request("GET", "/trpc/users.me", { headers: auth }),
        "tRPC users.me, refused": await s.request("GET", "/trpc/users.me"),
      };
      for (const [what, res] of Object.entries(answers))
        expect(res.headers.get("cache-control"), what).toBe("no-store");
      // What holds no credential keeps its own policy: the JWKS (when there is one) may be cached.
      expect((await s.request("GET", "/healthz")).headers.get("cache-control")).toBeNull();
    });

    it("no Strict-Transport-Security by default, even for a request a proxy says came over HTTPS", async () => {
      const res = await s.request("GET", "/auth/users/me/", { headers: { "x-forwarded-proto": "https" } });
      expect(res.headers.get("strict-transport-security")).toBeNull();
    });

    it("SECURE_HSTS_*: sent on secure requests only; behind a trusted proxy, its X-Forwarded-Proto tells", async () => {
      const secure = await proxied.request("GET", "/auth/users/me/", { headers: { "x-forwarded-proto": "https" } });
      expect(secure.headers.get("strict-transport-security")).toBe(HSTS_VALUE);
      const trpc = await proxied.request("GET", "/trpc/users.me", { headers: { "x-forwarded-proto": "https" } });
      expect(trpc.headers.get("strict-transport-security")).toBe(HSTS_VALUE);
      expect(
        (await proxied.request("GET", "/healthz", { headers: { "x-forwarded-proto": "https" } })).headers.get(
          "strict-transport-security",
        ),
      ).toBe(HSTS_VALUE);
      // Plain HTTP (Django sends it only on secure requests: a browser ignores it over HTTP anyway).
      expect((await proxied.request("GET", "/auth/users/me/")).headers.get("strict-transport-security")).toBeNull();
      expect(
        (await proxied.request("GET", "/auth/users/me/", { headers: { "x-forwarded-proto": "http" } })).headers.get(
          "strict-transport-security",
        ),
      ).toBeNull();
    });

    it("SECURE_PROXY_SSL_HEADER: the named header with the named value makes a request secure", async () => {
      const secure = await sslHeader.request("GET", "/auth/", { headers: { "x-forwarded-proto": "https" } });
      expect(secure.headers.get("strict-transport-security")).toBe("max-age=600");
      expect(
        (await sslHeader.request("GET", "/auth/", { headers: { "x-forwarded-proto": "http" } })).headers.get(
          "strict-transport-security",
        ),
      ).toBeNull();
      expect((await sslHeader.request("GET", "/auth/")).headers.get("strict-transport-security")).toBeNull();
    });

    it("API_DOCS=false: /docs and its OpenAPI document are gone (404); on by default", async () => {
      expect((await s.request("GET", "/docs/json")).status).toBe(200);
      for (const path of ["/docs", "/docs/", "/docs/json", "/docs/static/index.html"]) {
        const res = await sslHeader.request("GET", path);
        expect({ path, status: res.status, body: res.json }).toEqual({
          path,
          status: 404,
          body: { detail: "Not found.", code: "not_found" },
        });
      }
      // The API itself is unaffected.
      expect((await sslHeader.request("GET", "/auth/")).status).toBe(200);
    });

    it(
      "an opaque key behind Bearer (JWTs only, by default): " + "401 token_not_valid, a detail naming both prefixes",
      async () => {
        const detail =
          'This looks like an opaque token, but the "Bearer" scheme carries JWTs. ' +
          'Opaque tokens are accepted behind "Token": send it as "Token <key>".';
        const res = await s.request("GET", "/auth/users/me/", { headers: { authorization: `Bearer ${key}` } });
        expect(res.status).toBe(401);
        expect(res.json).toMatchObject({
          detail,
          code: "token_not_valid",
          messages: [{ token_class: "AccessToken", token_type: "access", message: "Token is invalid or expired" }],
        });
        const err = await failure(trpcClient(s, { authorization: `Bearer ${key}` }).users.me.query());
        expect({ status: err.data?.httpStatus, code: err.data?.code, message: err.message }).toEqual({
          status: 401,
          code: "token_not_valid",
          message: detail,
        });
        expect(err.data?.details).toMatchObject({
          code: "token_not_valid",
          scheme_received: "Bearer",
          schemes_accepted: ["Token"],
        });
      },
    );
  });
}
