// The typed-client package as a new user meets it: `npm pack` in client/, a fresh project in a
// temporary folder (npm init, type module, tsc --init with the registry's current TypeScript), the
// tarball installed beside @trpc/client and @trpc/server. A correct consumer type-checks and a wrong
// input does not, with the current TypeScript and the newest 5.x; nothing of the server's runtime is
// installed; and the consumer, compiled, signs up, logs in and reads users.me on a real server.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PW, useServer } from "../../helpers/fixture.ts";

const CLIENT = fileURLToPath(new URL("../../../client/", import.meta.url));
const SLOW = { timeout: 300_000 };
const SERVER_RUNTIME = /prisma|pglite|argon2|fastify|jsonwebtoken|ioredis|pino|nodemailer|^pg$|^zod$/;

type Run = { code: number; stdout: string; stderr: string };

/** A command in `cwd`, its exit code and output (never throws on a non-zero exit). */
async function run(cwd: string, cmd: string, args: string[]): Promise<Run> {
  // No npm_* variable of the test runner's own npm (a prefix, a lockfile-only flag…) reaches it.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith("npm_")));
  try {
    const { stdout, stderr } = await promisify(execFile)(cmd, args, { cwd, env, timeout: 240_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === "number" ? err.code : -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

async function ok(cwd: string, cmd: string, args: string[]): Promise<string> {
  const r = await run(cwd, cmd, args);
  expect(r.code, `${cmd} ${args.join(" ")}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Every package in a node_modules folder, scoped ones as "@scope/name". */
function installed(modules: string): string[] {
  return readdirSync(modules)
    .filter((n) => !n.startsWith("."))
    .flatMap((n) => (n.startsWith("@") ? readdirSync(join(modules, n)).map((m) => `${n}/${m}`) : [n]));
}

/** A consumer that uses the client as its README says: plain @trpc/client, then the helper. */
const goodConsumer = (url: string) => `
import { createTRPCClient, httpLink } from "@trpc/client";
import type { AppRouter, PublicUser, SessionView } from "@portcullis/client";
import { createPortcullisClient, errorCode, type PortcullisErrorCode } from "@portcullis/client";

const url = ${JSON.stringify(url)};
const plain = createTRPCClient<AppRouter>({ links: [httpLink({ url })] });
const user: PublicUser = await plain.users.create.mutate({
  username: "ada",
  email: "ada@example.com",
  password: ${JSON.stringify(PW)},
});
const { auth_token } = await plain.token.login.mutate({ username: "ada", password: ${JSON.stringify(PW)} });
const client = createPortcullisClient({ url, getToken: () => auth_token });
const me: PublicUser = await client.users.me.query();
const sessions: SessionView[] = await client.sessions.list.query();
const anonymous: PortcullisErrorCode | string | null = await plain.users.me.query().then(
  () => null,
  (e: unknown) => errorCode(e),
);
console.log(JSON.stringify({ user, me, current: sessions.filter((v) => v.current).length, anonymous }));

const named: PortcullisErrorCode = "not_authenticated";
// @ts-expect-error: not one of Portcullis's codes
const unnamed: PortcullisErrorCode = "no_such_code";
void [named, unnamed];
`;

/** A consumer passing a number where the login procedure takes a string. */
const badConsumer = `
import { createTRPCClient, httpLink } from "@trpc/client";
import type { AppRouter } from "@portcullis/client";

const client = createTRPCClient<AppRouter>({ links: [httpLink({ url: "http://127.0.0.1:1/trpc" })] });
await client.token.login.mutate({ username: 42, password: "secret" });
`;

describe("the @portcullis/client package (pglite)", () => {
  const s = useServer("pglite");
  const tmp = mkdtempSync(join(tmpdir(), "portcullis-client-"));
  const app = join(tmp, "consumer");
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  // One consumer project for every check: packing and installing take the network's time.
  beforeAll(async () => {
    const packed = await ok(CLIENT, "npm", ["pack", "--pack-destination", tmp]);
    const tarball = join(tmp, packed.trim().split("\n").at(-1)!);
    mkdirSync(app);
    await ok(app, "npm", ["init", "-y"]);
    await ok(app, "npm", ["pkg", "set", "type=module"]);
    const install = ["install", "--prefer-offline", "--no-audit", "--no-fund"];
    await ok(app, "npm", [...install, tarball, "@trpc/client@^11", "@trpc/server@^11", "typescript"]);
    await ok(app, "npx", ["tsc", "--init"]);
    // The newest TypeScript 5, beside the current one, under a name of its own.
    await ok(app, "npm", [...install, "-D", "typescript5@npm:typescript@5"]);
    writeFileSync(join(app, "good.ts"), goodConsumer(`${s.url}/trpc`));
    writeFileSync(join(app, "bad.ts"), badConsumer);
    // tsc --init's options as they are; each file checked on its own.
    writeFileSync(join(app, "tsconfig.good.json"), JSON.stringify({ extends: "./tsconfig.json", files: ["good.ts"] }));
    const bad = { extends: "./tsconfig.json", compilerOptions: { noEmit: true }, files: ["bad.ts"] };
    writeFileSync(join(app, "tsconfig.bad.json"), JSON.stringify(bad));
  }, 300_000);

  const compilers = [
    ["the current TypeScript", "typescript"],
    ["TypeScript 5", "typescript5"],
  ] as const;

  for (const [name, pkg] of compilers) {
    it(`${name} accepts a correct consumer and refuses a wrong input type`, SLOW, async () => {
      const tsc = join(app, "node_modules", pkg, "bin", "tsc");
      const version = JSON.parse(readFileSync(join(app, "node_modules", pkg, "package.json"), "utf8")).version;
      if (pkg === "typescript5") expect(version).toMatch(/^5\./);
      await ok(app, process.execPath, [tsc, "-p", "tsconfig.good.json", "--noEmit"]);
      // The package's own declarations hold up too, not only what the consumer's code reaches.
      await ok(app, process.execPath, [tsc, "-p", "tsconfig.good.json", "--noEmit", "--skipLibCheck", "false"]);
      const refused = await run(app, process.execPath, [tsc, "-p", "tsconfig.bad.json"]);
      expect(refused.code, `TypeScript ${version} accepted bad.ts`).not.toBe(0);
      expect(refused.stdout).toMatch(
        /bad\.ts\(\d+,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/,
      );
    });
  }

  it("installs nothing of the server's runtime, and its declarations name none of it", SLOW, async () => {
    const modules = join(app, "node_modules");
    const names = installed(modules);
    expect(names).toEqual(expect.arrayContaining(["@portcullis/client", "@trpc/client", "@trpc/server"]));
    expect(names.filter((n) => SERVER_RUNTIME.test(n.split("/").at(-1)!) || n.includes("prisma"))).toEqual([]);
    const dist = join(modules, "@portcullis", "client", "dist");
    const declarations = readdirSync(dist).filter((f) => f.endsWith(".d.ts"));
    expect(declarations.sort()).toEqual(["dto.d.ts", "index.d.ts", "router.d.ts"]);
    for (const file of declarations) {
      const text = readFileSync(join(dist, file), "utf8");
      expect(text, file).not.toMatch(/prisma|pglite|argon2|fastify|jsonwebtoken|ioredis|pino|zod|nodemailer/i);
      const specifiers = [...text.matchAll(/(?:import\(|from\s+)"([^"]+)"/g)].map((m) => m[1]);
      const allowed = ["@trpc/server", "@trpc/client", "./dto.js", "./router.js"];
      expect(
        specifiers.filter((x) => !allowed.includes(x!)),
        file,
      ).toEqual([]);
    }
    const manifest = JSON.parse(readFileSync(join(modules, "@portcullis", "client", "package.json"), "utf8"));
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(Object.keys(manifest.peerDependencies).sort()).toEqual(["@trpc/client", "@trpc/server"]);
  });

  it("the compiled consumer signs up, logs in and reads users.me on a real server", SLOW, async () => {
    await ok(app, process.execPath, [
      join(app, "node_modules", "typescript", "bin", "tsc"),
      "-p",
      "tsconfig.good.json",
    ]);
    const out = JSON.parse((await ok(app, process.execPath, ["good.js"])).trim().split("\n").at(-1)!);
    expect(out.user).toEqual({ email: "ada@example.com", username: "ada", id: expect.any(Number) });
    expect(out.me).toEqual(out.user);
    expect(out.current).toBe(1);
    expect(out.anonymous).toBe("not_authenticated");
    // The account is the server's own: REST sees it too.
    const login = await s.request("POST", "/auth/token/login/", { json: { username: "ada", password: PW } });
    expect(login.status).toBe(200);
  });
});
