// What the import-django test files share: the fixture the REAL Djoser 2.1 / Django 3.2 made
// (test/fixtures/django-import/), the CLI run in a child process, and a server over the imported
// database with the reference's SECRET_KEY.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";
import { startTestServer, type TestServer } from "../../helpers/server.ts";

const BIN = fileURLToPath(new URL("../../../bin/portcullis.js", import.meta.url));
const FIXTURE = fileURLToPath(new URL("../../fixtures/django-import/", import.meta.url));
export const DUMP = join(FIXTURE, "dumpdata.json");
type FactUser = {
  id: number;
  username: string;
  email: string;
  password: string | null;
  algorithm: string;
  is_active: boolean;
  is_staff: boolean;
  is_superuser: boolean;
  auth_token?: string;
};
export const facts = JSON.parse(readFileSync(join(FIXTURE, "facts.json"), "utf8")) as {
  secret_key: string;
  users: FactUser[];
  jwt: { username: string; blacklisted_refresh: string; refresh: string; blacklisted_answer: unknown };
  reset: { username: string; uid: string; token: string };
};
export const dump = JSON.parse(readFileSync(DUMP, "utf8")) as {
  model: string;
  pk: number | string;
  fields: Record<string, any>;
}[];
export const byName = (name: string) => facts.users.find((u) => u.username === name)!;

// The server a migrated client talks to: the reference's SECRET_KEY (links), and as SimpleJWT's
// HS256 key SIGNING_KEY set to it, as a cutover sets it (ours defaults to a key derived from
// SECRET_KEY). The fixture's reset link was minted once, when the fixture was made; Django's
// PASSWORD_RESET_TIMEOUT (3 days) would expire it, so these tests allow 100 years instead.
export const SERVER_ENV = {
  SECRET_KEY: facts.secret_key,
  SIMPLE_JWT_SIGNING_KEY: facts.secret_key,
  PASSWORD_RESET_TIMEOUT: String(100 * 365 * 86400),
};

// A scratch folder for each test file (the CLI's working directory, PGlite folders), removed after it.
export const tmp = mkdtempSync(join(tmpdir(), "portcullis-import-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Run = { code: number | null; stdout: string; stderr: string };

/** One CLI run in a clean environment (nothing from the developer's shell), killed after 60 s. */
export function cli(args: string[], env: Record<string, string>): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: tmp,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += c));
  child.stderr.on("data", (c) => (stderr += c));
  const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => (clearTimeout(guard), resolve({ code, stdout, stderr })));
  });
}

/**
 * The server over an existing database: startTestServer's env wins over its defaults, and kind
 * "pglite" makes it create no database of its own.
 */
export const serveOver = (url: string) => startTestServer("pglite", { DATABASE_URL: url, ...SERVER_ENV });

export const HASH_NOTES =
  "Cannot log in until a password reset (a hash algorithm Portcullis does not verify):\n" +
  "  user 10 (mallory): md5\n" +
  'No usable password (Django\'s unusable "!…" password, e.g. social-login accounts):\n' +
  "  user 11 (sso)\n";

export async function post(s: TestServer, path: string, json: unknown, headers: Record<string, string> = {}) {
  return s.request("POST", path, { json, headers });
}
