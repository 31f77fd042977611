// The presets against real servers on loopback: Google's and Microsoft's (OpenID Connect; Microsoft
// identifies by tid and oid), Apple's (form_post, and a client secret that is an ES256 JWT the
// provider checks) through oidc-provider at their OIDC_ENDPOINT, and GitHub's plain OAuth 2.0
// with its API through a server shaped like GitHub's.
import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, useServer } from "../../helpers/fixture.ts";
import { type GithubUser, startGithub } from "../../helpers/oidc/github.ts";
import { authorize, CLIENT, complete, REDIRECT, useProvider } from "../../helpers/oidc/setup.ts";

const ALLOWED = { DJOSER_SOCIAL_AUTH_ALLOWED_REDIRECT_URIS: JSON.stringify([REDIRECT]) };
const APPLE = { clientId: "com.example.web", teamId: "TEAM123456", keyId: "KEY1234567", secret: "apple-side-secret" };
const appleKey = generateKeyPairSync("ec", { namedCurve: "P-256" });
const pem = (key: typeof appleKey.privateKey) => key.export({ format: "pem", type: "pkcs8" }) as string;

describe("Google, Microsoft and Apple presets (pglite)", () => {
  const provider = useProvider({
    clients: [
      { ...CLIENT, redirect_uris: [REDIRECT] },
      { client_id: APPLE.clientId, client_secret: APPLE.secret, redirect_uris: [REDIRECT] },
    ],
    apple: { ...APPLE, publicKey: appleKey.publicKey },
  });
  const s = useServer("pglite", () => {
    const issuer = provider().issuer;
    return {
      ...ALLOWED,
      SOCIAL_AUTH_GOOGLE_OAUTH2_KEY: CLIENT.client_id,
      SOCIAL_AUTH_GOOGLE_OAUTH2_SECRET: CLIENT.client_secret,
      SOCIAL_AUTH_GOOGLE_OAUTH2_OIDC_ENDPOINT: issuer,
      SOCIAL_AUTH_MICROSOFT_GRAPH_KEY: CLIENT.client_id,
      SOCIAL_AUTH_MICROSOFT_GRAPH_SECRET: CLIENT.client_secret,
      SOCIAL_AUTH_MICROSOFT_GRAPH_OIDC_ENDPOINT: issuer,
      SOCIAL_AUTH_APPLE_ID_CLIENT: APPLE.clientId,
      SOCIAL_AUTH_APPLE_ID_TEAM: APPLE.teamId,
      SOCIAL_AUTH_APPLE_ID_KEY: APPLE.keyId,
      SOCIAL_AUTH_APPLE_ID_SECRET: pem(appleKey.privateKey),
      SOCIAL_AUTH_APPLE_ID_OIDC_ENDPOINT: issuer,
      SOCIAL_AUTH_OIDC_OIDC_ENDPOINT: issuer,
      SOCIAL_AUTH_OIDC_KEY: CLIENT.client_id,
      SOCIAL_AUTH_OIDC_SECRET: CLIENT.client_secret,
    };
  });
  const uidOf = async (provider: string, access: string) => {
    const ids = await s.trpc(bearer(access)).social.identities.query();
    return ids.find((i) => i.provider === provider)?.uid;
  };

  it("google-oauth2 signs in by sub", async () => {
    const res = await complete(s, (await authorize(s, "ada", "google-oauth2")).params, "google-oauth2");
    expect(res.status, res.text).toBe(201);
    expect(await uidOf("google-oauth2", res.json.access)).toBe("ada");
  });

  it("microsoft-graph identifies the account by tenant and object id, not sub alone", async () => {
    const res = await complete(s, (await authorize(s, "bob", "microsoft-graph")).params, "microsoft-graph");
    expect(res.status, res.text).toBe(201);
    expect(await uidOf("microsoft-graph", res.json.access)).toBe("t1:o-bob");
  });

  it("apple-id: the response is POSTed (form_post); the client secret is an ES256 JWT of the team's key", async () => {
    const { params, via, url } = await authorize(s, "vic", "apple-id");
    expect(via).toBe("form_post");
    expect(new URL(url).searchParams.get("response_mode")).toBe("form_post");
    // What Apple POSTs to the redirect URI, forwarded as it came (a form).
    const user = JSON.stringify({ name: { firstName: "Vic", lastName: "Tim" }, email: "victim@example.com" });
    const res = await s.request("POST", "/auth/o/apple-id/", {
      body: new URLSearchParams({ ...params, user }).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.status, res.text).toBe(201);
    expect(await uidOf("apple-id", res.json.access)).toBe("vic");
    // The name Apple posts once, beside the code, is the new user's.
    const row = await s.deps.prisma.user.findFirstOrThrow({ where: { email: "victim@example.com" } });
    expect([row.firstName, row.lastName]).toEqual(["Vic", "Tim"]);
    const secret = provider()
      .tokenRequests.filter((r) => r.client_id === APPLE.clientId)
      .at(-1)!.client_secret!;
    expect(secret.split(".")).toHaveLength(3);
  });

  it("each provider's accounts are apart: the same sub at two providers is two identities of its own", async () => {
    const google = await complete(s, (await authorize(s, "ada", "google-oauth2")).params, "google-oauth2");
    const generic = await complete(s, (await authorize(s, "ada", "oidc")).params, "oidc");
    expect(generic.status).toBe(400); // ada's email is taken by the google-oauth2 account: link it there
    expect(google.status).toBe(201);
  });
});

describe("Apple with a client secret signed by the wrong key (pglite)", () => {
  const provider = useProvider({
    clients: [{ client_id: APPLE.clientId, client_secret: APPLE.secret, redirect_uris: [REDIRECT] }],
    apple: { ...APPLE, publicKey: appleKey.publicKey },
  });
  const wrong = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const s = useServer("pglite", () => ({
    ...ALLOWED,
    SOCIAL_AUTH_APPLE_ID_CLIENT: APPLE.clientId,
    SOCIAL_AUTH_APPLE_ID_TEAM: APPLE.teamId,
    SOCIAL_AUTH_APPLE_ID_KEY: APPLE.keyId,
    SOCIAL_AUTH_APPLE_ID_SECRET: pem(wrong),
    SOCIAL_AUTH_APPLE_ID_OIDC_ENDPOINT: provider().issuer,
  }));

  it("is refused by the provider: a 400 that names invalid_client", async () => {
    const { params } = await authorize(s, "ada", "apple-id");
    const res = await s.request("POST", "/auth/o/apple-id/", { json: params });
    expect(res.status, res.text).toBe(400);
    expect(res.json.non_field_errors[0]).toMatch(/^Authentication failed: invalid_client/);
  });
});

const OCTO: GithubUser = {
  id: 583231,
  login: "octocat",
  name: "The Octocat",
  emails: [
    { email: "octo@unverified.example", primary: true, verified: false },
    { email: "octo@example.com", primary: false, verified: true },
  ],
};
const SHY: GithubUser = {
  id: 9,
  login: "shy",
  name: null,
  emails: [{ email: "s@x.example", primary: true, verified: false }],
};
const GH = { id: "gh-client", secret: "gh-secret-0123456789" };

/** The GitHub-shaped server and a Portcullis server signing in through it, for the enclosing describe. */
function useGithub(extra: Record<string, string> = {}) {
  let github: Awaited<ReturnType<typeof startGithub>>;
  beforeAll(async () => {
    github = await startGithub({ users: [OCTO, SHY], client: GH });
  });
  afterAll(async () => github?.close());
  return useServer("pglite", () => ({
    ...ALLOWED,
    SOCIAL_AUTH_GITHUB_KEY: GH.id,
    SOCIAL_AUTH_GITHUB_SECRET: GH.secret,
    SOCIAL_AUTH_GITHUB_URL: github.url,
    SOCIAL_AUTH_GITHUB_API_URL: github.apiUrl,
    ...extra,
  }));
}

describe("GitHub, plain OAuth 2.0 (pglite)", () => {
  const s = useGithub();

  it("the user and their verified email come from GitHub's API; the id is the uid", async () => {
    const { params, url } = await authorize(s, "octocat", "github");
    expect(new URL(url).searchParams.get("scope")).toBe("read:user user:email");
    const res = await complete(s, params, "github");
    expect([res.status, res.json.user], res.text).toEqual([201, "octocat"]);
    const me = await s.me(bearer(res.json.access));
    expect(me.json).toMatchObject({ username: "octocat", email: "octo@example.com" });
    const [identity] = await s.trpc(bearer(res.json.access)).social.identities.query();
    expect(identity).toMatchObject({ provider: "github", uid: "583231", email: "octo@example.com" });
  });

  it("no verified email: the account has none (an unverified address is never taken)", async () => {
    const res = await complete(s, (await authorize(s, "shy", "github")).params, "github");
    expect(res.status, res.text).toBe(201);
    expect((await s.me(bearer(res.json.access))).json).toMatchObject({ username: "shy", email: "" });
  });

  it("a code GitHub refuses (its 200 with an error) is a 400", async () => {
    const { params } = await authorize(s, "octocat", "github");
    const res = await complete(s, { ...params, code: "not-a-code" }, "github");
    expect(res.status, res.text).toBe(400);
    expect(res.json.non_field_errors[0]).toMatch(/^Authentication failed: bad_verification_code/);
  });
});

describe("GitHub when the email is the login (USERNAME_FIELD=email, pglite)", () => {
  const s = useGithub({ USERNAME_FIELD: "email" });

  it("the verified email is the login; an account GitHub gives no verified email for is refused", async () => {
    const octo = await complete(s, (await authorize(s, "octocat", "github")).params, "github");
    expect([octo.status, octo.json.user], octo.text).toEqual([201, "octo@example.com"]);
    expect((await s.me(bearer(octo.json.access))).json).toEqual({ email: "octo@example.com", id: expect.any(Number) });
    const shy = await complete(s, (await authorize(s, "shy", "github")).params, "github");
    expect([shy.status, shy.json]).toEqual([
      400,
      { non_field_errors: ["github gave no email address, which an account here needs."] },
    ]);
  });
});
