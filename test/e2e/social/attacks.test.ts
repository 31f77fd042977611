// What an attacker tries against social sign-in, each refused with a 4xx that says why, and
// nothing written: a replayed, tampered, expired or missing state; a code issued to another
// client; ID tokens with another nonce, another key's signature or alg "none"; an unverified
// email that matches someone's account.
import { createHmac } from "node:crypto";
import { calculatePKCECodeChallenge } from "openid-client";
import { beforeEach, describe, expect, it } from "vitest";
import { purposeKey } from "../../../src/core/secrets.ts";
import { useServer } from "../../helpers/fixture.ts";
import { claimsOf } from "../../helpers/oidc/provider.ts";
import { authorize, complete, OTHER_CLIENT, oidcEnv, REDIRECT, useProvider } from "../../helpers/oidc/setup.ts";
import { signInAt } from "../../helpers/oidc/sign-in.ts";

const refused = (message: string | RegExp) => ({ non_field_errors: [message] });

describe("social sign-in attacks (pglite)", () => {
  const provider = useProvider();
  const s = useServer("pglite", () => oidcEnv(provider().issuer));
  const users = () => s.deps.prisma.user.count();
  beforeEach(() => provider().tamperIdToken(null));

  it("a state is used once: the same callback replayed is refused", async () => {
    const { params } = await authorize(s, "ada");
    expect((await complete(s, params)).status).toBe(201);
    const again = await complete(s, params);
    expect([again.status, again.json]).toEqual([400, refused("This sign-in was completed already: start again.")]);
  });

  it("a state altered in any way or missing is refused before the code is used", async () => {
    const { params } = await authorize(s, "bob");
    const [body, sig] = params.state!.split(".");
    const decoded = JSON.parse(Buffer.from(body!, "base64url").toString());
    const forged = Buffer.from(JSON.stringify({ ...decoded, r: "https://evil.example/cb" })).toString("base64url");
    for (const state of [`${forged}.${sig}`, `${body}.${sig!.slice(0, -2)}AA`, `${body}`, "x".repeat(5000)]) {
      const res = await complete(s, { ...params, state });
      expect([res.status, res.json], state.slice(0, 40)).toEqual([400, refused("Invalid state has been provided.")]);
    }
    const none = await complete(s, { code: params.code! });
    expect([none.status, none.json]).toEqual([400, refused("State could not be found in request data.")]);
    // The untouched state still works: nothing above spent it.
    expect((await complete(s, params)).status).toBe(201);
  });

  it("an expired state is refused, even with a valid signature", async () => {
    const { params } = await authorize(s, "ada");
    const [body] = params.state!.split(".");
    const decoded = JSON.parse(Buffer.from(body!, "base64url").toString());
    const old = Buffer.from(JSON.stringify({ ...decoded, e: Math.floor(Date.now() / 1000) - 1 })).toString("base64url");
    const sig = createHmac("sha256", purposeKey(s.settings, "social")).update(`state:${old}`).digest("base64url");
    const res = await complete(s, { ...params, state: `${old}.${sig}` });
    expect([res.status, res.json]).toEqual([400, refused("The sign-in took too long: start again.")]);
  });

  it("a code the provider issued to another client is refused by the provider, and the sign-in fails", async () => {
    const { state } = Object.fromEntries(new URL((await authorize(s, "ada")).url).searchParams);
    const verifier = "another-apps-verifier-0123456789-0123456789-0123";
    const theirs = new URL(`${provider().issuer}/auth`);
    theirs.search = new URLSearchParams({
      client_id: OTHER_CLIENT.client_id,
      redirect_uri: REDIRECT,
      response_type: "code",
      scope: "openid email",
      state: "theirs",
      nonce: "theirs",
      code_challenge: await calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
    }).toString();
    const { params } = await signInAt(theirs.href, "ada", REDIRECT);
    const res = await complete(s, { code: params.code!, state: state! });
    expect(res.status, res.text).toBe(400);
    expect(res.json.non_field_errors[0]).toMatch(/^Authentication failed: invalid_grant/);
  });

  it("ID tokens with another nonce, another key's signature or alg none are refused, and make no user", async () => {
    const before = await users();
    const cases = [
      { how: "provider", change: { nonce: "someone-elses-nonce" }, says: /nonce/ },
      { how: "provider", change: { aud: "another-app" }, says: /aud/ },
      { how: "other-key", change: {}, says: /signature|JWS|JWK/i },
      { how: "none", change: {}, says: /alg|JWS/i },
    ] as const;
    for (const { how, change, says } of cases) {
      provider().tamperIdToken((token) => provider().sign({ ...claimsOf(token), ...change }, how));
      const res = await complete(s, (await authorize(s, "eve")).params);
      expect(res.status, `${how} ${JSON.stringify(change)}: ${res.text}`).toBe(400);
      expect(res.json.non_field_errors[0]).toMatch(/^Authentication failed: /);
      expect(res.json.non_field_errors[0]).toMatch(says);
    }
    expect(await users()).toBe(before);
    // The same claims re-signed by the provider's key pass: it is the change that was refused.
    provider().tamperIdToken((token) => provider().sign(claimsOf(token), "provider"));
    expect((await complete(s, (await authorize(s, "eve")).params)).status).toBe(201);
    expect(await users()).toBe(before + 1);
  });

  it("the provider's refusal (the person said no) is a 400 that says so", async () => {
    const { state } = Object.fromEntries(new URL((await authorize(s, "ada")).url).searchParams);
    const res = await complete(s, {
      error: "access_denied",
      error_description: "End-User aborted interaction",
      state: state!,
    });
    expect([res.status, res.json]).toEqual([
      400,
      refused("Authentication failed: access_denied: End-User aborted interaction."),
    ]);
  });
});

describe("an email at the provider that matches an account (pglite)", () => {
  const provider = useProvider();
  const s = useServer("pglite", () => oidcEnv(provider().issuer));

  it("is never linked by default, verified or not: the owner links the provider from their account", async () => {
    const victim = await s.signUp("victim", "victim@example.com");
    for (const person of ["eve", "vic"]) {
      const res = await complete(s, (await authorize(s, person)).params);
      expect(res.status, res.text).toBe(400);
      expect(res.json.non_field_errors[0]).toMatch(/^An account with this email address exists already: sign in to it/);
    }
    expect(await s.deps.prisma.socialIdentity.count({ where: { userId: victim } })).toBe(0);
    expect(await s.deps.prisma.user.count({ where: { email: "victim@example.com" } })).toBe(1);
  });
});

describe("ASSOCIATE_BY_EMAIL (pglite)", () => {
  const provider = useProvider();
  const s = useServer("pglite", () => oidcEnv(provider().issuer, { SOCIAL_AUTH_ASSOCIATE_BY_EMAIL: "true" }));

  it("links an account only for an address the provider verified", async () => {
    const victim = await s.signUp("victim", "victim@example.com");
    const eve = await complete(s, (await authorize(s, "eve")).params);
    expect(eve.status, eve.text).toBe(400);
    expect(eve.json.non_field_errors[0]).toMatch(/^An account with this email address exists already/);
    const vic = await complete(s, (await authorize(s, "vic")).params);
    expect(vic.status, vic.text).toBe(201);
    expect(vic.json.user).toBe("victim");
    const linked = await s.deps.prisma.socialIdentity.findMany({ where: { userId: victim } });
    expect(linked.map((i) => i.uid)).toEqual(["vic"]);
  });
});
