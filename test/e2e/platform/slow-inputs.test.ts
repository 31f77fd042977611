// No input holds the event loop: every field of every REST route and tRPC procedure (read from the
// running app, as the fuzz suite does), and the Authorization header, receives long adversarial
// values near the 64 KiB body limit — runs of spaces between two letters (what a regex strip took
// quadratic time over: one such body held /healthz for seconds), dots, labels, Unicode spaces,
// letters that grow when lower-cased. Each answer must be a 4xx, come back in a time of the order
// of the same request's with a short value, and /healthz must answer promptly while three of them
// run at once. Timings are medians of several samples against generous bounds (a loaded 2-core
// machine); a super-linear parse on a 60 kB value takes seconds, far past them.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Fields, restEndpoints, trpcEndpoints } from "../../helpers/fuzz/endpoints.ts";
import { uidToken } from "../../helpers/mail.ts";
import { DATABASES, startTestServer, type TestServer } from "../../helpers/server.ts";

const PW = "Kq7!vLp2#Zx9";
const CHEAP = { ARGON2: JSON.stringify({ MEMORY_COST: 1024, TIME_COST: 1, PARALLELISM: 1 }) };
// Every retype field exists, so it is listed (and timed) too.
const RETYPES = Object.fromEntries(
  [
    "USER_CREATE_PASSWORD_RETYPE",
    "SET_PASSWORD_RETYPE",
    "SET_USERNAME_RETYPE",
    "PASSWORD_RESET_CONFIRM_RETYPE",
    "USERNAME_RESET_CONFIRM_RETYPE",
  ].map((k) => [`DJOSER_${k}`, "true"]),
);
const BODY_CHARS = 60_000; // JSON-encoded, under the 64 KiB body limit

/** Adversarial values of about `n` UTF-8 bytes. */
const PATTERNS: Record<string, (n: number) => string> = {
  "spaces between two letters": (n) => `a${" ".repeat(n - 2)}b`,
  "dots between two letters": (n) => `a${".".repeat(n - 2)}a`,
  "labels a.a.a… ending badly": (n) => `${"a.".repeat(n / 2 - 1)}-!`,
  "an address whose domain never ends": (n) => `x@${"a-".repeat(n / 2 - 2)}.`,
  "ideographic spaces between two letters": (n) => `a${"\u3000".repeat(n / 3 - 1)}b`,
  "İ, which grows when lower-cased": (n) => "İ".repeat(n / 2),
};
const SAMPLES = 3;
// A long value may cost this many times the short one's time, plus this many ms: generous for a
// loaded machine, a fraction of what one quadratic parse of 60 kB takes (seconds).
const RATIO = 20;
const SLACK_MS = 750;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

type Shot = { status: number; ms: number };
async function timed(send: () => Promise<Response>): Promise<Shot> {
  const start = performance.now();
  const res = await send();
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - start };
}

type Encoding = "json" | "form" | "multipart";
type Target = {
  name: string;
  method: string;
  fields: string[];
  send: (s: TestServer, body: Record<string, unknown>, encoding?: Encoding) => Promise<Response>;
};

/** A body in one of the three media types DRF parses (REST); tRPC takes JSON only. */
function encode(body: Record<string, unknown>, encoding: Encoding): { body: BodyInit; type?: string } {
  if (encoding === "json") return { body: JSON.stringify(body), type: "application/json" };
  const entries = Object.entries(body).map(([k, v]) => [k, String(v)] as [string, string]);
  if (encoding === "form")
    return { body: new URLSearchParams(entries).toString(), type: "application/x-www-form-urlencoded" };
  const form = new FormData();
  for (const [k, v] of entries) form.append(k, v);
  return { body: form }; // fetch sets the multipart type and boundary
}

for (const db of DATABASES) {
  describe(`[${db}] long adversarial inputs are refused in linear time`, () => {
    let s: TestServer;
    let key: string;
    let uid: string;
    let id: number;
    let seq = 0;
    const targets: Target[] = [];

    /** Plausible short values for the fields not under test, so that the request reaches deep. */
    function filler(field: string, method: string): unknown {
      const n = seq++;
      // The right one (set_password goes on to the validators), except where it would delete the user.
      if (/password$/.test(field)) return method === "DELETE" ? "Wrong-Passw0rd" : PW;
      if (/username$/.test(field)) return `fill${n}`; // free, so registration goes on to the validators
      if (/email$/.test(field)) return `fill${n}@example.com`;
      if (field === "uid") return uid; // a real user's uid: only the token is wrong
      if (/^(id|userId)$/.test(field)) return id;
      return "x";
    }
    const bodyWith = (t: Target, field: string, value: string) =>
      Object.fromEntries(t.fields.map((f) => [f, f === field ? value : filler(f, t.method)]));

    beforeAll(async () => {
      s = await startTestServer(db, { ...CHEAP, ...RETYPES, DJOSER_SEND_ACTIVATION_EMAIL: "false" });
      const created = await s.request("POST", "/auth/users/", {
        json: { username: "timer", email: "timer@example.com", password: PW, re_password: PW },
      });
      expect(created.status, created.text).toBe(201);
      id = created.json.id;
      key = (await s.request("POST", "/auth/token/login/", { json: { username: "timer", password: PW } })).json
        .auth_token;
      await s.request("POST", "/auth/users/reset_password/", { json: { email: "timer@example.com" } });
      uid = uidToken(s.mails().at(-1)!.links[0]!).uid;
      const auth = { authorization: `Token ${key}` };
      const json = { ...auth, "content-type": "application/json" };
      // Fields an endpoint reads without declaring them.
      const extra: Record<string, string[]> = { "/auth/users/reset_username_confirm/": ["uid", "token"] };
      for (const ep of await restEndpoints(s.url)) {
        const fields = [...Object.keys(ep.fields), ...(extra[ep.name] ?? [])];
        if (!fields.length) continue;
        const path = ep.template.replace("{id}", String(id));
        for (const method of ep.methods.filter((m) => ["POST", "PUT", "PATCH", "DELETE"].includes(m))) {
          const send = (t: TestServer, fields: Record<string, unknown>, encoding: Encoding = "json") => {
            const { body, type } = encode(fields, encoding);
            return fetch(t.url + path, {
              method,
              headers: { ...auth, ...(type ? { "content-type": type } : {}) },
              body,
            });
          };
          targets.push({ name: `REST ${method} ${ep.name}`, method, fields, send });
        }
      }
      for (const ep of trpcEndpoints()) {
        const fields = Object.entries(ep.fields as Fields)
          .filter(([, f]) => f.type === "string" && !f.enum)
          .map(([name]) => name);
        // Queries take no free text but audit.list's dates, timed below.
        if (!fields.length || ep.type !== "mutation") continue;
        targets.push({
          name: `tRPC ${ep.name}`,
          method: ep.name.startsWith("users.delete") ? "DELETE" : "POST",
          fields: Object.keys(ep.fields),
          send: (t, body) =>
            fetch(`${t.url}/trpc/${ep.name}`, { method: "POST", headers: json, body: JSON.stringify(body) }),
        });
      }
    });
    afterAll(async () => s?.stop());

    /** The short and long answers' times, and /healthz's while three long ones run together. */
    async function measure(target: Target, field: string, pattern: (n: number) => string, encoding: Encoding = "json") {
      const short: Shot[] = [];
      const long: Shot[] = [];
      const health: number[] = [];
      const longBody = () => bodyWith(target, field, pattern(BODY_CHARS));
      for (let i = 0; i < SAMPLES; i++)
        short.push(await timed(() => target.send(s, bodyWith(target, field, pattern(8)), encoding)));
      for (let i = 0; i < SAMPLES; i++) {
        const bodies = [longBody(), longBody(), longBody()];
        const started = Promise.all(bodies.map((b) => timed(() => target.send(s, b, encoding))));
        const probe = timed(() => fetch(`${s.url}/healthz`));
        long.push(...(await started));
        health.push((await probe).ms);
      }
      return {
        short: median(short.map((x) => x.ms)),
        long: median(long.map((x) => x.ms)),
        health: median(health),
        statuses: [...new Set(long.map((x) => x.status))],
      };
    }

    /** A measurement's verdict: slower than the short value's bound allows, or not answered with a 4xx. */
    function judge(what: string, m: Awaited<ReturnType<typeof measure>>, slow: string[], not4xx: string[]) {
      const bound = RATIO * m.short + SLACK_MS;
      if (m.long > bound) slow.push(`${what}: ${m.long.toFixed(0)} ms (short value: ${m.short.toFixed(0)} ms)`);
      if (m.health > bound) slow.push(`${what}: /healthz took ${m.health.toFixed(0)} ms meanwhile`);
      if (m.statuses.some((st) => st < 400 || st >= 500)) not4xx.push(`${what}: ${m.statuses.join(", ")}`);
    }

    it("every field of every route and procedure, with every pattern", { timeout: 600_000 }, async () => {
      expect(targets.length).toBeGreaterThan(30);
      const slow: string[] = [];
      const not4xx: string[] = [];
      for (const target of targets) {
        for (const field of target.fields) {
          for (const [name, pattern] of Object.entries(PATTERNS)) {
            judge(`${target.name} ${field}: ${name}`, await measure(target, field, pattern), slow, not4xx);
          }
        }
      }
      expect(slow, "answers slower than their short-input baseline allows").toEqual([]);
      expect(not4xx, "long values must be refused with a 4xx").toEqual([]);
    });

    it("REST bodies as forms too (urlencoded and multipart, which DRF parses as well)", {
      timeout: 600_000,
    }, async () => {
      const slow: string[] = [];
      const not4xx: string[] = [];
      const patterns = {
        "spaces between two letters": PATTERNS["spaces between two letters"]!,
        "dots between two letters": PATTERNS["dots between two letters"]!,
      };
      for (const target of targets.filter((t) => t.name.startsWith("REST"))) {
        for (const field of target.fields) {
          for (const [name, pattern] of Object.entries(patterns)) {
            for (const encoding of ["form", "multipart"] as const) {
              // 1,000 characters short, to leave room for the encoding.
              const m = await measure(target, field, (n) => pattern(n > 1_000 ? n - 1_000 : n), encoding);
              judge(`${target.name} ${field} (${encoding}): ${name}`, m, slow, not4xx);
            }
          }
        }
      }
      expect(slow, "answers slower than their short-input baseline allows").toEqual([]);
      expect(not4xx, "long values must be refused with a 4xx").toEqual([]);
    });

    it("the Authorization header, under every scheme, and audit.list's dates", { timeout: 120_000 }, async () => {
      const slow: string[] = [];
      const HEADER_CHARS = 8_000; // the parser's own limit is 8 KiB; Node's for all headers 16 KiB
      const sends: Record<string, (v: string) => Promise<Response>> = {
        "Authorization: Token <value>": (v) =>
          fetch(`${s.url}/auth/users/me/`, { headers: { authorization: `Token ${v}` } }),
        "Authorization: Bearer <value>": (v) =>
          fetch(`${s.url}/trpc/users.me`, { headers: { authorization: `Bearer ${v}` } }),
        "Authorization: <value>": (v) => fetch(`${s.url}/auth/users/me/`, { headers: { authorization: v } }),
        "audit.list from": (v) =>
          fetch(
            `${s.url}/trpc/audit.list?input=` +
              encodeURIComponent(JSON.stringify({ from: `2020-01-01T00:00:00.${v}` })),
            { headers: { authorization: `Token ${key}` } },
          ),
      };
      for (const [what, send] of Object.entries(sends)) {
        for (const [name, pattern] of Object.entries({ ...PATTERNS, digits: (n: number) => "1".repeat(n) })) {
          const value = (n: number) => pattern(n).replace(/[^\x20-\x7e]/g, "a"); // headers are latin1
          const short = median(
            await Promise.all([1, 2, 3].map(() => timed(() => send(value(8))))).then((r) => r.map((x) => x.ms)),
          );
          const long = await Promise.all(
            [1, 2, 3].map(() => timed(() => send(value(what.startsWith("audit") ? 4_000 : HEADER_CHARS)))),
          );
          const ms = median(long.map((x) => x.ms));
          if (ms > RATIO * short + SLACK_MS)
            slow.push(`${what}, ${name}: ${ms.toFixed(0)} ms (short: ${short.toFixed(0)} ms)`);
          for (const { status } of long) expect(status, `${what}, ${name}`).toBeGreaterThanOrEqual(400);
          for (const { status } of long) expect(status, `${what}, ${name}`).toBeLessThan(500);
        }
      }
      expect(slow).toEqual([]);
    });
  });
}
