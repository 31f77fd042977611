// /auth/sessions/ on the wire: anonymous callers (and tRPC's), DRF's OPTIONS metadata, its 405s
// and the trailing slash. Over PGlite and PostgreSQL.
import { beforeAll, describe, expect, it } from "vitest";
import { adapter } from "../../helpers/adapters.ts";
import { bearer, type Pair, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { DATABASES } from "../../helpers/server.ts";
import { failure, trpcClient } from "../../helpers/trpc.ts";
import { expectJwtWorks, expectTokenWorks, INVALID_TOKEN, listOf } from "./checks.ts";

const NOT_PROVIDED = { detail: "Authentication credentials were not provided." };

describe.each(DATABASES)("sessions on %s", (kind) => {
  const s = useServer(kind, { DJOSER_TOKEN_MODE: "per_device" });

  describe("REST: anonymous callers, OPTIONS, 405 and the trailing slash", () => {
    const PATHS = [
      "/auth/sessions/",
      "/auth/sessions/revoke_others/",
      "/auth/sessions/revoke_all/",
      "/auth/sessions/t1/",
      `/auth/sessions/j${"0".repeat(32)}/`,
    ];
    let key: string;
    let pair: Pair;
    beforeAll(async () => {
      await s.signUp("shaper");
      key = await s.tokenLogin("shaper");
      pair = await s.jwtLogin("shaper");
    });

    it("anonymous: 401 on every /auth/sessions/ path and method, OPTIONS included", async () => {
      for (const path of PATHS) {
        for (const method of ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
          const res = await s.request(method, path);
          expect(res.status, `${method} ${path}`).toBe(401);
          expect(res.headers.get("www-authenticate"), `${method} ${path}`).toBe("Token");
          if (method === "HEAD") expect(res.text).toBe("");
          else expect(res.json, `${method} ${path}`).toEqual(NOT_PROVIDED);
        }
      }
      // A credential that is not (or no longer) valid is refused before anything else.
      for (const path of PATHS) {
        const res = await s.request("GET", path, { headers: tokenAuth("0".repeat(40)) });
        expect(res.status).toBe(401);
        expect(res.json).toEqual(INVALID_TOKEN);
      }
    });

    it("anonymous tRPC: every sessions procedure is UNAUTHORIZED (not_authenticated)", async () => {
      const anon = trpcClient(s);
      const calls = [
        () => anon.sessions.list.query(),
        () => anon.sessions.revoke.mutate({ id: "t1" }),
        () => anon.sessions.revokeOthers.mutate(),
        () => anon.sessions.revokeAll.mutate(),
        () => anon.sessions.listFor.query({ userId: 1 }),
        () => anon.sessions.revokeAllFor.mutate({ userId: 1 }),
      ];
      for (const call of calls) {
        const err = await failure(call());
        expect(err.data?.code).toBe("not_authenticated");
        expect(err.data?.httpStatus).toBe(401);
      }
    });

    it("OPTIONS answers DRF's metadata with the Allow header of each view", async () => {
      const base = {
        renders: ["application/json", "text/html"],
        parses: ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
      };
      const expected: [string, string, string][] = [
        ["/auth/sessions/", "Session List", "GET, HEAD, OPTIONS"],
        ["/auth/sessions/revoke_others/", "Session Revoke Others", "POST, OPTIONS"],
        ["/auth/sessions/revoke_all/", "Session Revoke All", "POST, OPTIONS"],
        ["/auth/sessions/t1/", "Session Instance", "DELETE, OPTIONS"],
      ];
      for (const auth of [tokenAuth(key), bearer(pair.access)]) {
        for (const [path, nameOf, allow] of expected) {
          const res = await s.request("OPTIONS", path, { headers: auth });
          expect(res.status, path).toBe(200);
          expect(res.headers.get("content-type")).toBe("application/json");
          expect(res.headers.get("allow"), path).toBe(allow);
          expect(res.json).toEqual({ name: nameOf, description: expect.stringMatching(/\S/), ...base });
        }
      }
      // OPTIONS changed nothing.
      await expectTokenWorks(s, key);
      await expectJwtWorks(s, pair);
    });

    it("methods a view does not map are DRF's 405 naming the method, with Allow; nothing is ended", async () => {
      const cases: [string, string[], string][] = [
        ["/auth/sessions/", ["POST", "PUT", "PATCH", "DELETE", "PROPFIND"], "GET, HEAD, OPTIONS"],
        ["/auth/sessions/revoke_others/", ["GET", "PUT", "PATCH", "DELETE"], "POST, OPTIONS"],
        ["/auth/sessions/revoke_all/", ["GET", "PUT", "PATCH", "DELETE"], "POST, OPTIONS"],
        ["/auth/sessions/t1/", ["GET", "POST", "PUT", "PATCH"], "DELETE, OPTIONS"],
      ];
      for (const [path, methods, allow] of cases) {
        for (const method of methods) {
          const res = await s.request(method, path, { headers: tokenAuth(key) });
          expect(res.status, `${method} ${path}`).toBe(405);
          expect(res.json).toEqual({ detail: `Method "${method}" not allowed.` });
          expect(res.headers.get("allow")).toBe(allow);
        }
      }
      const head = await s.request("HEAD", "/auth/sessions/", { headers: tokenAuth(key) });
      expect(head.status).toBe(200);
      expect(head.text).toBe("");
      await expectTokenWorks(s, key);
      await expectJwtWorks(s, pair);
      expect((await listOf(adapter("rest", s), tokenAuth(key))).length).toBe(2);
    });

    it("without the trailing slash: Django's APPEND_SLASH 301", async () => {
      for (const path of PATHS) {
        const bare = path.replace(/\/$/, "");
        const res = await s.request("GET", `${bare}?x=1`, { headers: tokenAuth(key) });
        expect(res.status, bare).toBe(301);
        expect(res.headers.get("location")).toBe(`${path}?x=1`);
      }
    });
  });
});
