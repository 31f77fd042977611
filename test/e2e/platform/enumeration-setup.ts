// What the enumeration test files share: a timed POST, answers compared byte for byte, and races
// of a known account's request against the others, with their median times.
import { expect } from "vitest";
import type { TestServer } from "../../helpers/server.ts";

export const PW = "Kq7!vLp2#Zx9";
export const WRONG = "Wr0ng-Passw0rd!";
export const ROUNDS = 15;

type Answer = { status: number; headers: Record<string, string>; body: string; ms: number };

/** One POST, timed from send to the last byte of the answer; the answer as a client sees it. */
export async function post(s: TestServer, path: string, body: unknown): Promise<Answer> {
  const start = performance.now();
  const res = await fetch(s.url + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const ms = performance.now() - start;
  // Everything but the clock and the connection's own bookkeeping must match.
  const headers = Object.fromEntries(
    [...res.headers].filter(([k]) => !["date", "connection", "keep-alive"].includes(k)),
  );
  return { status: res.status, headers, body: text, ms };
}

export const sameAnswer = (a: Answer, b: Answer, what: string) =>
  expect({ status: b.status, headers: b.headers, body: b.body }, what).toEqual({
    status: a.status,
    headers: a.headers,
    body: a.body,
  });
const median = (xs: number[]) => {
  const sorted = [...xs].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
export const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

/**
 * `rounds` rounds (ROUNDS unless told), each sending the known request and then every other one;
 * after one warm-up each. Every answer must equal the known one. Returns the median time of each
 * kind.
 */
export async function race(
  s: TestServer,
  label: string,
  path: string,
  known: () => unknown,
  others: Record<string, () => unknown>,
  rounds = ROUNDS,
) {
  const answer = await post(s, path, known());
  for (const [what, body] of Object.entries(others))
    sameAnswer(answer, await post(s, path, body()), `${label}: ${what} (warm-up)`);
  const times: Record<string, number[]> = { known: [] };
  for (let i = 0; i < rounds; i++) {
    const a = await post(s, path, known());
    sameAnswer(answer, a, `${label}: known #${i}`);
    times.known!.push(a.ms);
    for (const [what, body] of Object.entries(others)) {
      const b = await post(s, path, body());
      sameAnswer(answer, b, `${label}: ${what} #${i}`);
      (times[what] ??= []).push(b.ms);
    }
  }
  const medians = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  console.log(
    `${label}: medians over ${rounds} ${Object.entries(medians)
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(", ")}`,
  );
  return { medians, answer };
}

let seq = 0;
export const stranger = () => `nobody${++seq}x${Math.random().toString(36).slice(2, 7)}`;
