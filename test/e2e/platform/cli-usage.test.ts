// The CLI's ergonomics, run as a process: per-command help that never runs anything, flags and
// settings named in every error, .env files, migrate's progress.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, cliEnv, runCli } from "../../helpers/cli.ts";
import { freePort } from "../../helpers/net.ts";
import { PG_ADMIN_URL } from "../../helpers/server.ts";

const tmp = mkdtempSync(join(tmpdir(), "portcullis-cli-usage-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
// Tests running several processes, each starting tsx (and most PGlite): slow on a busy machine.
const SLOW = 180_000;
const KEY = "cli-test-secret-key-long-enough-0123456789";
const cli = (args: string[], env: Record<string, string> = {}, cwd = tmp) => runCli(args, env, cwd);

/** Runs the calls two at a time (two cores, and each process starts tsx). */
async function inTurn<T extends (() => Promise<unknown>)[]>(
  calls: [...T],
): Promise<{ [K in keyof T]: Awaited<ReturnType<T[K]>> }> {
  const out: unknown[] = [];
  for (let i = 0; i < calls.length; i += 2) out.push(...(await Promise.all(calls.slice(i, i + 2).map((c) => c()))));
  return out as { [K in keyof T]: Awaited<ReturnType<T[K]>> };
}

const COMMANDS: [string, string[]][] = [
  ["serve", ["--workers N"]],
  ["migrate", []],
  ["flushexpiredtokens", []],
  ["endallsessions", ["--yes"]],
  ["createsuperuser", ["--username U", "--email E", "--no-input", "--skip-password-validation"]],
  ["import-django", ["--dry-run", "--json", "--batch-size N"]],
];

describe("portcullis --help", () => {
  it("lists every command and exits 0", async () => {
    for (const args of [["--help"], ["-h"], ["help"]]) {
      const r = await cli(args);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("Usage: portcullis <command> [options]");
      for (const [name] of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${name} `, "m"));
    }
  });

  it(
    "<command> --help and -h print the command's usage and options, exit 0 and run nothing",
    async () => {
      const folder = join(tmp, "never-made");
      const dataDir = join(tmp, "never-made-data");
      const env = {
        DATABASE_URL: `pglite:${folder}`,
        DATA_DIR: dataDir,
        PORTCULLIS_SUPERUSER_PASSWORD: "Kq7!vLp2#Zx9",
      };
      const lines = COMMANDS.flatMap(([name]) => [
        [name, "--help"],
        // -h wins over everything else on the line, even what would run the command.
        [name, "--yes", "--no-input", "--username", "root", "-h"],
      ]);
      const runs = await inTurn(lines.map((args) => () => cli(args, env)));
      COMMANDS.forEach(([name, options], i) => {
        for (const r of runs.slice(i * 2, i * 2 + 2)) {
          expect(r.code, `${name}: ${r.stderr}`).toBe(0);
          expect(r.stdout).toMatch(new RegExp(`^Usage: portcullis ${name} \\[options\\]`));
          for (const option of [...options, "-h, --help"]) expect(r.stdout).toContain(`  ${option} `);
        }
      });
      expect(existsSync(folder)).toBe(false); // no migration ran, no database was opened
      expect(existsSync(dataDir)).toBe(false); // not even the settings were loaded (no dev key made)
    },
    SLOW,
  );

  it("an unknown flag is an error naming it, with a pointer to --help (exit 2), before anything runs", async () => {
    const folder = join(tmp, "unknown-flag");
    const env = { DATABASE_URL: `pglite:${folder}`, DATA_DIR: join(tmp, "unknown-flag-data") };
    const [migrate, serve, endall, workers] = await Promise.all([
      cli(["migrate", "--fake"], env),
      cli(["serve", "--worker", "2"], env),
      cli(["endallsessions", "--yes=please"], env),
      cli(["serve", "--workers"], env),
    ]);
    expect(migrate.code).toBe(2);
    expect(migrate.stderr).toContain("Unknown option '--fake'");
    expect(migrate.stderr).toContain("portcullis migrate --help");
    expect(serve.code).toBe(2);
    expect(serve.stderr).toContain("Unknown option '--worker' (did you mean --workers?)");
    expect(endall.code).toBe(2);
    expect(endall.stderr).toContain("--yes takes no value");
    expect(workers.code).toBe(2);
    expect(workers.stderr).toContain("--workers needs a value");
    for (const r of [migrate, serve, endall, workers]) expect(r.stdout).toBe("");
    expect(existsSync(folder)).toBe(false);
  });

  it("help <command> is <command> --help; a misspelt command gets a suggestion", async () => {
    const help = await cli(["help", "createsuperuser"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: portcullis createsuperuser [options]");
    const r = await cli(["migrat"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Unknown command "migrat". Did you mean `portcullis migrate`?');
  });
});

describe("errors name what they are about", () => {
  it(
    "an unreachable, missing or malformed DATABASE_URL: the URL tried (password masked), what to check",
    async () => {
      const port = await freePort();
      const refused = { DATABASE_URL: `postgresql://portcullis:hunter2@127.0.0.1:${port}/auth`, SECRET_KEY: KEY };
      const missing = new URL(PG_ADMIN_URL);
      missing.pathname = `/portcullis_missing_${process.pid}`;
      const [migrate, serve, absent, malformed] = await inTurn([
        () => cli(["migrate"], refused),
        () => cli(["serve"], { ...refused, PORT: "0" }),
        () => cli(["flushexpiredtokens"], { DATABASE_URL: missing.toString(), SECRET_KEY: KEY, AUTO_MIGRATE: "false" }),
        () => cli(["migrate"], { DATABASE_URL: "postgresql://u:p@ss@db.example:54a32/auth", SECRET_KEY: KEY }),
      ]);
      for (const r of [migrate, serve]) {
        expect(r.code, r.stdout).toBe(1);
        expect(r.stderr).toContain(
          `Cannot connect to the database at postgresql://portcullis:****@127.0.0.1:${port}/auth`,
        );
        expect(r.stderr).toContain(`Is PostgreSQL running on 127.0.0.1:${port}? Check DATABASE_URL.`);
      }
      expect(absent.code).toBe(1);
      expect(absent.stderr).toContain(`database "portcullis_missing_${process.pid}" does not exist`);
      expect(absent.stderr).toContain("fix the database name in DATABASE_URL");
      expect(malformed.code).toBe(1);
      expect(malformed.stderr).toContain("DATABASE_URL: not a valid URL");
      for (const r of [migrate, serve, absent, malformed]) {
        expect(r.stderr).not.toContain("hunter2");
        expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
      }
    },
    SLOW,
  );
});

describe(".env", () => {
  it(
    "is read from the working directory; the environment wins over it; settings warnings are printed",
    async () => {
      const project = join(tmp, "with-dotenv");
      mkdirSync(project);
      writeFileSync(
        join(project, ".env"),
        `# a project's settings\nDATABASE_URL=pglite:memory\nSECRET_KEY=${KEY}\nEMAIL_BACKEND="carrier-pigeon"\n`,
      );
      // The commands print the settings' warnings: here, a typo in the config file.
      writeFileSync(join(project, "portcullis.config.json"), '{"DJOSER": {"SEND_ACTIVATON_EMAIL": true}}');
      const [fromFile, overridden] = await inTurn([
        () => cli(["migrate"], {}, project),
        () => cli(["migrate"], { EMAIL_BACKEND: "console" }, project),
      ]);
      expect(fromFile.code).toBe(1);
      expect(fromFile.stderr).toMatch(/^\s+EMAIL_BACKEND: /m);
      expect(overridden.code, overridden.stderr).toBe(0);
      expect(overridden.stdout).not.toBe("");
      expect(overridden.stderr).toContain(
        "Warning: portcullis.config.json: DJOSER.SEND_ACTIVATON_EMAIL is not a setting Portcullis honours; " +
          "ignored (did you mean SEND_ACTIVATION_EMAIL?)",
      );
    },
    SLOW,
  );
});

describe("LOG_FORMAT", () => {
  /** `serve` until it logs that it listens, then SIGTERM: what it wrote on stdout. */
  async function serveOutput(env: Record<string, string>): Promise<string> {
    const child = spawn(process.execPath, [BIN, "serve"], {
      cwd: tmp,
      env: cliEnv({ DATABASE_URL: "pglite:memory", SECRET_KEY: KEY, PORT: "0", LOG_LEVEL: "info", ...env }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const guard = setTimeout(() => child.kill("SIGKILL"), 40_000);
    await new Promise<void>((resolve) => {
      child.stdout.on("data", (c) => {
        out += c;
        if (/Portcullis listening/.test(out)) resolve();
      });
      child.on("close", () => resolve());
    });
    child.kill("SIGTERM");
    await new Promise((r) => child.on("close", r));
    clearTimeout(guard);
    return out;
  }

  it(
    "pretty: pino-pretty's text instead of JSON lines (or JSON and a warning, without pino-pretty)",
    async () => {
      const out = await serveOutput({ LOG_FORMAT: "pretty" });
      expect(out).toContain("Portcullis listening on");
      let installed = true;
      try {
        createRequire(BIN).resolve("pino-pretty");
      } catch {
        installed = false;
      }
      if (installed) {
        expect(out).toMatch(/INFO.*Portcullis listening on/);
        expect(out).not.toMatch(/^\{"level"/m);
      } else {
        expect(out).toContain("LOG_FORMAT=pretty needs the pino-pretty package");
      }
    },
    SLOW,
  );

  it("an unknown format is refused, naming the setting", async () => {
    const r = await cli(["migrate"], { DATABASE_URL: "pglite:memory", SECRET_KEY: KEY, LOG_FORMAT: "fancy" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^\s+LOG_FORMAT: /m);
  });
});

describe("createsuperuser", () => {
  it(
    "applies AUTH_PASSWORD_VALIDATORS unless --skip-password-validation",
    async () => {
      const env = {
        DATABASE_URL: `pglite:${join(tmp, "superuser")}`,
        SECRET_KEY: KEY,
        PORTCULLIS_SUPERUSER_PASSWORD: "password",
      };
      const args = ["createsuperuser", "--username", "root", "--email", "root@example.com", "--no-input"];
      const weak = await cli(args, env);
      expect(weak.code).toBe(1);
      expect(weak.stderr).toBe(
        "Error: This password is too common. Pass --skip-password-validation to create the user anyway.\n",
      );
      const short = await cli(args, { ...env, PORTCULLIS_SUPERUSER_PASSWORD: "Zq9!" });
      expect(short.stderr).toContain("This password is too short. It must contain at least 8 characters.");
      const noLogin = await cli(["createsuperuser", "--email", "root@example.com", "--no-input"], env);
      expect([noLogin.code, noLogin.stderr]).toEqual([2, expect.stringContaining("--username is required")]);
      const bypass = await cli([...args, "--skip-password-validation"], env);
      expect(bypass.code, bypass.stderr).toBe(0);
      expect(bypass.stdout).toBe("Superuser created: id 1.\n"); // the refused attempts created no one
    },
    SLOW,
  );
});
