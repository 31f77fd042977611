// The lean tRPC path (TRPC_FAST_PATH, src/trpc/fast.ts) answers as the stock adapter does: the same
// raw requests sent to a server with it and to one without, answer for answer (status, headers, body).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PW } from "../../helpers/fixture.ts";
import { DATABASES, startTestServer, type TestServer } from "../../helpers/server.ts";

type Req = { method: string; path: string; body?: string; headers?: Record<string, string> };
// Framing and the clock differ by design (the lean path sends a length, the stock one chunks).
const FRAMING = new Set(["date", "content-length", "transfer-encoding", "connection", "keep-alive"]);

async function send(s: TestServer, r: Req) {
  const res = await fetch(s.url + r.path, { method: r.method, headers: r.headers, body: r.body });
  const headers = [...res.headers].filter(([k]) => !FRAMING.has(k)).sort(([a], [b]) => (a < b ? -1 : 1));
  return { status: res.status, headers, body: await res.text() };
}

/** Who answered: the lean path sends a Content-Length, the stock adapter streams its Response (chunked). */
async function framing(s: TestServer, r: Req) {
  const res = await fetch(s.url + r.path, { method: r.method, headers: r.headers, body: r.body });
  await res.arrayBuffer();
  return res.headers.get("transfer-encoding") === "chunked" ? "stock" : "lean";
}

/** Login tokens, device cookies and retry delays differ between two servers: masked. */
const masked = (a: Awaited<ReturnType<typeof send>>) =>
  JSON.parse(
    JSON.stringify(a)
      .replace(/"auth_token\\":\\"[0-9a-f]+/g, '"auth_token\\":\\"KEY')
      .replace(/(portcullis_device=)[^;"]+/g, "$1COOKIE")
      .replace(/\d+ seconds?/g, "N seconds")
      .replace(/(retryAfter\\":)\d+/g, "$1N")
      .replace(/("retry-after",")\d+/g, "$1N"),
  );

const JSON_TYPE = { "content-type": "application/json" };
const q = (input: unknown) => `input=${encodeURIComponent(JSON.stringify(input))}`;

describe.each(DATABASES)("the lean tRPC path answers as the stock adapter (%s)", (kind) => {
  // Anonymous callers throttled by address: each case comes from its own (X-Forwarded-For).
  const env = { NUM_PROXIES: "1", DEFAULT_THROTTLE_RATES: JSON.stringify({ anon: "3/min" }) };
  let lean: TestServer;
  let stock: TestServer;
  const keys = new Map<TestServer, string>();
  beforeAll(async () => {
    [lean, stock] = await Promise.all([
      startTestServer(kind, { ...env, TRPC_FAST_PATH: "true" }),
      startTestServer(kind, { ...env, TRPC_FAST_PATH: "false" }),
    ]);
    for (const s of [lean, stock]) {
      const user = { username: "alice", password: PW };
      const headers = { "x-forwarded-for": "10.0.0.1" };
      await s.request("POST", "/auth/users/", { json: { ...user, email: "alice@example.com" }, headers });
      keys.set(s, (await s.request("POST", "/auth/token/login/", { json: user, headers })).json.auth_token);
    }
  });
  afterAll(async () => Promise.all([lean?.stop(), stock?.stop()]));

  const auth = (s: TestServer) => ({ authorization: `Token ${keys.get(s)}` });
  const cases: [string, (s: TestServer) => Req][] = [
    ["a query", (s) => ({ method: "GET", path: "/trpc/users.me", headers: auth(s) })],
    [
      "a mutation",
      (s) => ({ method: "POST", path: "/trpc/users.updateMe", headers: { ...auth(s), ...JSON_TYPE }, body: "{}" }),
    ],
    [
      "a login (device cookie)",
      () => ({
        method: "POST",
        path: "/trpc/token.login",
        headers: JSON_TYPE,
        body: JSON.stringify({ username: "alice", password: PW }),
      }),
    ],
    ["a mutation over GET (405)", (s) => ({ method: "GET", path: "/trpc/users.updateMe", headers: auth(s) })],
    [
      "a batch of a result and an error (207)",
      (s) => ({
        method: "GET",
        path: `/trpc/users.me,users.get?batch=1&${q({ 1: { id: 999_999 } })}`,
        headers: auth(s),
      }),
    ],
    [
      "a batch of a query and a mutation over POST",
      (s) => ({ method: "POST", path: "/trpc/users.me,users.updateMe?batch=1", headers: { ...auth(s), ...JSON_TYPE } }),
    ],
    ["an unknown procedure", (s) => ({ method: "GET", path: "/trpc/users.nothing", headers: auth(s) })],
    ["input that is not JSON", () => ({ method: "POST", path: "/trpc/token.login", headers: JSON_TYPE, body: "{no" })],
    [
      "input that fails validation",
      () => ({ method: "POST", path: "/trpc/token.login", headers: JSON_TYPE, body: "[]" }),
    ],
    [
      "a batch over TRPC_MAX_BATCH_SIZE",
      (s) => ({ method: "GET", path: `/trpc/${Array(11).fill("users.me").join(",")}?batch=1`, headers: auth(s) }),
    ],
    ["an unauthenticated call", () => ({ method: "GET", path: "/trpc/users.me" })],
    ["a stale credential", () => ({ method: "GET", path: "/trpc/users.me", headers: { authorization: "Token 0" } })],
    ["a HEAD", (s) => ({ method: "HEAD", path: "/trpc/users.me", headers: auth(s) })],
    [
      "a streaming batch",
      (s) => ({
        method: "GET",
        path: "/trpc/users.me?batch=1",
        headers: { ...auth(s), "trpc-accept": "application/jsonl" },
      }),
    ],
  ];
  // The requests the lean path answers itself; it leaves the others to the stock adapter.
  const LEAN = new Set([
    "a query",
    "a mutation",
    "a login (device cookie)",
    "a batch of a result and an error (207)",
    "input that fails validation",
    "an unauthenticated call",
    "a stale credential",
  ]);
  for (const [index, [name, sent]] of cases.entries()) {
    const request = (s: TestServer): Req => {
      const r = sent(s);
      return { ...r, headers: { ...r.headers, "x-forwarded-for": `10.0.1.${index}` } };
    };
    it(name, async () => {
      const [a, b] = [await send(lean, request(lean)), await send(stock, request(stock))];
      expect(masked(a)).toEqual(masked(b));
      if (request(lean).method === "HEAD") return; // a 204 without a body either way
      expect(await framing(lean, request(lean))).toBe(LEAN.has(name) ? "lean" : "stock");
      expect(await framing(stock, request(stock))).toBe("stock");
    });
  }

  it("a throttled call (429, Retry-After)", async () => {
    const call = (s: TestServer) =>
      send(s, {
        method: "POST",
        path: "/trpc/token.login",
        headers: { ...JSON_TYPE, "x-forwarded-for": "10.0.2.1" },
        body: "[]",
      });
    for (let i = 0; i < 3; i++) expect([(await call(lean)).status, (await call(stock)).status]).toEqual([400, 400]);
    const [a, b] = [await call(lean), await call(stock)];
    expect(a.status).toBe(429);
    expect(a.headers.some(([k]) => k === "retry-after")).toBe(true);
    expect(masked(a)).toEqual(masked(b));
  });
});
