// What the social sign-in tests share: the people at the provider, the client Portcullis is
// registered as, the settings that point Portcullis at the provider, and the two steps of a
// sign-in as a client performs them (authorization URL, the person at the provider, completion).
import { afterAll, beforeAll, expect } from "vitest";
import type { TestServer } from "../server.ts";
import { type Person, startProvider, type TestProvider } from "./provider.ts";
import { signInAt } from "./sign-in.ts";

export const REDIRECT = "http://localhost:3000/callback";
export const CLIENT = { client_id: "portcullis-app", client_secret: "client-secret-of-the-test-app-0123" };
export const OTHER_CLIENT = { client_id: "another-app", client_secret: "secret-of-another-app-0123456789" };

export const PEOPLE: Person[] = [
  { sub: "ada", email: "ada@example.com", email_verified: true, given_name: "Ada", tid: "t1", oid: "o-ada" },
  { sub: "bob", email: "bob@example.com", email_verified: true, tid: "t1", oid: "o-bob" },
  // Claims an address she does not own (her provider never verified it).
  { sub: "eve", email: "victim@example.com", email_verified: false, tid: "t2", oid: "o-eve" },
  { sub: "vic", email: "victim@example.com", email_verified: true, tid: "t1", oid: "o-vic" },
];

/** A provider for the enclosing describe, started in its beforeAll. */
export function useProvider(extra: Parameters<typeof startProvider>[0] extends infer O ? Partial<O> : never = {}) {
  let provider: TestProvider | undefined;
  beforeAll(async () => {
    provider = await startProvider({
      people: PEOPLE,
      clients: [
        { ...CLIENT, redirect_uris: [REDIRECT] },
        { ...OTHER_CLIENT, redirect_uris: [REDIRECT] },
      ],
      ...extra,
    });
  });
  afterAll(async () => provider?.close());
  return () => {
    if (!provider) throw new Error("useProvider: started in beforeAll");
    return provider;
  };
}

/** Portcullis's settings for the generic provider `oidc` at `issuer` (python-social-auth's names). */
export const oidcEnv = (issuer: string, more: Record<string, string> = {}): Record<string, string> => ({
  SOCIAL_AUTH_OIDC_OIDC_ENDPOINT: issuer,
  SOCIAL_AUTH_OIDC_KEY: CLIENT.client_id,
  SOCIAL_AUTH_OIDC_SECRET: CLIENT.client_secret,
  DJOSER_SOCIAL_AUTH_ALLOWED_REDIRECT_URIS: JSON.stringify([REDIRECT]),
  ...more,
});

/** GET o/<provider>/ and the person's sign-in at the provider: what comes back to the redirect URI. */
export async function authorize(s: TestServer, login: string, provider = "oidc") {
  const res = await s.request("GET", `/auth/o/${provider}/?redirect_uri=${encodeURIComponent(REDIRECT)}`);
  expect(res.status, res.text).toBe(200);
  const url: string = res.json.authorization_url;
  return { url, ...(await signInAt(url, login, REDIRECT)) };
}

/** POST o/<provider>/ as Djoser's clients send it: the callback's parameters in the query string. */
export const complete = (s: TestServer, params: Record<string, string>, provider = "oidc") =>
  s.request("POST", `/auth/o/${provider}/?${new URLSearchParams(params)}`);
