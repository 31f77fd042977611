// What every request meets before a view: the body limit (64 KiB), the header limit (16 KiB),
// strict JSON and media types. Both adapters, REST (/auth) and tRPC (/trpc).
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawRequest } from "../../helpers/raw-http.ts";
import type { TestServer } from "../../helpers/server.ts";
import { failure, trpcClient } from "../../helpers/trpc.ts";
import { expectSecurityHeaders, J, no5xx, PW, startAppServer } from "./transport-setup.ts";

describe("transport", () => {
  let s: TestServer; // CORS: APP allowed, with credentials
  beforeAll(async () => {
    s = await startAppServer();
  });
  afterAll(async () => s?.stop());

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

  it(
    "a HEAD whose header overflows in the chunk that ends an earlier body: " + "a bodiless 431, nothing after it",
    async () => {
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
    },
  );

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
});
