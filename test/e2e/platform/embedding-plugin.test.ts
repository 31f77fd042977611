// Portcullis registered in a host's own Fastify app under /identity: there, the answers of the
// standalone server (bodies, statuses, headers, envelopes, refusals), whatever the host's body
// limit, path length or parsers; beside it, the host's routes as the host made them.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import formbody from "@fastify/formbody";
import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { portcullis } from "../../../src/app.ts";
import { loadSettings } from "../../../src/config/load.ts";
import { createDeps } from "../../../src/core/container.ts";
import { hostedUnder, origin } from "../../helpers/embed.ts";
import { tokenAuth, useServer } from "../../helpers/fixture.ts";
import { readResponse } from "../../helpers/net.ts";
import { DATABASES, startTestServer, type TestServer } from "../../helpers/server.ts";
import { CHEAP, J, withHost } from "./transport-setup.ts";

const PREFIX = "/identity";
const APP = "https://app.example.com";
const ENV = { ...CHEAP, ALLOWED_HOSTS: '["127.0.0.1"]', CORS_ALLOWED_ORIGINS: JSON.stringify([APP]) };
const big = (n: number) => JSON.stringify({ username: "u".repeat(n - 32), password: "x" }).padEnd(n);

describe.each(DATABASES)("under a prefix in a host app, on %s", (kind) => {
  const s = useServer(kind, CHEAP, hostedUnder(PREFIX));

  it("registers, logs in and reads the user over REST and tRPC, under the prefix", async () => {
    const id = await s.signUp("alice", "alice@example.com");
    const key = await s.tokenLogin("alice");
    const me = await s.me(tokenAuth(key));
    expect({ status: me.status, json: me.json }).toEqual({
      status: 200,
      json: { email: "alice@example.com", id, username: "alice" },
    });
    expect(await s.trpc(tokenAuth(key)).users.me.query()).toMatchObject({ id, username: "alice" });
    expect((await s.request("GET", "/healthz")).json).toMatchObject({ status: "ok" });
  });
});

type Sees = { status: number; json?: unknown; headers?: Record<string, string | null> };
type Probe = { method: string; path: string; headers?: Record<string, string>; body?: string; host?: string };
const FORM = { "content-type": "application/x-www-form-urlencoded" };
const envelope = (code: string, path: string, message?: string) => ({
  error: { ...(message && { message }), data: expect.objectContaining({ code, path }) },
});
// Each says what a fix keeps under a prefix (in `sees`, what the embedded server must answer): the
// API root's URL, the redirect's Location, the 404s of both kinds, no-store on API answers, CORS,
// tRPC's path in its refusals and its batch paths, the body limit and parsers of Portcullis's own.
const PROBES: (Probe & { sees?: Sees })[] = [
  { method: "GET", path: "/auth/", sees: { status: 200, json: { users: "URL/auth/users/" } } },
  { method: "HEAD", path: "/auth/" },
  { method: "OPTIONS", path: "/auth/users/" },
  { method: "GET", path: "/auth/users/me", sees: { status: 301, headers: { location: "/auth/users/me/" } } },
  { method: "GET", path: "/auth/nope/", sees: { status: 404, headers: { "content-type": "text/html" } } },
  // CORS's catch-all OPTIONS route hands a plain OPTIONS to the not-found handler.
  { method: "OPTIONS", path: "/auth/nope/", sees: { status: 404, headers: { "content-type": "text/html" } } },
  {
    method: "OPTIONS",
    path: "/auth/users/",
    headers: { origin: APP, "access-control-request-method": "POST" },
    sees: { status: 204, headers: { "access-control-allow-origin": APP } },
  },
  { method: "GET", path: "/auth/users/me/", headers: { origin: APP } },
  { method: "GET", path: "/nope", sees: { status: 404, json: { detail: "Not found.", code: "not_found" } } },
  { method: "GET", path: "/healthz" },
  { method: "GET", path: "/.well-known/jwks.json" },
  { method: "GET", path: "/trpc/users.me", sees: { status: 401, headers: { "cache-control": "no-store" } } },
  {
    method: "PUT",
    path: "/trpc/users.me",
    headers: J,
    body: "{}",
    sees: { status: 405, json: envelope("method_not_allowed", "users.me") },
  },
  {
    method: "GET",
    path: "/trpc/users.me/more",
    sees: { status: 404, json: envelope("not_found", "users.me/more", "Not found.") },
  },
  { method: "POST", path: "/trpc/users.create", body: "{}" },
  { method: "GET", path: "/trpc/users.create" },
  {
    method: "GET",
    path: `/trpc/${Array(10).fill("sessions.list").join(",")}?batch=1`, // longer than the host's maxParamLength
    sees: { status: 401, json: Array(10).fill({ error: expect.objectContaining({ code: -32001 }) }) },
  },
  {
    method: "POST",
    path: "/trpc/token.login",
    headers: FORM, // the host's formbody parser is not Portcullis's
    body: "username=a&password=b",
    sees: { status: 415, json: envelope("unsupported_media_type", "token.login") },
  },
  { method: "POST", path: "/auth/token/login/", headers: FORM, body: "username=a&password=b" },
  // Over the host's 1 KiB and under Portcullis's 64 KiB: read, and answered by the view.
  { method: "POST", path: "/auth/token/login/", headers: J, body: big(2048), sees: { status: 400 } },
  {
    method: "POST",
    path: "/auth/token/login/",
    headers: J,
    body: big(65_537),
    sees: { status: 413, json: { detail: "Request body is too large." } },
  },
  {
    method: "POST",
    path: "/trpc/token.login",
    headers: J,
    body: big(65_537),
    sees: { status: 413, json: envelope("payload_too_large", "token.login") },
  },
  { method: "POST", path: "/nope", headers: J, body: "{bad" },
  {
    method: "GET",
    path: "/trpc/users.me",
    host: "evil.example",
    sees: { status: 400, json: envelope("disallowed_host", "users.me") },
  },
  {
    method: "GET",
    path: "/auth/users/",
    host: "evil.example",
    sees: { status: 400, json: expect.objectContaining({ code: "disallowed_host" }) },
  },
];
const COMPARED = ["content-type", "cache-control", "x-frame-options", "x-content-type-options", "referrer-policy"];
const ALSO = ["vary", "www-authenticate", "allow", "location", "retry-after", "access-control-allow-origin"];

describe("the same answers as the standalone server", () => {
  let solo: TestServer;
  let hosted: TestServer; // the host's own limit is 1 KiB, its router's maxParamLength 100, it parses forms
  beforeAll(async () => {
    [solo, hosted] = await Promise.all([
      startTestServer("pglite", ENV),
      startTestServer(
        "pglite",
        ENV,
        hostedUnder(PREFIX, { bodyLimit: 1024 }, (app) => app.register(formbody)),
      ),
    ]);
  });
  afterAll(async () => Promise.all([solo?.stop(), hosted?.stop()]));

  async function answer(s: TestServer, p: Probe, prefix: string) {
    const init = { method: p.method, headers: p.headers, body: p.body, redirect: "manual" } as const;
    const got = p.host
      ? await withHost(origin(s), p.host, prefix + p.path)
      : await readResponse(await fetch(s.url + p.path, init));
    const text = ("text" in got ? got.text : got.body).replaceAll(s.url, "URL");
    const at = (name: string) => got.headers.get(name) ?? null;
    const headers = Object.fromEntries([...COMPARED, ...ALSO].map((h) => [h, at(h)]));
    headers.location = headers.location?.replace(prefix, "") ?? null;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {}
    return { status: got.status, headers, text, json };
  }

  it.each(PROBES.map((p) => ({ ...p, via: p.host ? `(Host: ${p.host})` : "" })))("$method $path $via", async (p) => {
    const [standalone, embedded] = [await answer(solo, p, ""), await answer(hosted, p, PREFIX)];
    expect(embedded).toEqual(standalone);
    expect(standalone.status, standalone.text).not.toBe(500);
    if (p.sees) expect(embedded).toMatchObject(p.sees);
  });

  it("the host's routes stay its own: parsers, limit, 404, errors; no Portcullis header, no Host check", async () => {
    const at = origin(hosted);
    const json = await readResponse(await fetch(`${at}/notes`, { method: "POST", headers: J, body: '{"a":1}' }));
    expect({ status: json.status, json: json.json }).toEqual({ status: 200, json: { saved: { a: 1 } } });
    for (const h of ["x-frame-options", "cache-control", "vary"]) expect(json.headers.get(h), h).toBeNull();
    const form = { "content-type": "application/x-www-form-urlencoded" };
    const parsed = await readResponse(await fetch(`${at}/notes`, { method: "POST", headers: form, body: "a=1" }));
    expect(parsed.json).toEqual({ saved: { a: "1" } });
    const tooBig = await readResponse(await fetch(`${at}/notes`, { method: "POST", headers: J, body: big(2048) }));
    expect({ status: tooBig.status, code: tooBig.json.code }).toEqual({
      status: 413,
      code: "FST_ERR_CTP_BODY_TOO_LARGE",
    });
    const missing = await readResponse(await fetch(`${at}/nope`));
    expect({ status: missing.status, json: missing.json }).toEqual({
      status: 404,
      json: { message: "Route GET:/nope not found", error: "Not Found", statusCode: 404 },
    });
    const boom = await readResponse(await fetch(`${at}/boom`));
    expect(boom.json).toEqual({ statusCode: 500, error: "Internal Server Error", message: "the host's own failure" });
    expect((await withHost(at, "evil.example", "/notes", J, "POST", "{}")).status).toBe(200);
    expect((await withHost(at, "evil.example", `${PREFIX}/healthz`)).status).toBe(400);
  });

  it("a host whose own limit is larger: Portcullis still refuses one byte past 64 KiB", async () => {
    const roomy = await startTestServer("pglite", CHEAP, hostedUnder(PREFIX, { bodyLimit: 1024 * 1024 }));
    try {
      const post = (url: string, body: string) => fetch(url, { method: "POST", headers: J, body }).then(readResponse);
      expect((await post(`${roomy.url}/auth/token/login/`, big(65_537))).json).toEqual({
        detail: "Request body is too large.",
      });
      expect((await post(`${origin(roomy)}/notes`, big(200_000))).status).toBe(200);
    } finally {
      await roomy.stop();
    }
  });
});

describe("what the plugin opens, it closes with the app", () => {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-embed-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const env = { ...CHEAP, SECRET_KEY: "k".repeat(40), DATA_DIR: dir, LOG_LEVEL: "silent" };

  it("from settings: its PGlite folder is released when the host app closes", async () => {
    const db = join(dir, "db");
    const app = Fastify();
    await app.register(portcullis, {
      prefix: PREFIX,
      env,
      settings: { DATABASE_URL: `pglite:${db}` },
    });
    expect((await app.inject({ url: `${PREFIX}/healthz` })).json()).toMatchObject({ status: "ok" });
    expect(existsSync(join(db, "portcullis.lock"))).toBe(true);
    await app.close();
    expect(existsSync(join(db, "portcullis.lock"))).toBe(false);
  });

  it("given deps without close: they stay the caller's, open after the app closed", async () => {
    const given = await createDeps(loadSettings({ ...env, DATABASE_URL: "pglite:memory" }).settings);
    const app = Fastify();
    await app.register(portcullis, { prefix: PREFIX, deps: given.deps, db: given.db });
    await app.ready();
    await app.close();
    expect(await given.db.pending()).toEqual([]);
    await given.close();
  });

  it("settings that do not load: the registration fails with what is wrong, nothing left open", async () => {
    const app = Fastify();
    const failing = app.register(portcullis, {
      env,
      settings: { NUM_PROXIES: 1, TRUSTED_PROXIES: ["10.0.0.1"] },
    });
    await expect(failing).rejects.toThrow(/NUM_PROXIES and TRUSTED_PROXIES: set one of them/);
  });
});
