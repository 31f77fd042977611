// Device tokens (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"): every successful
// login hands the client a token bound to the login name, and a client presenting one for the
// name it logs in as is counted apart from everyone else (lockout.ts). Nothing is stored: the
// token is "<issued>.<id>.<mac>", the MAC (HMAC-SHA256 under a key derived from SECRET_KEY) covering the login name's
// key, the issue time and the random id. The adapters carry it as a cookie; services never see one.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Deps, DeviceToken } from "../deps.ts";
import { purposeKey } from "../secrets.ts";
import { accountKey } from "./throttle.ts";

const TOKEN = /^([0-9a-z]{1,10})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;
// A client may send a few (several cookies of that name); more are not read.
const MAX_PRESENTED = 4;

const mac = (deps: Deps, login: string, issued: string, id: string) =>
  createHmac("sha256", purposeKey(deps.settings, "device"))
    .update(`portcullis.device|${accountKey(login)}|${issued}|${id}`)
    .digest("base64url");

/** A new device token for a client that just logged in as `login`; null when DEVICE_COOKIE_AGE is 0. */
export function issueDeviceToken(deps: Deps, login: string): DeviceToken | null {
  const age = deps.settings.DEVICE_COOKIE_AGE;
  if (!age) return null;
  const issued = Math.floor(Date.now() / 1000).toString(36);
  const id = randomBytes(16).toString("base64url");
  return { value: `${issued}.${id}.${mac(deps, login, issued, id)}`, maxAge: age };
}

/**
 * The id of the first presented token that a successful login as `login` issued, if it is not
 * older than DEVICE_COOKIE_AGE; else null. Compared in constant time.
 */
export function trustedDevice(deps: Deps, login: string, presented: readonly string[] = []): string | null {
  const age = deps.settings.DEVICE_COOKIE_AGE;
  if (!age) return null;
  const now = Date.now() / 1000;
  for (const token of presented.slice(0, MAX_PRESENTED)) {
    const [, issued = "", id = "", sig = ""] = TOKEN.exec(token) ?? [];
    const at = parseInt(issued, 36);
    if (!sig || !(at <= now + 60 && now - at <= age)) continue;
    if (timingSafeEqual(Buffer.from(sig), Buffer.from(mac(deps, login, issued, id)))) return id;
  }
  return null;
}
