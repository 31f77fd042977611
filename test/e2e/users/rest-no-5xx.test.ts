// No client input makes the Djoser REST adapter answer a 5xx: methods × routes × hostile bodies,
// anonymous and authenticated, each answer in DRF's shapes; and what fetch cannot send, over a raw
// socket. Over PGlite and PostgreSQL.
import { beforeAll, describe, expect, it } from "vitest";
import { PW, type Server, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { rawRequest } from "../../helpers/raw-http.ts";
import { createStaff, DATABASES } from "../../helpers/server.ts";

describe.each(DATABASES)("REST flows on %s", (kind) => {
  describe("no client input makes a 5xx", () => {
    const s = useServer(kind, { DJOSER_SEND_ACTIVATION_EMAIL: "true" });
    let key: string;
    beforeAll(async () => {
      await createStaff(s, "fuzzadmin", PW, "fuzz@example.com");
      key = await s.tokenLogin("fuzzadmin");
    });

    const ROUTES = [
      "/auth/",
      "/auth/users/",
      "/auth/users",
      "/auth/users/me/",
      "/auth/users/1/",
      "/auth/users/99999999999999/",
      "/auth/users/abc/",
      "/auth/users/activation/",
      "/auth/users/resend_activation/",
      "/auth/token/login/",
      "/auth/token/login",
      "/auth/token/logout/",
      "/auth/users/set_password/",
      "/auth/users/reset_password/",
      "/auth/users/reset_password_confirm/",
      "/auth/users/set_username/",
      "/auth/users/reset_username/",
      "/auth/users/reset_username_confirm/",
      "/auth/jwt/create/",
      "/auth/jwt/create/anything",
      "/auth/jwt/refresh/",
      "/auth/jwt/verify/",
      "/auth/jwt/logout/",
      "/auth/jwt/logout_all/",
      "/auth/sessions/",
      "/auth/sessions/t999999/",
      "/auth/sessions/revoke_others/",
      "/auth/sessions/revoke_all/",
    ];
    // Routes that end the caller's own session: after a 204 the test logs in again. revoke_others
    // is one of them on the shared key, which every device holds: the caller's next login gets a new one.
    const ENDS_OWN_SESSION = ["/auth/token/logout/", "/auth/sessions/revoke_others/", "/auth/sessions/revoke_all/"];
    const JSON_TYPE = { "content-type": "application/json" };
    const huge = "x".repeat(100 * 1024);
    const BODIES: [string, { body?: string; headers?: Record<string, string> }][] = [
      ["no body", {}],
      ["malformed JSON", { body: '{"username": "a",', headers: JSON_TYPE }],
      ["JSON number", { body: "42", headers: JSON_TYPE }],
      ["JSON array", { body: '["a", 1]', headers: JSON_TYPE }],
      ["JSON null", { body: "null", headers: JSON_TYPE }],
      ["JSON string", { body: '"hello"', headers: JSON_TYPE }],
      [
        "numbers everywhere",
        {
          body: JSON.stringify({
            username: 1,
            email: 2,
            password: 3,
            re_password: 4,
            uid: 5,
            token: 6,
            current_password: 7,
            id: 8,
          }),
          headers: JSON_TYPE,
        },
      ],
      [
        "arrays everywhere",
        {
          body: JSON.stringify({
            username: ["a"],
            email: ["b"],
            password: [],
            uid: [1],
            token: [],
            current_password: [PW],
          }),
          headers: JSON_TYPE,
        },
      ],
      [
        "nested objects",
        {
          body: JSON.stringify({
            username: { $ne: null },
            email: { a: { b: 1 } },
            password: { $gt: "" },
            uid: {},
            token: {},
            current_password: {},
          }),
          headers: JSON_TYPE,
        },
      ],
      [
        "nulls",
        {
          body: JSON.stringify({
            username: null,
            email: null,
            password: null,
            uid: null,
            token: null,
            current_password: null,
          }),
          headers: JSON_TYPE,
        },
      ],
      [
        "booleans",
        {
          body: JSON.stringify({
            username: true,
            email: false,
            password: true,
            uid: true,
            token: false,
            current_password: true,
          }),
          headers: JSON_TYPE,
        },
      ],
      [
        "unknown fields",
        {
          body: JSON.stringify({ is_staff: true, is_superuser: true, id: 1, __proto__x: 1, constructor: "x" }),
          headers: JSON_TYPE,
        },
      ],
      [
        "NUL and odd unicode",
        {
          body: JSON.stringify({
            username: "a\u0000b",
            email: "\u202e@x.y",
            password: "\ud800",
            uid: "\u0000",
            token: "\uffff-0",
            current_password: "\u0000",
          }),
          headers: JSON_TYPE,
        },
      ],
      [
        "long strings (40 kB each)",
        {
          body: JSON.stringify({
            username: "u".repeat(20_000),
            email: `${"e".repeat(20_000)}@x.co`,
            password: "p".repeat(20_000),
          }),
          headers: JSON_TYPE,
        },
      ],
      ["100 kB string", { body: JSON.stringify({ username: huge, password: huge }), headers: JSON_TYPE }],
      ["text/plain", { body: "username=a", headers: { "content-type": "text/plain" } }],
      [
        "form-encoded",
        {
          body: "username=a&password=&email=%ZZ&email=two",
          headers: { "content-type": "application/x-www-form-urlencoded" },
        },
      ],
      ["multipart without boundary", { body: "--x\r\n\r\n", headers: { "content-type": "multipart/form-data" } }],
      [
        "JSON content-type with charset and garbage",
        { body: "\u00ff\u00fe", headers: { "content-type": "application/json; charset=latin-1" } },
      ],
    ];
    const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "PURGE"];

    type Res = Awaited<ReturnType<Server["request"]>>;
    function checkShape(route: string, method: string, res: Res, what: string) {
      const where = `${method} ${route} (${what}) → ${res.status} ${res.text.slice(0, 200)}`;
      expect(res.status, where).toBeLessThan(500);
      if (method === "HEAD" || res.status === 204) return expect(res.text, where).toBe("");
      if (res.status === 301) return expect(res.headers.get("location"), where).toBe(`${route}/`);
      if (res.status === 400 && res.text === "") return expect(route, where).toBe("/auth/users/resend_activation/");
      expect(res.headers.get("content-type"), where).toBe("application/json");
      if (res.status < 300) return expect(res.json, where).toBeTypeOf("object");
      const body = res.json as Record<string, unknown>;
      const isDetail = typeof body?.detail === "string";
      const isFields =
        !!body &&
        !Array.isArray(body) &&
        Object.keys(body).length > 0 &&
        Object.values(body).every((v) => Array.isArray(v) && v.every((m) => typeof m === "string"));
      expect(isDetail || isFields, where).toBe(true);
    }

    // ~2,000 sequential requests: seconds on an idle machine, more with the suite running beside it.
    it("methods × routes × bodies, anonymous and authenticated", { timeout: 180_000 }, async () => {
      let seen = 0;
      let logouts = 0;
      for (const authenticated of [false, true]) {
        for (const route of ROUTES) {
          for (const method of METHODS) {
            for (const [what, init] of method === "GET" || method === "HEAD" || method === "OPTIONS"
              ? BODIES.slice(0, 1)
              : BODIES) {
              const res = await s.request(method, route, {
                body: init.body,
                headers: { ...init.headers, ...(authenticated ? tokenAuth(key) : {}) },
              });
              checkShape(route, method, res, what);
              seen++;
              // token/logout and sessions/revoke_all ignore their body and end the session: log in again.
              if (ENDS_OWN_SESSION.includes(route) && res.status === 204) {
                logouts++;
                key = await s.tokenLogin("fuzzadmin");
              }
            }
          }
        }
      }
      // Every body but the 100 kB one (refused with a 413 before any view runs), on each such route.
      expect(logouts).toBe(ENDS_OWN_SESSION.length * (BODIES.length - 1));
      expect(seen).toBeGreaterThan(1000);
      // The admin is still there and still the only user: nothing above created, changed or deleted anyone.
      const list = await s.request("GET", "/auth/users/", { headers: tokenAuth(key) });
      expect(list.json).toEqual([{ email: "fuzz@example.com", id: expect.any(Number), username: "fuzzadmin" }]);
    });

    it("a 100 kB body is a 413 in DRF's {detail} shape", async () => {
      const res = await s.request("POST", "/auth/users/", { json: { username: huge, password: PW } });
      expect(res.status).toBe(413);
      expect(res.json).toEqual({ detail: "Request body is too large." });
    });

    it("malformed JSON and wrong types get DRF's messages", async () => {
      const bad = await s.request("POST", "/auth/users/", { body: "{bad", headers: JSON_TYPE });
      expect(bad.status).toBe(400);
      expect(bad.json.detail).toMatch(/^JSON parse error - /);
      const list = await s.request("POST", "/auth/token/login/", { json: [1, 2] });
      expect(list.json).toEqual({ non_field_errors: ["Invalid data. Expected a dictionary, but got list."] });
      const types = await s.request("POST", "/auth/users/", { json: { username: null, password: ["x"] } });
      expect(types.json).toEqual({ username: ["This field may not be null."], password: ["Not a valid string."] });
      const loginTypes = await s.request("POST", "/auth/token/login/", { json: { username: null, password: {} } });
      expect(loginTypes.status).toBe(400);
      expect(loginTypes.json).toEqual({ username: ["This field may not be null."], password: ["Not a valid string."] });
      // PostgreSQL cannot hold a NUL in text: DRF's CharField refuses it before any lookup.
      const nul = await s.request("POST", "/auth/token/login/", {
        json: { username: "a\u0000b", password: "p\u0000" },
      });
      expect(nul.status).toBe(400);
      expect(nul.json).toEqual({
        username: ["Null characters are not allowed."],
        password: ["Null characters are not allowed."],
      });
      const nulDelete = await s.request("DELETE", "/auth/users/me/", {
        headers: tokenAuth(key),
        json: { current_password: "\u0000" },
      });
      expect(nulDelete.json).toEqual({ current_password: ["Null characters are not allowed."] });
      const media = await s.request("POST", "/auth/users/", { body: "x", headers: { "content-type": "text/plain" } });
      expect(media.status).toBe(415);
      expect(media.json).toEqual({ detail: 'Unsupported media type "text/plain" in request.' });
    });

    it("unknown methods on a known route are a 405 naming the method", async () => {
      const res = await s.request("PROPFIND", "/auth/users/me/", { headers: tokenAuth(key) });
      expect(res.status).toBe(405);
      expect(res.json).toEqual({ detail: 'Method "PROPFIND" not allowed.' });
      expect(res.headers.get("allow")).toBe("GET, PUT, PATCH, DELETE, HEAD, OPTIONS");
      const anon = await s.request("PURGE", "/auth/users/me/");
      expect(anon.status).toBe(401);
      expect(anon.json).toEqual({ detail: "Authentication credentials were not provided." });
    });

    it("what fetch cannot send: UTF-8 in Authorization, 9 KB Authorization, TRACE, a made-up method", async () => {
      const utf8 = await rawRequest(
        s.url,
        Buffer.concat([
          Buffer.from("GET /auth/users/me/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Token "),
          Buffer.from("h\u00e9llo\u2603", "utf8"),
          Buffer.from("\r\n\r\n"),
        ]),
      );
      expect(utf8.status).toBe(401);
      expect(JSON.parse(utf8.body)).toMatchObject({ code: "authorization_header_not_ascii" });
      const long = await rawRequest(
        s.url,
        "GET /auth/users/me/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
          `Authorization: Token ${"b".repeat(9 * 1024)}\r\n\r\n`,
      );
      expect(long.status).toBe(401);
      expect(JSON.parse(long.body)).toMatchObject({ code: "authorization_header_too_long" });
      const trace = await rawRequest(
        s.url,
        `TRACE /auth/users/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Token ${key}\r\n\r\n`,
      );
      expect(trace.status).toBe(405);
      expect(JSON.parse(trace.body)).toEqual({ detail: 'Method "TRACE" not allowed.' });
      const made = await rawRequest(s.url, "FROBNICATE /auth/users/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      expect(made.status).toBe(400);
      expect(made.status).toBeLessThan(500);
      expect(made.headers.get("content-type")).toMatch(/^application\/json/);
      expect(typeof JSON.parse(made.body).detail).toBe("string");
    });

    it("unknown paths under /auth/ are Django's HTML 404; the server is healthy afterwards", async () => {
      const res = await s.request("GET", "/auth/nope/");
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toBe("text/html");
      expect(res.text).toContain("<h1>Not Found</h1>");
      const health = await s.request("GET", "/healthz");
      expect(health.status).toBe(200);
      expect(health.json).toEqual({ status: "ok", database: kind });
    });
  });
});
