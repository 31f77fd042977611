// What the settings make of every request and answer: security headers, CORS (django-cors-headers'
// settings), ALLOWED_HOSTS (Django's) and DEBUG's 500s. Both adapters, REST (/auth) and tRPC (/trpc).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../../helpers/server.ts";
import {
  APP,
  expectSecurityHeaders,
  header,
  J,
  no5xx,
  PW,
  startAppServer,
  startHostsServer,
  startOpenServer,
  withHost,
} from "./transport-setup.ts";

describe("transport", () => {
  let s: TestServer; // CORS: APP allowed, with credentials
  let open: TestServer; // CORS_ALLOW_ALL_ORIGINS, no credentials; DEBUG
  let hosts: TestServer; // ALLOWED_HOSTS, behind one proxy, no CORS settings
  beforeAll(async () => {
    [s, open, hosts] = await Promise.all([startAppServer(), startOpenServer(), startHostsServer()]);
  });
  afterAll(async () => Promise.all([s?.stop(), open?.stop(), hosts?.stop()]));

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

    it(
      "a Host that is no host name is refused, whatever allowed suffix it ends with " +
        "(Django checks the syntax first)",
      async () => {
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
      },
    );

    it(
      "without ALLOWED_HOSTS too, a Host no URL can be built from is a 400, never a 500 " + "(tRPC builds one from it)",
      async () => {
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
        // A good Host goes through.
        expect((await withHost(s.url, "localhost:8000", "/trpc/users.me")).status).toBe(401);
      },
    );

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
