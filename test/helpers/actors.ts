// The actors most flow tests start with: a user signed up over REST, and an opaque key for them.
import { expect } from "vitest";
import type { TestServer } from "./server.ts";

/** A password every default validator accepts. */
export const PW = "Kq7!vLp2#Zx9";

/** Registers `username` (with `email`, if any) over REST; its id. */
export async function signUp(s: TestServer, username: string, email = "", password = PW): Promise<number> {
  const res = await s.request("POST", "/auth/users/", { json: { username, email, password } });
  expect(res.status, res.text).toBe(201);
  return res.json.id;
}

/** Logs `username` in over REST (token/login); the key. */
export async function tokenLogin(s: TestServer, username: string, password = PW): Promise<string> {
  const res = await s.request("POST", "/auth/token/login/", { json: { username, password } });
  expect(res.status, res.text).toBe(200);
  return res.json.auth_token;
}
