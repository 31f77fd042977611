// Social sign-in end to end against a real OpenID provider on loopback, at Djoser's paths and
// through the typed client, on both databases: the authorization URL, the person's login and
// consent at the provider, the completion, and what the new account and its session look like.
import { describe, expect, it } from "vitest";
import { bearer, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { authorize, complete, oidcEnv, REDIRECT, useProvider } from "../../helpers/oidc/setup.ts";
import { signInAt } from "../../helpers/oidc/sign-in.ts";
import { DATABASES } from "../../helpers/server.ts";
import { failure } from "../../helpers/trpc.ts";

describe.each(DATABASES)("social sign-in, generic OpenID Connect (%s)", (kind) => {
  const provider = useProvider();
  // "down": a provider nobody answers for (a closed port on this machine).
  const s = useServer(kind, () =>
    oidcEnv(provider().issuer, {
      SOCIAL_AUTH_DOWN_OIDC_ENDPOINT: "http://127.0.0.1:9",
      SOCIAL_AUTH_DOWN_KEY: "k",
      SOCIAL_AUTH_DOWN_SECRET: "s",
    }),
  );

  it("GET o/oidc/ answers the provider's authorization URL, with PKCE S256, a nonce and a signed state", async () => {
    const res = await s.request("GET", `/auth/o/oidc/?redirect_uri=${encodeURIComponent(REDIRECT)}`);
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.json)).toEqual(["authorization_url"]);
    const url = new URL(res.json.authorization_url);
    expect(url.origin).toBe(provider().issuer);
    const q = Object.fromEntries(url.searchParams);
    expect(q).toMatchObject({ client_id: "portcullis-app", redirect_uri: REDIRECT, response_type: "code" });
    expect(q).toMatchObject({ code_challenge_method: "S256", scope: "openid email profile" });
    expect(q.code_challenge).toMatch(/^[\w-]{43}$/);
    expect(q.nonce).toMatch(/^[\w-]{43}$/);
    expect(q.state).toMatch(/^[\w-]+\.[\w-]{43}$/);
    // No server session: nothing was written for it.
    expect(res.headers.get("set-cookie")).toBeNull();
  });

  it("code and state in the query string (as Djoser's clients send them) → a JWT pair and the username", async () => {
    const { params, via } = await authorize(s, "ada");
    expect(via).toBe("query");
    expect(Object.keys(params).sort()).toEqual(["code", "iss", "state"]);
    const res = await complete(s, { code: params.code!, state: params.state! });
    expect(res.status, res.text).toBe(201);
    expect(Object.keys(res.json).sort()).toEqual(["access", "refresh", "user"]);
    expect(res.json.user).toBe("ada");
    const me = await s.me(bearer(res.json.access));
    expect(me.status, me.text).toBe(200);
    expect(me.json).toMatchObject({ username: "ada", email: "ada@example.com" });
    // The account has no usable password: a password login cannot reach it.
    const pw = await s.request("POST", "/auth/jwt/create/", { json: { username: "ada", password: "" } });
    expect(pw.status).toBe(400);
  });

  it("the same person signs the same account in again (body this time); a new person gets a new account", async () => {
    const first = await authorize(s, "ada");
    const again = await s.request("POST", "/auth/o/oidc/", { json: first.params });
    expect(again.status, again.text).toBe(201);
    const ada = await s.me(bearer(again.json.access));
    const bob = await complete(s, (await authorize(s, "bob")).params);
    expect(bob.status, bob.text).toBe(201);
    expect(bob.json.user).toBe("bob");
    const bobMe = await s.me(bearer(bob.json.access));
    expect(bobMe.json.id).not.toBe(ada.json.id);
    const ids = await s.trpc(bearer(again.json.access)).social.identities.query();
    expect(ids).toEqual([
      expect.objectContaining({
        provider: "oidc",
        uid: "ada",
        email: "ada@example.com",
        last_used: expect.any(String),
      }),
    ]);
  });

  it("the session shows how it was signed in: factor fed, the provider's name", async () => {
    const res = await complete(s, (await authorize(s, "ada")).params);
    const sessions = await s.request("GET", "/auth/sessions/", { headers: bearer(res.json.access) });
    expect(sessions.status, sessions.text).toBe(200);
    const current = sessions.json.find((x: { current: boolean }) => x.current);
    expect(current).toMatchObject({ kind: "jwt", factors: ["fed"], provider: "oidc" });
  });

  it("the typed client: social.authorizationUrl, then social.complete with an opaque token", async () => {
    const client = s.trpc();
    const { authorization_url } = await client.social.authorizationUrl.mutate({
      provider: "oidc",
      redirectUri: REDIRECT,
    });
    const { params } = await signInAt(authorization_url, "bob", REDIRECT);
    const done = await client.social.complete.mutate({
      provider: "oidc",
      code: params.code!,
      state: params.state!,
      credential: "token",
    });
    expect(done.status).toBe("ok");
    if (done.status !== "ok") return;
    expect(done.user).toBe("bob");
    expect(Object.keys(done.credential)).toEqual(["auth_token"]);
    const me = await s.me(tokenAuth((done.credential as { auth_token: string }).auth_token));
    expect(me.json.username).toBe("bob");
  });

  it("an unconfigured provider is a 404; a redirect_uri off the allow-list is Djoser's bare-string 400", async () => {
    const none = await s.request("GET", `/auth/o/google-oauth2/?redirect_uri=${encodeURIComponent(REDIRECT)}`);
    expect([none.status, none.json]).toEqual([
      404,
      { detail: 'The provider "google-oauth2" is not configured on this server.' },
    ]);
    const off = await s.request("GET", `/auth/o/oidc/?redirect_uri=${encodeURIComponent("https://evil.example/cb")}`);
    expect([off.status, off.json]).toEqual([400, "redirect_uri must be in SOCIAL_AUTH_ALLOWED_REDIRECT_URIS"]);
    const missing = await s.request("GET", "/auth/o/oidc/");
    expect(missing.status).toBe(400);
  });

  it("a provider out of reach is a 503 with Retry-After, not a 500", async () => {
    const res = await s.request("GET", `/auth/o/down/?redirect_uri=${encodeURIComponent(REDIRECT)}`);
    expect([res.status, res.json]).toEqual([503, { detail: "Could not reach down: try again shortly." }]);
    expect(res.headers.get("retry-after")).toBe("5");
  });

  it("the typed client hears a refusal as BAD_REQUEST with the code social_failed and the message", async () => {
    const { params } = await authorize(s, "ada");
    await s.trpc().social.complete.mutate({ provider: "oidc", code: params.code!, state: params.state! });
    const err = await failure(
      s.trpc().social.complete.mutate({ provider: "oidc", code: params.code!, state: params.state! }),
    );
    expect(err.data).toMatchObject({ code: "social_failed", httpStatus: 400 });
    expect(err.message).toBe("This sign-in was completed already: start again.");
    const missing = await failure(s.trpc().social.authorizationUrl.mutate({ provider: "nope", redirectUri: REDIRECT }));
    expect(missing.data).toMatchObject({ code: "provider_not_found", httpStatus: 404 });
  });
});
