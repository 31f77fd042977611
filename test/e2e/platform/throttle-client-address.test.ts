// Throttling end to end: whose X-Forwarded-For is believed as the client address a count is kept
// for, as NUM_PROXIES and the proxy settings say.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../helpers/server.ts";
import { from, rest } from "./throttle-setup.ts";

// Whose X-Forwarded-For sets the client address: anon 2/min, so the third request of one client is a 429.
const PROXY_CASES: { name: string; env: Record<string, string>; sends: [string, 200 | 429][] }[] = [
  {
    name: "no proxy setting: X-Forwarded-For is ignored (anyone can send one)",
    env: {},
    sends: [
      ["192.0.2.1", 200],
      ["192.0.2.2", 200],
      ["192.0.2.3", 429],
    ],
  },
  {
    name: "NUM_PROXIES=1: the last address is the client's; what the client put before it is ignored",
    env: { NUM_PROXIES: "1" },
    sends: [
      ["192.0.2.1", 200],
      ["192.0.2.2", 200],
      ["6.6.6.6, 192.0.2.1", 200],
      ["7.7.7.7, 192.0.2.1", 429],
      ["192.0.2.2", 200],
      ["192.0.2.3", 200],
    ],
  },
  {
    name: "TRUSTED_PROXIES naming the peer and 10/8: the first untrusted address from the right",
    env: { TRUSTED_PROXIES: '["127.0.0.1","10.0.0.0/8"]' },
    sends: [
      ["192.0.2.1", 200],
      ["192.0.2.1, 10.1.2.3", 200],
      ["8.8.8.8, 192.0.2.1, 10.9.9.9", 429],
      ["192.0.2.1, 198.51.100.5", 200],
      ["192.0.2.2", 200],
    ],
  },
  {
    name: "TRUSTED_PROXIES not naming the peer: X-Forwarded-For is ignored",
    env: { TRUSTED_PROXIES: '["10.0.0.0/8"]' },
    sends: [
      ["192.0.2.1", 200],
      ["192.0.2.2", 200],
      ["192.0.2.3", 429],
    ],
  },
];

describe("client address (anon 2/min)", () => {
  const servers: TestServer[] = [];
  beforeAll(async () => {
    servers.push(
      ...(await Promise.all(
        PROXY_CASES.map(({ env }) =>
          startTestServer("postgresql", { ...env, DEFAULT_THROTTLE_RATES: '{"anon":"2/min"}' }),
        ),
      )),
    );
  });
  afterAll(async () => Promise.all(servers.map((s) => s.stop())));
  it.each(PROXY_CASES.map((c, i) => ({ ...c, i })))("$name", async ({ sends, i }) => {
    const got: number[] = [];
    for (const [xff] of sends)
      got.push((await rest(servers[i]!.url, "OPTIONS", "/auth/token/login/", from(xff))).status);
    expect(got).toEqual(sends.map(([, status]) => status));
  });
});
