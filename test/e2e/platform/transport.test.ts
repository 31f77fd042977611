// What every request meets before a view: the body limit, strict JSON, media types, security
// headers, CORS (django-cors-headers' settings), ALLOWED_HOSTS (Django's), DEBUG's 500s, and the
// production start that refuses weak settings. Both adapters, REST (/auth) and tRPC (/trpc).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawRequest } from "../../helpers/raw-http.ts";
import { startTestServer, type TestServer } from "../../helpers/server.ts";
import { failure, trpcClient } from "../../helpers/trpc.ts";

const PW = "Kq7!vLp2#Zx9";
const CHEAP = { ARGON2: JSON.stringify({ MEMORY_COST: 1024, TIME_COST: 1, PARALLELISM: 1 }) };
const APP = "https://app.example.com";
const J = { "content-type": "application/json" };
const SECURITY = { "x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "same-origin" };

type Res = { status: number; headers: Headers | Map<string, string>; text?: string; body?: string };
const header = (r: Res, name: string) => r.headers.get(name) ?? null;
const expectSecurityHeaders = (r: Res, what: string) =>
  Object.entries(SECURITY).forEach(([k, v]) => expect(header(r, k), `${what}: ${k}`).toBe(v));
const no5xx = (r: Res, what: string) =>
  expect(r.status, `${what}: ${(r.text ?? r.body)?.slice(0, 200)}`).toBeLessThan(500);

/** A request with the Host header we choose (fetch always sends the URL's own). */
const withHost = (
  url: string,
  host: string,
  path: string,
  extra: Record<string, string> = {},
  method = "GET",
  body = "",
) =>
  rawRequest(
    url,
    `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${Object.entries(
      extra,
    )
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("")}\r\n`,
    body,
  );

describe("transport", () => {
  let s: TestServer; // CORS: APP allowed, with credentials
  let open: TestServer; // CORS_ALLOW_ALL_ORIGINS, no credentials; DEBUG
  let hosts: TestServer; // ALLOWED_HOSTS, behind one proxy, no CORS settings
  beforeAll(async () => {
    [s, open, hosts] = await Promise.all([
      startTestServer("postgresql", {
        ...CHEAP,
        CORS_ALLOWED_ORIGINS: JSON.stringify([APP]),
        CORS_ALLOW_CREDENTIALS: "true",
      }),
      startTestServer("postgresql", { ...CHEAP, CORS_ALLOW_ALL_ORIGINS: "true", DEBUG: "true" }),
      startTestServer("postgresql", {
        ...CHEAP,
        ALLOWED_HOSTS: JSON.stringify(["api.example.com", ".example.org"]),
        NUM_PROXIES: "1",
      }),
    ]);
    expect(
      (
        await s.request("POST", "/auth/users/", {
          json: { username: "alice", email: "alice@example.com", password: PW },
        })
      ).status,
    ).toBe(201);
  });
  afterAll(async () => Promise.all([s?.stop(), open?.stop(), hosts?.stop()]));

  describe("body limit: 64 KiB", () => {
    const sized = (n: number) =>
      JSON.stringify({
        username: "u".repeat(n - JSON.stringify({ username: "", password: "x" }).length),
        password: "x",
      });

    it("REST: 64 KiB is read, one byte more is a 413 in DRF's shape (also when chunked)", async () => {
      expect(sized(65_536)).toHaveLength(65_536);
      expect((await s.request("POST", "/auth/token/login/", { body: sized(65_536), headers: J })).status).toBe(400);
      for (const path of ["/auth/token/login/", "/auth/users/", "/auth/jwt/create/"]) {
        const big = await s.request("POST", path, { body: sized(65_537), headers: J });
        expect({ status: big.status, json: big.json }, path).toEqual({
          status: 413,
          json: { detail: "Request body is too large." },
        });
        expectSecurityHeaders(big, path);
      }
      // No Content-Length: the limit counts the bytes as they come.
      const chunks = new ReadableStream({
        start: (c) => (c.enqueue(new TextEncoder().encode(sized(100_000))), c.close()),
      });
      const chunked = await fetch(`${s.url}/auth/token/login/`, {
        method: "POST",
        headers: J,
        body: chunks,
        duplex: "half",
      } as RequestInit);
      expect({ status: chunked.status, json: await chunked.json() }).toEqual({
        status: 413,
        json: { detail: "Request body is too large." },
      });
    });

    it("tRPC: a 413 in tRPC's shape (PAYLOAD_TOO_LARGE), which the typed client can read", async () => {
      expect((await s.request("POST", "/trpc/users.create", { body: sized(65_537), headers: J })).status).toBe(413);
      const e = await failure(trpcClient(s).users.create.mutate({ username: "u".repeat(70_000), password: PW }));
      expect(e.data).toMatchObject({ code: "payload_too_large", httpStatus: 413 });
      expect(e.message).toBe("Request body is too large.");
    });
  });

  it("headers over 16 KiB: a 431 in DRF's shape; to HEAD no body, also when the header comes in pieces", async () => {
    const request = (method: string) =>
      `${method} /auth/users/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${"a".repeat(10_000)}`;
    const rest = `${"a".repeat(10_000)}\r\nContent-Length: 0\r\n\r\n`;
    const whole = await rawRequest(s.url, request("POST") + rest);
    expect([whole.status, JSON.parse(whole.body)]).toEqual([431, { detail: "Request header fields too large." }]);
    expectSecurityHeaders(whole, "431");
    // HEAD, whole or in pieces (then the chunk the parser fails on does not show the method):
    // no body, which any client reads right. (Whether pieces arrive apart depends on the load,
    // so no case here depends on it.)
    for (const answer of [
      await rawRequest(s.url, request("HEAD") + rest),
      await rawRequest(s.url, [request("HEAD"), rest]),
    ]) {
      expect([answer.status, answer.headers.get("content-length"), answer.body]).toEqual([431, "0", ""]);
    }
  });

  it("a HEAD whose header overflows in the chunk that ends an earlier body: a bodiless 431, nothing after it", async () => {
    // The POST's body ends in the next chunk, which so starts "ABHEAD /auth/users/ HTTP/1.1": a
    // method the packet seems to show, but not the failing request's.
    const { hostname, port } = new URL(s.url);
    const socket = connect(Number(port), hostname);
    const received: Buffer[] = [];
    socket.on("data", (d) => received.push(d));
    const closed = new Promise((resolve) => socket.on("close", resolve));
    socket.write(
      'POST /auth/token/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\n{"a": 1}',
    );
    await new Promise((r) => setTimeout(r, 150));
    socket.write(`ABHEAD /auth/users/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${"a".repeat(20_000)}\r\n\r\n`);
    await closed;
    // (The POST's own answer may or may not come first: the refusal closes the connection.)
    const raw = Buffer.concat(received).toString("latin1");
    const refusal = raw.slice(raw.indexOf("HTTP/1.1 431"));
    expect(refusal).toMatch(/^HTTP\/1\.1 431 [^]*\r\nContent-Length: 0\r\n/);
    expect(refusal.endsWith("\r\n\r\n")).toBe(true); // no body for the HEAD's client to trip on
  });

  describe("strict JSON", () => {
    const MALFORMED = [
      "{bad",
      '{"username": "alice",}',
      "{'username': 'alice'}",
      '{"username": "alice"',
      "\ufeff{}",
      "NaN",
      '{"a": undefined}',
    ];

    it("malformed JSON: REST 400 {detail: JSON parse error…}, tRPC a 400 in its envelope", async () => {
      for (const body of MALFORMED) {
        for (const path of ["/auth/token/login/", "/auth/users/", "/auth/jwt/create/", "/auth/users/reset_password/"]) {
          const r = await s.request("POST", path, { body, headers: J });
          expect({ status: r.status, detail: r.json?.detail }, `${path} ${JSON.stringify(body)}`).toEqual({
            status: 400,
            detail: expect.stringMatching(/^JSON parse error - /),
          });
        }
        // "\ufeff{}" is let through by tRPC's parser as {} (then a 400 for the missing fields).
        const t = await s.request("POST", "/trpc/token.login", { body, headers: J });
        expect({ status: t.status, data: t.json.error.data }, JSON.stringify(body)).toMatchObject({
          status: 400,
          data: { httpStatus: 400, path: "token.login" },
        });
      }
    });

    it("top-level arrays, strings, numbers, booleans and deep nesting are 400s, never 5xx", async () => {
      const cases: [string, string][] = [
        ["[1, 2]", "list"],
        ['"alice"', "str"],
        ["42", "int"],
        ["true", "bool"],
        ["[".repeat(30_000) + "]".repeat(30_000), "list"],
      ];
      for (const [body, type] of cases) {
        const r = await s.request("POST", "/auth/token/login/", { body, headers: J });
        expect(r.json, body.slice(0, 20)).toEqual({
          non_field_errors: [`Invalid data. Expected a dictionary, but got ${type}.`],
        });
        const t = await s.request("POST", "/trpc/token.login", { body, headers: J });
        expect({ status: t.status, data: t.json.error.data }, body.slice(0, 20)).toMatchObject({
          status: 400,
          data: { code: "invalid_input", fields: { non_field_errors: [expect.any(String)] } },
        });
      }
      for (const body of [
        "null",
        "",
        `{"username": ${"[".repeat(20_000)}${"]".repeat(20_000)}, "password": "x"}`,
        '{"username": {"$ne": null}, "password": {"$gt": ""}}',
      ]) {
        for (const path of ["/auth/token/login/", "/auth/users/", "/trpc/token.login", "/trpc/users.create"]) {
          expect((await s.request("POST", path, { body, headers: J })).status, `${path} ${body.slice(0, 30)}`).toBe(
            400,
          );
        }
      }
    });

    it("duplicate keys: the last one wins in both adapters, as in Python's json (what Djoser sees)", async () => {
      const lastRight = `{"username": "alice", "password": "wrong", "password": ${JSON.stringify(PW)}}`;
      const lastWrong = `{"username": "alice", "password": ${JSON.stringify(PW)}, "password": "wrong"}`;
      for (const path of ["/auth/token/login/", "/trpc/token.login"]) {
        expect(
          [
            (await s.request("POST", path, { body: lastRight, headers: J })).status,
            (await s.request("POST", path, { body: lastWrong, headers: J })).status,
          ],
          path,
        ).toEqual([200, 400]);
      }
    });

    it("prototype poisoning (__proto__, constructor.prototype) changes nothing and is never a 5xx", async () => {
      const poison = { is_staff: true, is_superuser: true, is_active: false, password: PW, username: "alice" };
      const poisoned = (fields: Record<string, unknown>) =>
        JSON.stringify(fields).replace(
          /^\{/,
          `{"__proto__": ${JSON.stringify(poison)}, "constructor": {"prototype": ${JSON.stringify(poison)}},`,
        );
      // A password (or username) only in __proto__ is no password: the same answer as without one.
      for (const path of ["/auth/token/login/", "/auth/jwt/create/", "/trpc/token.login", "/trpc/jwt.create"]) {
        const plain = await s.request("POST", path, { json: { username: "alice" } });
        const viaProto = await s.request("POST", path, { body: poisoned({ username: "alice" }), headers: J });
        expect({ status: viaProto.status, body: viaProto.text }, path).toEqual({ status: 400, body: plain.text });
        expect((await s.request("POST", path, { body: poisoned({ password: PW }), headers: J })).status, path).toBe(
          400,
        );
      }
      // Registration with a poisoned body: an ordinary, active, non-staff user.
      for (const [path, username] of [
        ["/auth/users/", "pois1"],
        ["/trpc/users.create", "pois2"],
      ] as const) {
        no5xx(
          await s.request("POST", path, {
            body: poisoned({ username, email: `${username}@example.com`, password: PW }),
            headers: J,
          }),
          path,
        );
        const user = await s.deps.prisma.user.findUnique({ where: { username } });
        expect(user, path).toMatchObject({ isStaff: false, isSuperuser: false, isActive: true });
        const login = await s.request("POST", "/auth/token/login/", { json: { username, password: PW } });
        expect(login.status).toBe(200);
        // Updating one's own account with a poisoned body: still no staff, and HIDE_USERS still hides others.
        const auth = { authorization: `Token ${login.json.auth_token}` };
        no5xx(
          await s.request("PATCH", "/auth/users/me/", {
            body: poisoned({ email: `${username}@example.com` }),
            headers: { ...J, ...auth },
          }),
          path,
        );
        expect(
          (await s.request("GET", "/auth/users/", { headers: auth })).json.map((u: { username: string }) => u.username),
        ).toEqual([username]);
      }
      expect(await s.deps.prisma.user.count({ where: { isStaff: true } })).toBe(0);
      // Nothing leaked onto Object.prototype of the (in-process) server.
      expect(Object.getOwnPropertyNames(Object.prototype).filter((k) => Object.hasOwn(poison, k))).toEqual([]);
      expect(({} as Record<string, unknown>).is_staff).toBeUndefined();
    });
  });

  it("an unsupported media type is a 415 in each adapter's shape", async () => {
    const rest = await s.request("POST", "/auth/users/", {
      body: "username=x",
      headers: { "content-type": "text/plain" },
    });
    expect({ status: rest.status, json: rest.json }).toEqual({
      status: 415,
      json: { detail: 'Unsupported media type "text/plain" in request.' },
    });
    const trpc = await s.request("POST", "/trpc/users.create", {
      body: "username=x",
      headers: { "content-type": "text/plain" },
    });
    expect({ status: trpc.status, data: trpc.json.error.data }).toMatchObject({
      status: 415,
      data: { code: "unsupported_media_type", httpStatus: 415 },
    });
    expect(
      (await s.request("POST", "/trpc/users.create", { body: "<u/>", headers: { "content-type": "application/xml" } }))
        .status,
    ).toBe(415);
  });

  it("security headers on REST, tRPC, /healthz, /docs, redirects and 404s, errors included", async () => {
    const login = { json: { username: "alice", password: PW } };
    const requests: [string, string, { json?: unknown }?][] = [
      ["GET", "/auth/"],
      ["POST", "/auth/token/login/", { json: {} }],
      ["GET", "/auth/users/me/"],
      ["PUT", "/auth/token/login/"],
      ["GET", "/auth/users"],
      ["GET", "/auth/no-such-page/"],
      ["POST", "/trpc/token.login", login],
      ["GET", "/trpc/users.me"],
      ["GET", "/trpc/no.such.procedure"],
      ["GET", "/healthz"],
      ["GET", "/docs"],
      ["GET", "/no-such-page"],
    ];
    // 200, 400, 401, 405, 301 and Django's HTML 404 on REST; 200, 401, 404 on tRPC; the rest.
    for (const [method, path, init] of requests)
      expectSecurityHeaders(await s.request(method, path, init), `${method} ${path}`);
    expectSecurityHeaders(await withHost(hosts.url, "evil.com", "/auth/"), "disallowed host");
  });

  describe("CORS (django-cors-headers' settings)", () => {
    const preflight = (t: TestServer, path: string, origin: string) =>
      t.request("OPTIONS", path, {
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type, authorization",
        },
      });

    it("an allowed origin's preflight is a 204 naming it, with credentials; REST and tRPC", async () => {
      for (const path of ["/auth/token/login/", "/trpc/token.login"]) {
        const r = await preflight(s, path, APP);
        expect(
          {
            status: r.status,
            body: r.text,
            origin: header(r, "access-control-allow-origin"),
            credentials: header(r, "access-control-allow-credentials"),
          },
          path,
        ).toEqual({ status: 204, body: "", origin: APP, credentials: "true" });
        expect(header(r, "access-control-allow-methods"), path).toContain("POST");
        expect(header(r, "access-control-allow-headers")?.toLowerCase(), path).toContain("authorization");
        expect(header(r, "vary"), path).toContain("Origin");
        expectSecurityHeaders(r, path);
      }
    });

    it("an allowed origin's actual requests name it (and Vary: Origin)", async () => {
      for (const [method, path, json] of [
        ["GET", "/auth/users/me/", undefined],
        ["POST", "/auth/token/login/", { username: "alice", password: PW }],
        ["POST", "/trpc/token.login", { username: "alice", password: PW }],
      ] as const) {
        const r = await s.request(method, path, { json, headers: { origin: APP } });
        expect([header(r, "access-control-allow-origin"), header(r, "access-control-allow-credentials")], path).toEqual(
          [APP, "true"],
        );
        // The answer depends on Origin: a shared cache must know, or it serves one origin's answer to another.
        expect(header(r, "vary"), path).toContain("Origin");
      }
    });

    it("other origins get no Access-Control-Allow-* at all (look-alikes included)", async () => {
      const others = [
        "https://evil.example",
        "http://app.example.com",
        "https://app.example.com:8443",
        "https://app.example.com.evil.example",
        "https://evilapp.example.com",
        "null",
      ];
      for (const origin of others) {
        for (const r of [
          await preflight(s, "/auth/token/login/", origin),
          await preflight(s, "/trpc/token.login", origin),
          await s.request("GET", "/auth/users/me/", { headers: { origin } }),
        ]) {
          expect(
            [header(r, "access-control-allow-origin"), header(r, "access-control-allow-credentials")],
            origin,
          ).toEqual([null, null]);
          no5xx(r, origin);
        }
      }
      // No CORS settings: nobody is allowed.
      expect(
        header(
          await withHost(hosts.url, "api.example.com", "/auth/users/me/", { origin: APP }),
          "access-control-allow-origin",
        ),
      ).toBeNull();
    });

    it("CORS_ALLOW_CREDENTIALS off: any origin is allowed, credentials never are", async () => {
      const r = await preflight(open, "/auth/token/login/", "https://anywhere.example");
      expect(r.status).toBe(204);
      expect(header(r, "access-control-allow-origin")).toMatch(/^(\*|https:\/\/anywhere\.example)$/);
      expect(header(r, "access-control-allow-credentials")).toBeNull();
      expect(
        header(
          await open.request("GET", "/auth/users/me/", { headers: { origin: APP } }),
          "access-control-allow-credentials",
        ),
      ).toBeNull();
    });

    it("a plain OPTIONS (no Access-Control-Request-Method) still gets DRF's metadata", async () => {
      for (const headers of [{}, { origin: APP }] as Record<string, string>[]) {
        const r = await s.request("OPTIONS", "/auth/token/login/", { headers });
        expect({ status: r.status, allow: header(r, "allow"), json: r.json }).toMatchObject({
          status: 200,
          allow: "POST, OPTIONS",
          json: { name: "Token Create", renders: ["application/json", "text/html"] },
        });
      }
    });
  });

  describe("ALLOWED_HOSTS", () => {
    const refused = (host: string) => ({
      detail: `Invalid HTTP_HOST header: '${host}'. You may need to add '${host}' to ALLOWED_HOSTS.`,
      code: "disallowed_host",
    });

    it("exact names, leading-dot subdomains, any case, a port or a trailing dot are let in", async () => {
      for (const host of [
        "api.example.com",
        "API.Example.COM",
        "api.example.com:8443",
        "api.example.com.",
        "example.org",
        "a.b.example.org:80",
      ]) {
        const r = await withHost(hosts.url, host, "/auth/");
        expect({ status: r.status, json: JSON.parse(r.body) }, host).toEqual({
          status: 200,
          json: { users: `http://${host}/auth/users/` },
        });
      }
      expect((await withHost(hosts.url, "api.example.com", "/healthz")).status).toBe(200);
      expect((await withHost(hosts.url, "api.example.com", "/trpc/users.me")).status).toBe(401);
    });

    it("any other Host is a 400 naming it, on REST, tRPC and /healthz", async () => {
      for (const host of [
        "evil.com",
        "notexample.org",
        "api.example.com.evil.com",
        "example.org.evil.com",
        "xapi.example.com",
        "127.0.0.1",
        "localhost:8000",
      ]) {
        for (const path of ["/auth/", "/auth/token/login/", "/trpc/users.me", "/healthz"]) {
          const r = await withHost(hosts.url, host, path);
          // Each adapter's own shape: tRPC's error envelope under /trpc/, {detail, code} elsewhere.
          const json = path.startsWith("/trpc/")
            ? {
                error: {
                  message: refused(host).detail,
                  code: -32600,
                  data: { code: "disallowed_host", httpStatus: 400, path: "users.me", fields: null, details: null },
                },
              }
            : refused(host);
          expect({ status: r.status, json: JSON.parse(r.body) }, `${host} ${path}`).toEqual({ status: 400, json });
        }
      }
      // Refused before the view: a login through a refused Host does not happen.
      expect(
        (
          await withHost(
            hosts.url,
            "evil.com",
            "/auth/token/login/",
            J,
            "POST",
            JSON.stringify({ username: "x", password: "y" }),
          )
        ).status,
      ).toBe(400);
    });

    it("a Host that is no host name is refused, whatever allowed suffix it ends with (Django checks the syntax first)", async () => {
      // Else the API root hands out http://evil.com/.example.org/auth/users/.
      for (const host of [
        "evil.com/.example.org",
        "evil.com?.example.org",
        "evil.com#.example.org",
        "evil.com\\.example.org",
        "user@evil.com:.example.org",
      ]) {
        expect({ host, status: (await withHost(hosts.url, host, "/auth/")).status }).toEqual({ host, status: 400 });
      }
    });

    it("without ALLOWED_HOSTS too, a Host no URL can be built from is a 400, never a 500 (tRPC builds one from it)", async () => {
      // Found by the fuzz suite: each of these made tRPC's adapter throw while building its Request.
      for (const host of ["ex ample", "a@b", "localhost:99999", ".0", "\t"]) {
        for (const path of ["/auth/", "/trpc/users.me"]) {
          expect({ host, path, status: (await withHost(s.url, host, path)).status }).toEqual({
            host,
            path,
            status: 400,
          });
        }
      }
      expect((await withHost(s.url, "localhost:8000", "/trpc/users.me")).status).toBe(401); // a good Host goes through
    });

    it("X-Forwarded-Host (NUM_PROXIES set) cannot put a host ALLOWED_HOSTS refuses into the answers", async () => {
      expect(
        (await withHost(hosts.url, "api.example.com", "/auth/", { "x-forwarded-host": "evil.com" })).body,
      ).not.toContain("evil.com");
    });
  });

  // Last: it breaks the database of `s` and `open`.
  it("DEBUG off: a 500 says nothing about the cause; DEBUG on (development only) does", async () => {
    // A table that is not there: an unexpected database error, i.e. a genuine 500.
    for (const t of [s, open])
      await t.deps.prisma.$executeRawUnsafe("ALTER TABLE login_lock RENAME TO login_lock_gone");
    const body = { username: "alice", password: PW };
    const rest = await s.request("POST", "/auth/token/login/", { json: body });
    expect({ status: rest.status, json: rest.json }).toEqual({
      status: 500,
      json: { detail: "A server error occurred." },
    });
    expectSecurityHeaders(rest, "500");
    const trpc = await s.request("POST", "/trpc/token.login", { json: body });
    expect({ status: trpc.status, error: trpc.json.error }).toMatchObject({
      status: 500,
      error: { message: "A server error occurred.", data: { code: "internal_error", httpStatus: 500 } },
    });
    for (const r of [rest, trpc]) expect(r.text).not.toMatch(/login_lock|prisma|relation|42P01|stack|\.ts:\d/i);
    // The same fault with DEBUG on shows its cause: the check above is not vacuous.
    for (const path of ["/auth/token/login/", "/trpc/token.login"])
      expect((await open.request("POST", path, { json: body })).text).toContain("login_lock");
  });
});

// ── production start: the CLI in child processes, started with the file so they run alongside ──

const BIN = fileURLToPath(new URL("../../../bin/portcullis.js", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "portcullis-prod-"));
// A PGlite folder: production refuses pglite:memory, a database that forgets every account at restart.
const GOOD = {
  NODE_ENV: "production",
  DATABASE_URL: `pglite:${join(tmp, "db")}`,
  EMAIL_BACKEND: "file",
  EMAIL_FILE_PATH: join(tmp, "mail"),
  DATA_DIR: tmp,
  ALLOWED_HOSTS: '["localhost"]',
  SECRET_KEY: randomBytes(36).toString("base64"),
  PORT: "0",
  LOG_LEVEL: "info",
};
const WEAK = {
  ...GOOD,
  SECRET_KEY: "short",
  DEBUG: "true",
  ALLOWED_HOSTS: undefined,
  EMAIL_BACKEND: "console",
  ARGON2: CHEAP.ARGON2,
  CORS_ALLOW_ALL_ORIGINS: "true",
  CORS_ALLOW_CREDENTIALS: "true",
  SIMPLE_JWT_SIGNING_KEY: "short-hmac-key",
};
type Run = { code: number | null; signal: string | null; stdout: string; stderr: string };

/** `serve` with exactly `env` (undefined: unset); `onStdout` sees the output as it comes and may signal the process. */
function serve(
  env: Record<string, string | undefined>,
  onStdout?: (out: string, kill: (sig: NodeJS.Signals) => void) => void,
): Promise<Run> {
  const child = spawn(process.execPath, [BIN, "serve"], {
    cwd: tmp,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const guard = setTimeout(() => child.kill("SIGKILL"), 150_000); // generous: a busy two-core box is slow to start four
  let [stdout, stderr] = ["", ""];
  child.stdout.on("data", (c) => onStdout?.((stdout += c), (sig) => child.kill(sig)));
  child.stderr.on("data", (c) => (stderr += c));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => (clearTimeout(guard), resolve({ code, signal, stdout, stderr })));
  });
}

/** The good config: once it listens, /healthz with an allowed and a refused Host, then SIGTERM. */
async function goodStart() {
  let checked: Promise<number[]> | undefined;
  const run = await serve(GOOD, (out, kill) => {
    const url = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(out);
    if (!url || checked) return;
    checked = Promise.all(
      [`localhost:${url[2]}`, `127.0.0.1:${url[2]}`].map(
        async (host) => (await withHost(url[1]!, host, "/healthz")).status,
      ),
    ).finally(() => kill("SIGTERM"));
  });
  return { run, statuses: await checked };
}

// (No SECRET_KEY at all: test/e2e/cli.test.ts.)
let prod: { weak: Promise<Run>; dull: Promise<Run>; hmac: Promise<Run>; good: ReturnType<typeof goodStart> };
beforeAll(() => {
  prod = {
    weak: serve(WEAK),
    dull: serve({ ...GOOD, SECRET_KEY: "ab".repeat(24) }),
    hmac: serve({ ...GOOD, SIMPLE_JWT_SIGNING_KEY: "short-hmac-key" }),
    good: goodStart(),
  };
  // Unhandled until awaited by their tests: keep a failure from surfacing as an unhandled rejection.
  for (const p of Object.values(prod)) p.catch(() => {});
});
afterAll(async () => {
  await Promise.allSettled(Object.values(prod ?? {}));
  rmSync(tmp, { recursive: true, force: true });
});

describe("NODE_ENV=production start (portcullis serve)", () => {
  const PROBLEMS = [
    /SECRET_KEY must be at least 32 bytes/,
    /DEBUG: must be false/,
    /ALLOWED_HOSTS: list the host names/,
    /EMAIL_BACKEND: "console"/,
    /ARGON2: m=1024 KiB, t=1 is below OWASP/,
    /CORS_ALLOW_ALL_ORIGINS with CORS_ALLOW_CREDENTIALS/,
  ];

  it("weak settings: exit 1, every problem named in one go", async () => {
    const r = await prod.weak;
    expect(r, r.stderr).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("Refusing to start with NODE_ENV=production"),
    });
    for (const p of PROBLEMS) expect(r.stderr).toMatch(p);
    expect(r.stdout).not.toMatch(/listening/i);
  }, 160_000);

  it("a short HMAC SIGNING_KEY is named with the other problems, not only once they are fixed", async () => {
    expect((await prod.weak).stderr).toMatch(/SIMPLE_JWT\.SIGNING_KEY: an HMAC key must be at least 32 bytes/);
  }, 160_000);

  it("each alone is refused too: a long key of few characters, a short HMAC key", async () => {
    const [dull, hmac] = await Promise.all([prod.dull, prod.hmac]);
    expect(dull).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("SECRET_KEY must hold at least 5 different characters"),
    });
    expect(hmac).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("SIMPLE_JWT.SIGNING_KEY: an HMAC key must be at least 32 bytes"),
    });
  }, 160_000);

  it("a good production config starts, honours ALLOWED_HOSTS, and stops on SIGTERM", async () => {
    const { run, statuses } = await prod.good;
    expect(run, `${run.stdout}\n${run.stderr}`).toMatchObject({ code: 0, signal: null });
    expect(statuses, "Host localhost, Host 127.0.0.1").toEqual([200, 400]);
    expect(run.stdout).toContain("SIGTERM received, shutting down");
  }, 160_000);
});
