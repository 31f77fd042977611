// The device token (src/core/login/device-tokens.ts) as a cookie, for both adapters: read from the
// Cookie header into RequestMeta, written as Set-Cookie after a successful login. HttpOnly (no
// script reads it), SameSite=Strict (no other site makes a browser send it), Secure over HTTPS.
import type { Settings } from "../config/schema.ts";
import type { DeviceToken } from "../core/deps.ts";

type Headers = Record<string, string | string[] | undefined>;

/** The values of every DEVICE_COOKIE_NAME cookie the request carries (RFC 6265 syntax). */
export function deviceTokensOf(headers: Headers, settings: Settings): string[] {
  const raw = headers.cookie;
  const text = Array.isArray(raw) ? raw.join("; ") : (raw ?? "");
  const found: string[] = [];
  for (const pair of text.split(";")) {
    const eq = pair.indexOf("=");
    if (eq <= 0 || pair.slice(0, eq).trim() !== settings.DEVICE_COOKIE_NAME) continue;
    found.push(
      pair
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, "$1"),
    );
  }
  return found;
}

/** The Set-Cookie values for tokens a login issued. */
export function deviceCookies(
  tokens: readonly DeviceToken[] | undefined,
  settings: Settings,
  https: boolean,
): string[] {
  const attributes = `Path=/; HttpOnly; SameSite=Strict${https ? "; Secure" : ""}`;
  return (tokens ?? []).map((t) => `${settings.DEVICE_COOKIE_NAME}=${t.value}; Max-Age=${t.maxAge}; ${attributes}`);
}
