// Portcullis as a fetch handler: Requests answered by the standalone server's own routes under
// basePath, without a socket: the body bounded as the server bounds it, every Set-Cookie kept,
// the platform's client address and scheme passed on, the database closed by close().
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSettings } from "../../../src/config/load.ts";
import { createDeps } from "../../../src/core/container.ts";
import { createFetchHandler, type FetchHandler } from "../../../src/embed/fetch.ts";
import { handled, handledTrpc } from "../../helpers/embed.ts";
import { PW, tokenAuth } from "../../helpers/fixture.ts";
import { DATABASES, freshPostgres } from "../../helpers/server.ts";
import { CHEAP } from "./transport-setup.ts";

const API = "http://app.test/api";
const ENV = { ...CHEAP, SECRET_KEY: "k".repeat(40), LOG_LEVEL: "silent", DEFAULT_THROTTLE_RATES: "{}" };
const sized = (n: number) => JSON.stringify({ username: "u".repeat(n - 32), password: "x" }).padEnd(n);

describe.each(DATABASES)("fetch handler on %s", (kind) => {
  let handler: FetchHandler;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const pg = kind === "postgresql" ? await freshPostgres() : null;
    drop = pg?.drop;
    handler = await createFetchHandler({ basePath: "/api", env: { ...ENV, DATABASE_URL: pg?.url ?? "pglite:memory" } });
  });
  afterAll(async () => {
    await handler?.close();
    await drop?.();
  });

  it("registers, logs in and reads the user over REST and tRPC, under basePath", async () => {
    const created = await handled(handler, "POST", `${API}/auth/users/`, { json: { username: "bob", password: PW } });
    expect(created.status, created.text).toBe(201);
    const login = await handled(handler, "POST", `${API}/auth/token/login/`, {
      json: { username: "bob", password: PW },
    });
    expect(login.status, login.text).toBe(200);
    const me = await handled(handler, "GET", `${API}/auth/users/me/`, { headers: tokenAuth(login.json.auth_token) });
    expect(me.json).toEqual({ email: "", id: created.json.id, username: "bob" });
    const trpc = handledTrpc(handler, `${API}/trpc`, tokenAuth(login.json.auth_token));
    expect(await trpc.users.me.query()).toMatchObject({ id: created.json.id, username: "bob" });
  });
});

describe("fetch handler: the edges", () => {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-fetch-"));
  let handler: FetchHandler;
  beforeAll(async () => {
    const env = { ...ENV, DATABASE_URL: `pglite:${join(dir, "db")}`, SECURE_HSTS_SECONDS: "600" };
    handler = await createFetchHandler({ basePath: "/api/", env });
    await handled(handler, "POST", `${API}/auth/users/`, { json: { username: "carol", password: PW } });
  });
  afterAll(async () => {
    await handler?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("one byte past 64 KiB: the server's 413, in the shape of the route's adapter", async () => {
    const at64 = await handled(handler, "POST", `${API}/auth/token/login/`, { json: JSON.parse(sized(65_536)) });
    expect(at64.status, at64.text).toBe(400);
    const rest = await handled(handler, "POST", `${API}/auth/token/login/`, {
      body: sized(65_537),
      headers: { "content-type": "application/json" },
    });
    expect({ status: rest.status, json: rest.json }).toEqual({
      status: 413,
      json: { detail: "Request body is too large." },
    });
    expect(rest.headers.get("x-frame-options")).toBe("DENY");
    const trpc = await handled(handler, "POST", `${API}/trpc/token.login`, {
      body: sized(65_537),
      headers: { "content-type": "application/json" },
    });
    expect(trpc.status).toBe(413);
    expect(trpc.json.error.data).toMatchObject({ code: "payload_too_large", httpStatus: 413, path: "token.login" });
  });

  it("a longer body is read no further than the limit (then cancelled), nor at all if its length says so", async () => {
    const chunk = new Uint8Array(16 * 1024).fill(0x20);
    const long = () => {
      const seen = { pulled: 0, cancelled: false };
      const body = new ReadableStream<Uint8Array>({
        pull: (c) => {
          seen.pulled += chunk.byteLength;
          c.enqueue(chunk);
          if (seen.pulled >= 4 * 1024 * 1024) c.close(); // 4 MiB in all
        },
        cancel: () => {
          seen.cancelled = true;
        },
      });
      return { body, seen };
    };
    const streamed = long();
    const res = await handled(handler, "POST", `${API}/auth/users/`, {
      body: streamed.body,
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(413);
    expect(streamed.seen.cancelled).toBe(true);
    expect(streamed.seen.pulled).toBeLessThanOrEqual(65_536 + 3 * chunk.byteLength); // a chunk or two read ahead
    const declared = long();
    const refused = await handled(handler, "POST", `${API}/auth/users/`, {
      body: declared.body,
      headers: { "content-type": "application/json", "content-length": String(10 * 1024 * 1024) },
    });
    expect(refused.json).toEqual({ detail: "Request body is too large." });
    expect(declared.seen.pulled).toBeLessThanOrEqual(chunk.byteLength); // only what the stream queued itself
  });

  it("an https URL is a request over TLS (HSTS, a Secure cookie); a client's own marker header is not", async () => {
    const login = (url: string, headers: Record<string, string> = {}) =>
      handled(handler, "POST", `${url}/auth/token/login/`, { json: { username: "carol", password: PW }, headers });
    const tls = await login("https://app.test/api");
    expect(tls.headers.get("strict-transport-security")).toBe("max-age=600");
    expect(tls.headers.getSetCookie()).toEqual([expect.stringMatching(/^portcullis_device=.*; Secure$/)]);
    for (const plain of [await login(API), await login(API, { "x-portcullis-fetch-https": "1" })]) {
      expect(plain.status).toBe(200);
      expect(plain.headers.get("strict-transport-security")).toBeNull();
      expect(plain.headers.getSetCookie()).toEqual([expect.not.stringContaining("Secure")]);
    }
  });

  it("bodies as the platform needs them: none for HEAD or a 204; a path outside basePath is a 404", async () => {
    const head = await handled(handler, "HEAD", `${API}/auth/`);
    expect({ status: head.status, text: head.text }).toEqual({ status: 200, text: "" });
    const key = (
      await handled(handler, "POST", `${API}/auth/token/login/`, { json: { username: "carol", password: PW } })
    ).json.auth_token;
    const out = await handled(handler, "POST", `${API}/auth/token/logout/`, { headers: tokenAuth(key) });
    expect({ status: out.status, text: out.text }).toEqual({ status: 204, text: "" });
    const outside = await handled(handler, "GET", "http://app.test/elsewhere/auth/users/");
    expect({ status: outside.status, json: outside.json }).toEqual({
      status: 404,
      json: { detail: "Not found.", code: "not_found" },
    });
    const root = await handled(handler, "GET", `${API}/auth/`);
    expect(root.json).toEqual({ users: "http://app.test/api/auth/users/" });
  });

  it("close() releases the database (the PGlite folder's lock), once however often it is called", async () => {
    const folder = join(dir, "closing");
    const own = await createFetchHandler({ env: { ...ENV, DATABASE_URL: `pglite:${folder}` } });
    expect((await handled(own, "GET", "http://app.test/healthz")).json).toMatchObject({ status: "ok" });
    expect(existsSync(join(folder, "portcullis.lock"))).toBe(true);
    await Promise.all([own.close(), own.close()]);
    expect(existsSync(join(folder, "portcullis.lock"))).toBe(false);
  });

  it("refuses a basePath without its leading slash, and a clientIp that is no address", async () => {
    await expect(createFetchHandler({ basePath: "api", env: ENV })).rejects.toThrow(/basePath must start with "\/"/);
    await expect(handler.handle(new Request(`${API}/healthz`), { clientIp: "x".repeat(60) })).rejects.toThrow(
      /clientIp is not an IP address/,
    );
  });
});

describe("fetch handler: the client's address (anon 2/min)", () => {
  let handler: FetchHandler;
  const logged: string[] = [];
  beforeAll(async () => {
    const { settings } = loadSettings({
      ...ENV,
      DATABASE_URL: "pglite:memory",
      DEFAULT_THROTTLE_RATES: '{"anon":"2/min"}',
    });
    const sink = new Writable({ write: (line, _enc, done) => done(void logged.push(String(line))) });
    const given = await createDeps(settings, pino({ level: "warn" }, sink));
    handler = await createFetchHandler({ ...given, basePath: "/api" });
  });
  afterAll(async () => handler?.close());

  const ask = (clientIp?: string) =>
    handler.handle(new Request(`${API}/auth/token/login/`, { method: "OPTIONS" }), { clientIp }).then((r) => r.status);

  it("clientIp: each address is counted apart", async () => {
    expect([await ask("192.0.2.1"), await ask("192.0.2.1"), await ask("192.0.2.1")]).toEqual([200, 200, 429]);
    expect(await ask("2001:db8::1")).toBe(200);
    expect(logged.filter((l) => l.includes("without clientIp"))).toEqual([]);
  });

  it("without it every request is one client, and the log says so once", async () => {
    expect([await ask(), await ask(), await ask(), await ask()]).toEqual([200, 200, 429, 429]);
    const warnings = logged.filter((l) => l.includes("without clientIp"));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({
      level: 40,
      msg: expect.stringContaining("handle(request, { clientIp })"),
    });
  });
});
