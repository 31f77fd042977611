// What the transport test files share: the settings of their servers, the headers every answer
// carries, and a request with the Host header of our choosing.
import { expect } from "vitest";
import { rawRequest } from "../../helpers/raw-http.ts";
import { startTestServer, type TestServer } from "../../helpers/server.ts";

export const PW = "Kq7!vLp2#Zx9";
export const CHEAP = { ARGON2: JSON.stringify({ MEMORY_COST: 1024, TIME_COST: 1, PARALLELISM: 1 }) };
export const APP = "https://app.example.com";
export const J = { "content-type": "application/json" };
const SECURITY = { "x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "same-origin" };

export type Res = { status: number; headers: Headers | Map<string, string>; text?: string; body?: string };
export const header = (r: Res, name: string) => r.headers.get(name) ?? null;
export const expectSecurityHeaders = (r: Res, what: string) =>
  Object.entries(SECURITY).forEach(([k, v]) => expect(header(r, k), `${what}: ${k}`).toBe(v));
export const no5xx = (r: Res, what: string) =>
  expect(r.status, `${what}: ${(r.text ?? r.body)?.slice(0, 200)}`).toBeLessThan(500);

/** A request with the Host header we choose (fetch always sends the URL's own). */
export const withHost = (
  url: string,
  host: string,
  path: string,
  extra: Record<string, string> = {},
  method = "GET",
  body = "",
) =>
  rawRequest(
    url,
    `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `${Object.entries(extra)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("")}\r\n`,
    body,
  );

/** CORS allows APP, with credentials; alice has signed up. */
export async function startAppServer(): Promise<TestServer> {
  const s = await startTestServer("postgresql", {
    ...CHEAP,
    CORS_ALLOWED_ORIGINS: JSON.stringify([APP]),
    CORS_ALLOW_CREDENTIALS: "true",
  });
  expect(
    (
      await s.request("POST", "/auth/users/", {
        json: { username: "alice", email: "alice@example.com", password: PW },
      })
    ).status,
  ).toBe(201);
  return s;
}

/** CORS_ALLOW_ALL_ORIGINS, no credentials; DEBUG. */
export const startOpenServer = () =>
  startTestServer("postgresql", { ...CHEAP, CORS_ALLOW_ALL_ORIGINS: "true", DEBUG: "true" });

/** ALLOWED_HOSTS, behind one proxy, no CORS settings. */
export const startHostsServer = () =>
  startTestServer("postgresql", {
    ...CHEAP,
    ALLOWED_HOSTS: JSON.stringify(["api.example.com", ".example.org"]),
    NUM_PROXIES: "1",
  });
