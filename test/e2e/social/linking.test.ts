// A signed-in user links providers, lists and unlinks them, on both databases: the link's state is
// bound to its user, an identity stays with the user it is linked to, the account's last way to
// sign in cannot be unlinked, and each change is in the audit log. Then a user with MFA on, whose
// social sign-in asks for the second factor, and a flow begun on one instance and finished on another.
import { describe, expect, it } from "vitest";
import { type Auth, bearer, type Server, tokenAuth, useServer, withActors } from "../../helpers/fixture.ts";
import { secondStep, secretOf, totp } from "../../helpers/mfa.ts";
import { authorize, complete, oidcEnv, REDIRECT, useProvider } from "../../helpers/oidc/setup.ts";
import { signInAt } from "../../helpers/oidc/sign-in.ts";
import { DATABASES, freshPostgres, startTestServer } from "../../helpers/server.ts";

const q = (params: Record<string, string>) => new URLSearchParams(params).toString();

/** GET social/link/oidc/ as `auth`, and `login`'s sign-in at the provider: the callback's parameters. */
async function linkAs(s: Server, auth: Auth, login: string) {
  const res = await s.request("GET", `/auth/social/link/oidc/?redirect_uri=${encodeURIComponent(REDIRECT)}`, {
    headers: auth,
  });
  expect(res.status, res.text).toBe(200);
  return (await signInAt(res.json.authorization_url, login, REDIRECT)).params;
}
const finishLink = (s: Server, auth: Auth, params: Record<string, string>) =>
  s.request("POST", `/auth/social/link/oidc/?${q(params)}`, { headers: auth });

describe.each(DATABASES)("linking providers (%s)", (kind) => {
  const provider = useProvider();
  const s = useServer(kind, () => oidcEnv(provider().issuer));

  it("a password user links the provider; then the provider signs that account in, email match or not", async () => {
    const id = await s.signUp("vicky", "victim@example.com");
    const auth = tokenAuth(await s.tokenLogin("vicky"));
    const linked = await finishLink(s, auth, await linkAs(s, auth, "vic"));
    expect(linked.status, linked.text).toBe(201);
    expect(linked.json).toMatchObject({ provider: "oidc", uid: "vic", email: "victim@example.com" });
    const signIn = await complete(s, (await authorize(s, "vic")).params);
    expect([signIn.status, signIn.json.user]).toEqual([201, "vicky"]);
    expect((await s.me(bearer(signIn.json.access))).json.id).toBe(id);
    const events = await s.deps.prisma.auditEvent.findMany({ where: { userId: id, kind: { startsWith: "social" } } });
    expect(events.map((e) => [e.kind, e.data])).toEqual([["social_linked", { provider: "oidc" }]]);
  });

  it("a link's state is its user's: another user, or the sign-in path, cannot complete it", async () => {
    await s.signUp("carol", "carol@example.com");
    await s.signUp("dave", "dave@example.com");
    const carol = tokenAuth(await s.tokenLogin("carol"));
    const dave = tokenAuth(await s.tokenLogin("dave"));
    const params = await linkAs(s, carol, "bob");
    const stolen = await finishLink(s, dave, params);
    expect([stolen.status, stolen.json]).toEqual([400, { non_field_errors: ["Invalid state has been provided."] }]);
    const asSignIn = await complete(s, (await linkAs(s, carol, "bob")) as Record<string, string>);
    expect([asSignIn.status, asSignIn.json]).toEqual([400, { non_field_errors: ["Invalid state has been provided."] }]);
    const anonymous = await s.request("GET", `/auth/social/link/oidc/?redirect_uri=${encodeURIComponent(REDIRECT)}`);
    expect(anonymous.status).toBe(401);
    expect(await s.deps.prisma.socialIdentity.count({ where: { uid: "bob" } })).toBe(0);
  });

  it("an identity linked to one user cannot be linked to another", async () => {
    const ada = await complete(s, (await authorize(s, "ada")).params);
    expect(ada.status, ada.text).toBe(201);
    await s.signUp("erin", "erin@example.com");
    const erin = tokenAuth(await s.tokenLogin("erin"));
    const res = await finishLink(s, erin, await linkAs(s, erin, "ada"));
    expect(res.status, res.text).toBe(400);
    expect(res.json.non_field_errors).toEqual(["This oidc account is linked to another user: unlink it there first."]);
    expect((await s.trpc(erin).social.identities.query()).length).toBe(0);
  });

  it("unlinking: never the last way to sign in; a user with a password may; each is audited", async () => {
    const social = await complete(s, (await authorize(s, "ada")).params);
    const ada = bearer(social.json.access);
    const [only] = await s.trpc(ada).social.identities.query();
    const last = await s.request("DELETE", `/auth/social/identities/${only!.id}/`, { headers: ada });
    expect(last.status, last.text).toBe(400);
    expect(last.json.non_field_errors[0]).toMatch(/^This is the account's only way to sign in/);
    const auth = tokenAuth(await s.tokenLogin("vicky"));
    const [vic] = await s.trpc(auth).social.identities.query();
    const other = await s.request("DELETE", `/auth/social/identities/${only!.id}/`, { headers: auth });
    expect(other.status).toBe(404);
    await s.trpc(auth).social.unlink.mutate({ id: vic!.id });
    expect(await s.trpc(auth).social.identities.query()).toEqual([]);
    const user = (await s.me(auth)).json.id;
    const kinds = await s.deps.prisma.auditEvent.findMany({ where: { userId: user, kind: { startsWith: "social" } } });
    expect(kinds.map((e) => [e.kind, e.data])).toEqual([
      ["social_linked", { provider: "oidc" }],
      ["social_unlinked", { provider: "oidc" }],
    ]);
    // Unlinked, the provider's account no longer reaches vicky: it would be a new account, and
    // vicky's email is taken, so it is refused.
    const again = await complete(s, (await authorize(s, "vic")).params);
    expect(again.status).toBe(400);
  });
});

describe("linking is a sensitive action (pglite)", () => {
  const provider = useProvider();
  const s = useServer("pglite", () => oidcEnv(provider().issuer, { REAUTHENTICATION_TIMEOUT: "0" }));

  it("without a recent sign-in, social/link/ answers reauthentication_required", async () => {
    await s.signUp("old", "old@example.com");
    const auth = tokenAuth(await s.tokenLogin("old"));
    await new Promise((r) => setTimeout(r, 1100));
    const res = await s.request("GET", `/auth/social/link/oidc/?redirect_uri=${encodeURIComponent(REDIRECT)}`, {
      headers: auth,
    });
    expect([res.status, res.json.code]).toEqual([403, "reauthentication_required"]);
  });
});

describe("a user with MFA on (pglite)", () => {
  const provider = useProvider();
  const s = useServer("pglite", () => oidcEnv(provider().issuer));

  it("the social sign-in asks for the second factor; login/code/ completes it with both factors", async () => {
    const first = await complete(s, (await authorize(s, "bob")).params);
    const auth = bearer(first.json.access);
    const started = await s.request("POST", "/auth/app/activate/", { headers: auth });
    expect(started.status, started.text).toBe(200);
    const secret = secretOf(started.json.details);
    const code = await totp(secret);
    const confirmed = await s.request("POST", "/auth/app/activate/confirm/", { headers: auth, json: { code } });
    expect(confirmed.status, confirmed.text).toBe(200);
    const step = await complete(s, (await authorize(s, "bob")).params);
    expect([step.status, Object.keys(step.json).sort()]).toEqual([200, ["ephemeral_token", "method"]]);
    expect(step.json.method).toBe("app");
    const done = await secondStep(s, step.json.ephemeral_token, await totp(secret, 1));
    expect(done.status, done.text).toBe(200);
    const sessions = await s.request("GET", "/auth/sessions/", { headers: bearer(done.json.access) });
    const current = sessions.json.find((x: { current: boolean }) => x.current);
    expect(current).toMatchObject({ factors: ["fed", "otp"], provider: "oidc" });
  });
});

describe("two instances on one PostgreSQL database", () => {
  const provider = useProvider();

  it("a flow begun on instance A finishes on instance B, once", async () => {
    const db = await freshPostgres();
    const env = { ...oidcEnv(provider().issuer), DATABASE_URL: db.url };
    const a = withActors(await startTestServer("postgresql", env));
    const b = withActors(await startTestServer("postgresql", { ...env, AUTO_MIGRATE: "false" }));
    try {
      const { params } = await authorize(a, "ada");
      const res = await complete(b, params);
      expect([res.status, res.json.user], res.text).toEqual([201, "ada"]);
      expect((await a.me(bearer(res.json.access))).status).toBe(200);
      const replay = await complete(a, params);
      expect([replay.status, replay.json.non_field_errors]).toEqual([
        400,
        ["This sign-in was completed already: start again."],
      ]);
      // The typed client likewise: the URL from A's social.authorizationUrl, completed on B.
      const { authorization_url } = await a
        .trpc()
        .social.authorizationUrl.mutate({ provider: "oidc", redirectUri: REDIRECT });
      const back = (await signInAt(authorization_url, "bob", REDIRECT)).params;
      const done = await b.trpc().social.complete.mutate({ provider: "oidc", code: back.code!, state: back.state! });
      expect(done).toMatchObject({ status: "ok", user: "bob" });
    } finally {
      await b.stop();
      await a.stop();
      await db.drop();
    }
  });
});
