import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES, startTestServer, type TestServer } from "../../helpers/server.ts";

describe.each(DATABASES)("smoke on %s", (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(kind);
  });
  afterAll(async () => s?.stop());

  it("registers, logs in and reads /me", async () => {
    const created = await s.request("POST", "/auth/users/", {
      json: { username: "alice", email: "a@example.com", password: "Kq7!vLp2#Zx9" },
    });
    expect(created.status).toBe(201);
    const login = await s.request("POST", "/auth/token/login/", {
      json: { username: "alice", password: "Kq7!vLp2#Zx9" },
    });
    expect(login.json.auth_token).toMatch(/^[0-9a-f]{40}$/);
    const me = await s.request("GET", "/auth/users/me/", {
      headers: { authorization: `Token ${login.json.auth_token}` },
    });
    expect(me.json).toEqual({ email: "a@example.com", id: created.json.id, username: "alice" });
  });

  it("serves /healthz once migrated, and an OpenAPI document of the REST routes at /docs", async () => {
    expect((await s.request("GET", "/healthz")).json).toEqual({ status: "ok", database: kind });
    const doc = (await s.request("GET", "/docs/json")).json;
    expect(Object.keys(doc.paths)).toEqual([
      "/.well-known/jwks.json",
      "/healthz",
      "/livez",
      "/readyz",
      "/auth/",
      "/auth/users/",
      "/auth/users/me/",
      "/auth/users/activation/",
      "/auth/users/resend_activation/",
      "/auth/users/set_password/",
      "/auth/users/reset_password/",
      "/auth/users/reset_password_confirm/",
      "/auth/users/set_username/",
      "/auth/users/reset_username/",
      "/auth/users/reset_username_confirm/",
      "/auth/users/{id}/",
      "/auth/token/login/",
      "/auth/token/logout/",
      "/auth/jwt/create/",
      "/auth/jwt/refresh/",
      "/auth/jwt/verify/",
      "/auth/jwt/logout/",
      "/auth/jwt/logout_all/",
      "/auth/sessions/",
      "/auth/sessions/revoke_others/",
      "/auth/sessions/revoke_all/",
      "/auth/sessions/{id}/",
      "/auth/reauthenticate/",
      "/auth/users/{id}/reset_mfa/",
      "/auth/login/",
      "/auth/login/code/",
      "/auth/{method}/activate/",
      "/auth/{method}/activate/confirm/",
      "/auth/{method}/deactivate/",
      "/auth/{method}/codes/regenerate/",
      "/auth/code/request/",
      "/auth/mfa/config/",
      "/auth/mfa/user-active-methods/",
      "/auth/mfa/change-primary-method/",
      "/auth/webauthn/signup_request/",
      "/auth/webauthn/signup/{ukey}/",
      "/auth/webauthn/login_request/",
      "/auth/webauthn/login/",
      "/auth/passkeys/",
      "/auth/passkeys/register_request/",
      "/auth/passkeys/register/",
      "/auth/passkeys/{id}/",
      "/auth/o/{provider}/",
      "/auth/social/link/{provider}/",
      "/auth/social/identities/",
      "/auth/social/identities/{id}/",
    ]);
    expect(
      Object.keys(doc.paths["/auth/users/"].post.requestBody.content["application/json"].schema.properties),
    ).toEqual(["email", "username", "password"]);
    expect(doc.paths["/auth/users/me/"].get.security).toEqual([{ token: [] }, { bearer: [] }]);
    expect((await s.request("GET", "/docs/")).status).toBe(200);
  });
});
