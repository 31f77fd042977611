// What the throttle test files share: requests over REST and tRPC, and DRF's 429 (its words and a
// Retry-After that agrees) as each adapter answers it.
import { expect } from "vitest";
import { readResponse } from "../../helpers/net.ts";

export const ARGON2 = '{"MEMORY_COST":1024,"TIME_COST":1,"PARALLELISM":1}';
export const PW = "Kq7!vLp2#Zx9";
type Answer = Awaited<ReturnType<typeof readResponse>>;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const from = (ip: string) => ({ "x-forwarded-for": ip });
const words = (n: number) => `Request was throttled. Expected available in ${n} second${n === 1 ? "" : "s"}.`;

/** fetch a URL and read the whole answer. */
export const call = async (url: string, method: string, headers: Record<string, string> = {}, json?: unknown) =>
  readResponse(
    await fetch(url, {
      method,
      headers: json === undefined ? headers : { "content-type": "application/json", ...headers },
      body: json === undefined ? undefined : JSON.stringify(json),
    }),
  );
export const rest = (base: string, method: string, path: string, headers?: Record<string, string>, json?: unknown) =>
  call(base + path, method, headers, json);
/** One tRPC call over plain HTTP, to see the status and headers a client gets. */
export const trpc = (base: string, path: string, input: unknown, headers: Record<string, string> = {}) =>
  input === undefined
    ? call(`${base}/trpc/${path}`, "GET", headers)
    : call(`${base}/trpc/${path}`, "POST", headers, input);

/** DRF's Throttled answer: its words ("1 second." singular) and Retry-After, within (0, max]. */
export function expectThrottled(res: Answer, max: number): number {
  expect(res.status, res.text).toBe(429);
  const wait = Number(res.headers.get("retry-after"));
  expect(wait).toBeGreaterThanOrEqual(1);
  expect(wait).toBeLessThanOrEqual(max);
  expect(res.json).toEqual({ detail: words(wait) });
  return wait;
}
/** tRPC's side: TOO_MANY_REQUESTS as HTTP 429, data.code "throttled", data.retryAfter = Retry-After. */
export function expectTrpcThrottled(res: Answer, max: number): number {
  expect(res.status, res.text).toBe(429);
  const wait = Number(res.headers.get("retry-after"));
  expect(wait).toBeGreaterThanOrEqual(1);
  expect(wait).toBeLessThanOrEqual(max);
  expect(res.json.error).toMatchObject({
    message: words(wait),
    code: -32029,
    data: { code: "throttled", httpStatus: 429, retryAfter: wait },
  });
  return wait;
}
/** Answered, and not by a throttle (nor a 500). */
export const notThrottled = (res: Answer) => expect([429, 500, 503], res.text).not.toContain(res.status);
