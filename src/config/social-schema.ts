// Social sign-in settings, python-social-auth's names as a Djoser settings.py has them: each
// SOCIAL_AUTH_<NAME> of Django is SOCIAL_AUTH.<NAME> here (SOCIAL_AUTH_<NAME> in the environment).
// The providers' keys (GOOGLE_OAUTH2_KEY, OIDC_OIDC_ENDPOINT…) are open-ended strings, read by
// config/social-providers.ts; the options below are typed.
import { z } from "zod";

export const socialAuthSchema = z
  .object({
    // python-social-auth's associate_by_email step, off by default: an account whose email a
    // provider asserts is linked only if this is on and the provider says the address is verified.
    ASSOCIATE_BY_EMAIL: z.boolean().default(false),
    // The new user's username: the whole email (true) or a name derived from the profile.
    USERNAME_IS_FULL_EMAIL: z.boolean().default(false),
    // Hex digits appended to a derived username that is taken already.
    UUID_LENGTH: z.number().int().min(4).max(32).default(16),
    // Portcullis extension: seconds between the authorization URL and the completion.
    STATE_TTL: z.number().int().min(60).max(3600).default(600),
    // Seconds a request to a provider may take.
    URLOPEN_TIMEOUT: z.number().int().min(1).max(60).default(10),
  })
  .catchall(z.string());

// Compared as written with the redirect_uri a client sends (Djoser's `in`), and sent to providers
// as the URL parser writes it: so each must already be in that form, with no query or fragment.
const redirectUri = z.url().superRefine((u, ctx) => {
  const url = new URL(u);
  if (url.search || url.hash || u.includes("?") || u.includes("#"))
    ctx.addIssue({ code: "custom", message: "a redirect URI has no query or fragment" });
  else if (url.href !== u) ctx.addIssue({ code: "custom", message: `write it as ${url.href}` });
});

// Djoser's two SOCIAL_AUTH_* settings (DJOSER_SOCIAL_AUTH_… in the environment). The token strategy
// is Djoser's class path or its short name: "jwt" (SimpleJWT's pair, Djoser's default) or "token".
const STRATEGIES: Record<string, "jwt" | "token"> = {
  "djoser.social.token.jwt.TokenStrategy": "jwt",
  jwt: "jwt",
  token: "token",
};
export const djoserSocialFields = {
  SOCIAL_AUTH_ALLOWED_REDIRECT_URIS: z.array(redirectUri).default([]),
  SOCIAL_AUTH_TOKEN_STRATEGY: z
    .string()
    .refine((v) => v in STRATEGIES, 'use "jwt" (djoser.social.token.jwt.TokenStrategy) or "token"')
    .transform((v) => STRATEGIES[v]!)
    .default("jwt"),
};
