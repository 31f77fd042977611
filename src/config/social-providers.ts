// The social providers a site has configured, read from python-social-auth's setting names: a
// preset (google-oauth2, microsoft-graph, apple-id, github) is on when its KEY (and SECRET) are
// set; `oidc` is the generic OpenID Connect provider of OIDC_OIDC_ENDPOINT (the issuer). A
// Portcullis extension adds more generic ones: each <NAME>_OIDC_ENDPOINT with <NAME>_KEY and
// <NAME>_SECRET is the provider "<name>" (lower case, "_" as "-"): ACME_SSO_OIDC_ENDPOINT is
// /auth/o/acme-sso/. A preset's own <NAME>_OIDC_ENDPOINT replaces its issuer (a staging tenant).
import type { z } from "zod";
import type { socialAuthSchema } from "./social-schema.ts";

type SocialAuth = z.output<typeof socialAuthSchema>;

export type Provider = {
  /** Its name in the paths (/auth/o/<name>/). */
  name: string;
  clientId: string;
  clientSecret: string;
  scope: string;
  /** OpenID Connect by discovery from `issuer`, or plain OAuth 2.0 with GitHub's API. */
  kind: "oidc" | "github";
  issuer: string;
  /** GitHub's: where the user and their emails are read. */
  apiUrl?: string;
  /** Apple's: the authorization response is POSTed to the redirect URI. */
  responseMode?: "form_post";
  /** Apple's client secret is a JWT signed with the team's key (ES256). */
  appleKey?: { teamId: string; keyId: string; privateKey: string };
  /** The stable account id among the ID token's claims (Microsoft: tid and oid, not sub alone). */
  uidClaims: string[];
};

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

/** An issuer or API URL: https, or http on this machine only (a provider under test). */
function endpoint(setting: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${setting} must be a URL, e.g. https://accounts.example.com`);
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK.test(url.hostname)))
    throw new Error(`${setting} must use https (http is accepted on localhost only)`);
  return value.replace(/\/$/, "");
}

export function socialProviders(s: SocialAuth): Map<string, Provider> {
  const get = (key: string) => {
    const v = (s as Record<string, unknown>)[key];
    return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
  };
  const issuer = (name: string, preset: string) =>
    endpoint(`SOCIAL_AUTH_${name}_OIDC_ENDPOINT`, get(`${name}_OIDC_ENDPOINT`) ?? preset);
  const out = new Map<string, Provider>();
  const add = (name: string, setting: string, rest: Omit<Provider, "name" | "clientId" | "clientSecret">) => {
    const clientId = get(`${setting}_KEY`);
    if (!clientId) return;
    const clientSecret = get(`${setting}_SECRET`);
    if (!clientSecret && !rest.appleKey) throw new Error(`${setting}_SECRET is needed with ${setting}_KEY`);
    out.set(name, { name, clientId, clientSecret: clientSecret ?? "", ...rest });
  };
  const oidc = { kind: "oidc" as const, scope: "openid email profile", uidClaims: ["sub"] };
  add("google-oauth2", "GOOGLE_OAUTH2", { ...oidc, issuer: issuer("GOOGLE_OAUTH2", "https://accounts.google.com") });
  const tenant = get("MICROSOFT_GRAPH_TENANT_ID") ?? "common";
  add("microsoft-graph", "MICROSOFT_GRAPH", {
    ...oidc,
    issuer: issuer("MICROSOFT_GRAPH", `https://login.microsoftonline.com/${encodeURIComponent(tenant)}/v2.0`),
    uidClaims: ["tid", "oid"],
  });
  add("github", "GITHUB", {
    kind: "github",
    scope: "read:user user:email",
    issuer: endpoint("SOCIAL_AUTH_GITHUB_URL", get("GITHUB_URL") ?? "https://github.com"),
    apiUrl: endpoint("SOCIAL_AUTH_GITHUB_API_URL", get("GITHUB_API_URL") ?? "https://api.github.com"),
    uidClaims: ["id"],
  });
  // python-social-auth's apple-id names: CLIENT (the Services ID), TEAM, KEY (the key's id), SECRET (its PEM).
  const apple = ["CLIENT", "TEAM", "KEY", "SECRET"].map((k) => get(`APPLE_ID_${k}`));
  if (apple.some(Boolean)) {
    const [clientId, teamId, keyId, privateKey] = apple;
    if (!clientId || !teamId || !keyId || !privateKey)
      throw new Error("apple-id needs APPLE_ID_CLIENT, APPLE_ID_TEAM, APPLE_ID_KEY and APPLE_ID_SECRET");
    out.set("apple-id", {
      name: "apple-id",
      clientId,
      clientSecret: "",
      kind: "oidc",
      scope: "openid email name",
      issuer: issuer("APPLE_ID", "https://appleid.apple.com"),
      responseMode: "form_post",
      appleKey: { teamId, keyId, privateKey: privateKey.replace(/\\n/g, "\n") },
      uidClaims: ["sub"],
    });
  }
  const PRESETS = new Set(["GOOGLE_OAUTH2", "MICROSOFT_GRAPH", "APPLE_ID"]);
  for (const key of Object.keys(s)) {
    const setting = /^([A-Z0-9_]+)_OIDC_ENDPOINT$/.exec(key)?.[1];
    if (!setting || PRESETS.has(setting)) continue;
    const name = setting.toLowerCase().replace(/_/g, "-");
    if (out.has(name)) throw new Error(`${key}: the provider name "${name}" is taken by a preset`);
    add(name, setting, { ...oidc, issuer: issuer(setting, "") });
  }
  return out;
}
