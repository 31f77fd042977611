// One throttle rule for both adapters (DRF's anon and user scopes): a request whose credential
// authenticates counts as its user, any other by its address. A tRPC public procedure treats a
// credential that does not authenticate as none; REST answers it 401, as DRF. Over PGlite and
// PostgreSQL.
import { beforeAll, describe, expect, it } from "vitest";
import { PW, useServer } from "../../helpers/fixture.ts";
import { DATABASES } from "../../helpers/server.ts";
import { failure, trpcClient } from "../../helpers/trpc.ts";

const from = (ip: string, key?: string) => ({
  "x-forwarded-for": ip,
  ...(key ? { authorization: `Token ${key}` } : {}),
});

describe.each(DATABASES)("throttle scope on %s", (kind) => {
  const s = useServer(kind, { NUM_PROXIES: "1", DEFAULT_THROTTLE_RATES: JSON.stringify({ anon: "2/min" }) });
  let key: string;
  beforeAll(async () => {
    const json = { username: "scoped", password: PW };
    expect((await s.request("POST", "/auth/users/", { json, headers: from("192.0.2.1") })).status).toBe(201);
    const login = await s.request("POST", "/auth/token/login/", { json, headers: from("192.0.2.2") });
    key = login.json.auth_token;
  });

  it("a public procedure called with a valid credential counts as its user, not against the address", async () => {
    const client = trpcClient(s, from("203.0.113.1", key));
    for (let i = 0; i < 4; i++) {
      const e = await failure(client.jwt.verify.mutate({ token: "not-a-jwt" }));
      expect(e.data).toMatchObject({ httpStatus: 401, code: "token_not_valid" });
    }
    // The address's anonymous budget is untouched, on REST as on tRPC.
    expect((await s.request("OPTIONS", "/auth/token/login/", { headers: from("203.0.113.1") })).status).toBe(200);
  });

  it("anonymous calls of an address count together over REST and tRPC", async () => {
    const anon = from("203.0.113.2");
    expect((await s.request("OPTIONS", "/auth/token/login/", { headers: anon })).status).toBe(200);
    const e = await failure(trpcClient(s, anon).jwt.verify.mutate({ token: "not-a-jwt" }));
    expect(e.data?.httpStatus).toBe(401);
    expect((await s.request("OPTIONS", "/auth/token/login/", { headers: anon })).status).toBe(429);
    const third = await failure(trpcClient(s, anon).jwt.verify.mutate({ token: "not-a-jwt" }));
    expect(third.data).toMatchObject({ httpStatus: 429, code: "throttled" });
  });

  it("a stale credential: REST answers 401 as DRF; a tRPC public procedure runs as anonymous", async () => {
    const stale = from("203.0.113.3", "0".repeat(40));
    const rest = await s.request("POST", "/auth/token/login/", {
      json: { username: "scoped", password: PW },
      headers: stale,
    });
    expect(rest.status).toBe(401);
    expect(rest.json).toEqual({ detail: "Invalid token." });
    const client = trpcClient(s, stale);
    const { auth_token } = await client.token.login.mutate({ username: "scoped", password: PW });
    expect(auth_token).toMatch(/^[0-9a-f]{40}$/);
    // …counted by its address: REST's 401 came before the throttle (DRF's order) and was not counted.
    await client.token.login.mutate({ username: "scoped", password: PW });
    const e = await failure(client.token.login.mutate({ username: "scoped", password: PW }));
    expect(e.data).toMatchObject({ httpStatus: 429, code: "throttled" });
  });
});
