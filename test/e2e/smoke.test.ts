import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES, startTestServer, type TestServer } from "../helpers/server.ts";

describe.each(DATABASES)("smoke on %s", (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(kind);
  });
  afterAll(async () => s?.stop());

  it("registers, logs in and reads /me", async () => {
    const created = await s.request("POST", "/auth/users/", { json: { username: "alice", email: "a@example.com", password: "Kq7!vLp2#Zx9" } });
    expect(created.status).toBe(201);
    const login = await s.request("POST", "/auth/token/login/", { json: { username: "alice", password: "Kq7!vLp2#Zx9" } });
    expect(login.json.auth_token).toMatch(/^[0-9a-f]{40}$/);
    const me = await s.request("GET", "/auth/users/me/", { headers: { authorization: `Token ${login.json.auth_token}` } });
    expect(me.json).toEqual({ email: "a@example.com", id: created.json.id, username: "alice" });
  });
});
