// The embedding examples as users run them (`node --import tsx examples/…`, importing "portcullis"
// by the package's own name), driven over real HTTP: Portcullis under the host's prefix over REST
// and tRPC, beside the host's own route and its own 404.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTRPCClient, httpLink } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppRouter } from "../../../src/trpc/router.ts";
import { PW } from "../../helpers/fixture.ts";
import { call, type Instance, startScript } from "../../helpers/instances.ts";
import { CHEAP } from "./transport-setup.ts";

const EXAMPLES = [
  {
    script: "examples/fastify-plugin/server.ts",
    prefix: "/identity",
    own: { method: "POST", path: "/notes", json: { title: "hello" }, answer: { saved: { title: "hello" } } },
    notFound: { message: "Route GET:/nope not found", error: "Not Found", statusCode: 404 },
  },
  {
    script: "examples/fetch-handler/server.ts",
    prefix: "/api",
    own: { method: "GET", path: "/", json: undefined, answer: "The app's own page. Portcullis answers under /api/." },
    notFound: "404 Not Found",
  },
];

it.each(EXAMPLES)("the README shows $script as it runs", ({ script }) => {
  const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
  const code = readFileSync(new URL(`../../../${script}`, import.meta.url), "utf8");
  expect(readme).toContain(`\`${script}\``);
  expect(readme).toContain(`\`\`\`ts\n${code.slice(code.indexOf("\nimport ") + 1)}\`\`\``);
});

describe.each(EXAMPLES)("$script", ({ script, prefix, own, notFound }) => {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-example-"));
  let app: Instance;
  beforeAll(async () => {
    app = await startScript(script, {
      ...CHEAP,
      SECRET_KEY: "example-secret-key-that-is-long-enough-0123",
      DATABASE_URL: "pglite:memory",
      DATA_DIR: dir,
      EMAIL_BACKEND: "file",
      EMAIL_FILE_PATH: join(dir, "mail"),
      LOG_LEVEL: "warn",
    });
  });
  afterAll(async () => {
    const code = await app?.stop();
    rmSync(dir, { recursive: true, force: true });
    expect(code, app?.output()).toBe(0); // SIGTERM: the app and Portcullis closed cleanly
  });

  it("prints its URL once listening, and nothing else goes wrong", () => {
    expect(app.output()).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(app.output()).not.toMatch(/"level":(50|60)/);
  });

  it("registers, logs in and reads the user over REST and tRPC, under the prefix", async () => {
    const created = await call(app.url, "POST", `${prefix}/auth/users/`, { json: { username: "dana", password: PW } });
    expect(created.status, created.text).toBe(201);
    const login = await call(app.url, "POST", `${prefix}/auth/token/login/`, {
      json: { username: "dana", password: PW },
    });
    expect(login.status, login.text).toBe(200);
    const auth = { authorization: `Token ${login.json.auth_token}` };
    const me = await call(app.url, "GET", `${prefix}/auth/users/me/`, { headers: auth });
    expect({ status: me.status, json: me.json }).toEqual({
      status: 200,
      json: { email: "", id: created.json.id, username: "dana" },
    });
    const trpc = createTRPCClient<AppRouter>({ links: [httpLink({ url: `${app.url}${prefix}/trpc`, headers: auth })] });
    expect(await trpc.users.me.query()).toMatchObject({ id: created.json.id, username: "dana" });
    const health = await call(app.url, "GET", `${prefix}/healthz`);
    expect(health.json).toEqual({ status: "ok", database: "pglite" });
  });

  it("the host's own route answers as the host wrote it; a path outside both is the host's 404", async () => {
    const mine = await call(app.url, own.method, own.path, { json: own.json });
    expect(mine.status).toBe(200);
    expect(mine.json ?? mine.text).toEqual(own.answer);
    expect(mine.headers["x-frame-options"]).toBeUndefined(); // Portcullis's headers stay on its own routes
    const missing = await call(app.url, "GET", "/nope");
    expect({ status: missing.status, body: missing.json ?? missing.text }).toEqual({ status: 404, body: notFound });
    const inside = await call(app.url, "GET", `${prefix}/nope`);
    expect({ status: inside.status, json: inside.json }).toEqual({
      status: 404,
      json: { detail: "Not found.", code: "not_found" },
    });
  });
});
