// The MFA side of the tests: codes computed from an enrolled secret at the server's clock (the
// tests share the machine's), and a user enrolled in the authenticator app over REST.
import { generate } from "otplib";
import { expect } from "vitest";
import { type Auth, PW, type Server, tokenAuth } from "./fixture.ts";

/** The secret in an otpauth:// URI. */
export const secretOf = (uri: string) => new URL(uri).searchParams.get("secret")!;

/**
 * The TOTP code `steps` periods from now. The server accepts one step either way and each step
 * once, so a test that needs a second fresh code takes the next step's (step 1), then step -1…
 */
export const totp = (secret: string, steps = 0, period = 30) =>
  generate({ secret, period, epoch: Math.floor(Date.now() / 1000) + steps * period });

/** Registers `name` (email name@example.com), enrols the app and confirms it; the secret and the backup codes. */
export async function enrolApp(s: Server, name: string): Promise<{ secret: string; backup: string[]; auth: Auth }> {
  await s.signUp(name, `${name}@example.com`);
  const auth = tokenAuth(await s.tokenLogin(name));
  const started = await s.request("POST", "/auth/app/activate/", { headers: auth });
  expect(started.status, started.text).toBe(200);
  const secret = secretOf(started.json.details);
  const confirmed = await s.request("POST", "/auth/app/activate/confirm/", {
    headers: auth,
    json: { code: await totp(secret) },
  });
  expect(confirmed.status, confirmed.text).toBe(200);
  return { secret, backup: confirmed.json.backup_codes, auth };
}

/** login/ with the password: the ephemeral token (MFA on). */
export async function firstStep(s: Server, name: string, password = PW): Promise<string> {
  const res = await s.request("POST", "/auth/login/", { json: { username: name, password } });
  expect(res.status, res.text).toBe(200);
  expect(Object.keys(res.json).sort()).toEqual(["ephemeral_token", "method"]);
  return res.json.ephemeral_token;
}

/** login/code/ with this token and code, however it ends. */
export const secondStep = (s: Server, token: string, code: unknown) =>
  s.request("POST", "/auth/login/code/", { json: { ephemeral_token: token, code } });
