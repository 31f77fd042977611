// Settings: Django/Djoser/SimpleJWT names and defaults, from a JSON file and the environment.
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSettings, SettingsError } from "./load.ts";
import { environmentNames } from "./schema.ts";

const dir = () => mkdtempSync(join(tmpdir(), "portcullis-settings-"));
const base = () => ({ SECRET_KEY: "k".repeat(40), DATA_DIR: dir() });

describe("loadSettings", () => {
  it("with no settings at all, the defaults are Djoser's and SimpleJWT's", () => {
    const { settings } = loadSettings(base());
    expect(settings.DJOSER).toMatchObject({
      SEND_ACTIVATION_EMAIL: false,
      USER_CREATE_PASSWORD_RETYPE: false,
      HIDE_USERS: true,
      LOGIN_FIELD: "username",
      TOKEN_MODE: "shared",
    });
    expect(settings.SIMPLE_JWT).toMatchObject({
      AUTH_HEADER_TYPES: ["Bearer"],
      ACCESS_TOKEN_LIFETIME: 300,
      ALGORITHM: "HS256",
    });
    expect(settings.TOKEN_AUTH_HEADER_TYPES).toEqual(["Token"]);
    expect(settings.DATABASE_URL).toBe("pglite:./.data/pglite");
    expect(settings.AUTH_PASSWORD_VALIDATORS.map((v) => v.NAME.split(".").pop())).toEqual([
      "UserAttributeSimilarityValidator",
      "MinimumLengthValidator",
      "CommonPasswordValidator",
      "NumericPasswordValidator",
    ]);
  });

  it("reads environment values as JSON where the setting is not a string, and as text otherwise", () => {
    const { settings } = loadSettings({
      ...base(),
      SECRET_KEY: "12345678901234567890123456789012345",
      PORT: "9000",
      DJOSER_SEND_ACTIVATION_EMAIL: "true",
      DJOSER_ACTIVATION_URL: "activate/{uid}/{token}",
      SIMPLE_JWT_AUTH_HEADER_TYPES: '["JWT","Bearer"]',
      SIMPLE_JWT_ACCESS_TOKEN_LIFETIME: "600",
      TOKEN_AUTH_HEADER_TYPES: '["Token","Bearer"]',
    });
    expect(settings.SECRET_KEY).toBe("12345678901234567890123456789012345");
    expect(settings.PORT).toBe(9000);
    expect(settings.DJOSER.SEND_ACTIVATION_EMAIL).toBe(true);
    expect(settings.DJOSER.ACTIVATION_URL).toBe("activate/{uid}/{token}");
    expect(settings.SIMPLE_JWT.AUTH_HEADER_TYPES).toEqual(["JWT", "Bearer"]);
    expect(settings.SIMPLE_JWT.ACCESS_TOKEN_LIFETIME).toBe(600);
    expect(settings.TOKEN_AUTH_HEADER_TYPES).toEqual(["Token", "Bearer"]);
  });

  it("a JSON file supplies settings by their Django names; the environment wins over it", () => {
    const file = join(dir(), "portcullis.config.json");
    writeFileSync(file, JSON.stringify({ DJOSER: { HIDE_USERS: false, SITE_NAME: "Acme" }, USERNAME_FIELD: "email" }));
    const { settings } = loadSettings({ ...base(), PORTCULLIS_CONFIG: file, DJOSER_SITE_NAME: "Acme Corp" });
    expect(settings.DJOSER.HIDE_USERS).toBe(false);
    expect(settings.DJOSER.SITE_NAME).toBe("Acme Corp");
    expect(settings.USERNAME_FIELD).toBe("email");
    expect(settings.DJOSER.LOGIN_FIELD).toBe("email"); // follows USERNAME_FIELD unless set
  });

  it("an invalid value stops the start, naming the setting and what is wrong", () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ DJOSER_SEND_ACTIVATION_EMAIL: "maybe" }, /DJOSER\.SEND_ACTIVATION_EMAIL/],
      [{ PORT: "abc" }, /PORT/],
      [{ DATABASE_URL: "mysql://x" }, /DATABASE_URL: expected postgresql:\/\/…, pglite:<dir> or pglite:memory/],
      [{ SIMPLE_JWT_AUTH_HEADER_TYPES: '["two words"]' }, /SIMPLE_JWT\.AUTH_HEADER_TYPES\.0: a prefix is one word/],
      [
        { AUTH_PASSWORD_VALIDATORS: '[{"NAME":"myapp.NoSuchValidator"}]' },
        /AUTH_PASSWORD_VALIDATORS: .*NoSuchValidator/,
      ],
      [{ USERNAME_FIELD: "email", DJOSER_LOGIN_FIELD: "username" }, /DJOSER\.LOGIN_FIELD/],
    ];
    for (const [env, message] of cases) {
      expect(() => loadSettings({ ...base(), ...env })).toThrow(SettingsError);
      expect(() => loadSettings({ ...base(), ...env })).toThrow(message);
    }
  });

  it("warns about DJOSER_/SIMPLE_JWT_ names it does not honour, instead of ignoring them silently", () => {
    const { warnings } = loadSettings({ ...base(), DJOSER_SERIALIZERS: "{}" });
    expect(warnings).toContain("DJOSER_SERIALIZERS is not a setting Portcullis honours; ignored");
  });

  it("SECRET_KEY: generated once in development and kept; required and ≥ 32 bytes in production", () => {
    const dataDir = dir();
    const first = loadSettings({ DATA_DIR: dataDir });
    expect(first.warnings.join()).toMatch(/generated a development key/);
    expect(readFileSync(join(dataDir, "secret_key"), "utf8").trim()).toBe(first.settings.SECRET_KEY);
    expect(loadSettings({ DATA_DIR: dataDir }).settings.SECRET_KEY).toBe(first.settings.SECRET_KEY);

    const prod = {
      DATA_DIR: dir(),
      NODE_ENV: "production",
      ALLOWED_HOSTS: '["auth.example.com"]',
      EMAIL_BACKEND: "smtp",
    };
    expect(() => loadSettings(prod)).toThrow("SECRET_KEY is required when NODE_ENV=production");
    expect(() => loadSettings({ ...prod, SECRET_KEY: "short" })).toThrow("at least 32 bytes");
    expect(() => loadSettings({ ...prod, SECRET_KEY: "x".repeat(32) })).toThrow("at least 5 different characters");
    const key = "0123456789abcdef".repeat(2);
    expect(loadSettings({ ...prod, SECRET_KEY: key }).settings.SECRET_KEY).toBe(key);
  });

  it("a production start lists every weak setting at once, each with its fix", () => {
    const weak = {
      DATA_DIR: dir(),
      NODE_ENV: "production",
      SECRET_KEY: "x".repeat(40),
      DEBUG: "true",
      ARGON2: '{"MEMORY_COST":4096,"TIME_COST":1}',
      CORS_ALLOW_ALL_ORIGINS: "true",
      CORS_ALLOW_CREDENTIALS: "true",
    };
    let message = "";
    try {
      loadSettings(weak);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message.split("\n")).toEqual([
      "Refusing to start with NODE_ENV=production:",
      "  SECRET_KEY must hold at least 5 different characters when NODE_ENV=production",
      "  DEBUG: must be false in production (it answers unexpected errors with their details)",
      '  ALLOWED_HOSTS: list the host names this server answers to, e.g. ["auth.example.com"] ' +
        '(["*"] accepts any Host header)',
      '  EMAIL_BACKEND: "console" writes activation and reset links into the log; use "smtp" (or "file")',
      "  ARGON2: m=4096 KiB, t=1 is below OWASP's minimum (m=19456,t=2 or m=7168,t=5 and the options between)",
      "  CORS_ALLOW_ALL_ORIGINS with CORS_ALLOW_CREDENTIALS lets any site act with a user's cookies; " +
        "list CORS_ALLOWED_ORIGINS instead",
    ]);
    // Development takes the same settings (with warnings where they matter).
    expect(loadSettings({ ...weak, NODE_ENV: "development" }).settings.DEBUG).toBe(true);
  });

  const key = "0123456789abcdef".repeat(2);
  const sound = () => ({
    DATA_DIR: dir(),
    ALLOWED_HOSTS: '["auth.example.com"]',
    EMAIL_BACKEND: "smtp",
    SECRET_KEY: key,
  });

  it("NODE_ENV is compared trimmed and in any case; a value that is no known one is warned about", () => {
    const prod = sound();
    for (const NODE_ENV of ["Production", "PRODUCTION", " production "]) {
      expect(loadSettings({ ...prod, NODE_ENV }).settings.NODE_ENV).toBe("production");
      expect(() => loadSettings({ ...prod, NODE_ENV, DEBUG: "true" })).toThrow("DEBUG: must be false in production");
    }
    expect(loadSettings({ ...prod, NODE_ENV: "prod" }).warnings).toContain(
      'NODE_ENV=prod is not "production": the production checks are off (set NODE_ENV=production on a live server)',
    );
    for (const NODE_ENV of ["development", "test", "Test"]) {
      expect(loadSettings({ ...prod, NODE_ENV }).warnings.join()).not.toContain("NODE_ENV");
    }
  });

  it("production warns when mailed links would point at localhost or travel over http (the defaults)", () => {
    const prod = { ...sound(), NODE_ENV: "production" };
    const { warnings } = loadSettings(prod);
    expect(warnings).toContain(
      "DJOSER.DOMAIN is localhost:8000: activation and reset links in mails point there; " +
        "set DJOSER_DOMAIN to your site's host",
    );
    expect(warnings).toContain(
      'DJOSER.PROTOCOL is "http": activation and reset links in mails carry their tokens in clear; ' +
        "set DJOSER_PROTOCOL=https",
    );
    const set = loadSettings({ ...prod, DJOSER_DOMAIN: "auth.example.com", DJOSER_PROTOCOL: "https" });
    expect(set.warnings.join()).not.toMatch(/DJOSER\.(DOMAIN|PROTOCOL)/);
  });

  it("a config file that holds secrets and others can read is warned about; owner-only, it is not", () => {
    const file = join(dir(), "portcullis.config.json");
    const warned = () => loadSettings({ DATA_DIR: dir(), PORTCULLIS_CONFIG: file }).warnings.join("\n");
    writeFileSync(
      file,
      JSON.stringify({ SECRET_KEY: key, EMAIL_HOST_PASSWORD: "smtp-pass", SIMPLE_JWT: { SIGNING_KEY: key } }),
    );
    chmodSync(file, 0o644);
    expect(warned()).toContain(
      `${file} holds SECRET_KEY, EMAIL_HOST_PASSWORD, SIMPLE_JWT.SIGNING_KEY and other users can read it`,
    );
    expect(warned()).toContain(`chmod 600 ${file}`);
    chmodSync(file, 0o600);
    expect(warned()).not.toContain("other users can read it");
    writeFileSync(file, JSON.stringify({ DEBUG: true }));
    chmodSync(file, 0o644); // no secret in it: nothing to say
    expect(warned()).not.toContain("other users can read it");
  });

  it("DRF throttle rates and the proxy settings are checked at start", () => {
    expect(() => loadSettings({ DATA_DIR: dir(), DEFAULT_THROTTLE_RATES: '{"login":"5 per minute"}' })).toThrow(
      'a DRF rate such as "20/min"',
    );
    expect(() => loadSettings({ DATA_DIR: dir(), DEFAULT_THROTTLE_RATES: '{"logins":"5/min"}' })).toThrow(
      "DEFAULT_THROTTLE_RATES",
    );
    expect(() => loadSettings({ DATA_DIR: dir(), NUM_PROXIES: "1", TRUSTED_PROXIES: '["10.0.0.1"]' })).toThrow(
      "NUM_PROXIES and TRUSTED_PROXIES: set one of them",
    );
    expect(loadSettings({ DATA_DIR: dir() }).settings.DEFAULT_THROTTLE_RATES).toEqual({
      login: "30/min",
      registration: "20/hour",
      email: "10/hour",
      refresh: "60/min",
    });
  });
});

describe(".env.example", () => {
  it("lists every setting the schema knows, and nothing else", () => {
    const example = readFileSync(new URL("../../.env.example", import.meta.url), "utf8");
    const listed = [...example.matchAll(/^# ([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);
    const cliOnly = ["PORTCULLIS_CONFIG", "PORTCULLIS_SUPERUSER_PASSWORD"];
    expect([...listed].sort()).toEqual([...environmentNames(), ...cliOnly].sort());
  });
});

describe("booleans in the environment", () => {
  it("Python's True and False are read as true and false, in any letter case; string settings keep them", () => {
    const { settings } = loadSettings({
      ...base(),
      DEBUG: "True",
      DJOSER_SEND_ACTIVATION_EMAIL: "FALSE",
      SIMPLE_JWT_ACCEPT_TOKENS_WITHOUT_SID: "True",
      DJOSER_SITE_NAME: "True",
    });
    expect(settings.DEBUG).toBe(true);
    expect(settings.DJOSER.SEND_ACTIVATION_EMAIL).toBe(false);
    expect(settings.SIMPLE_JWT.ACCEPT_TOKENS_WITHOUT_SID).toBe(true);
    expect(settings.DJOSER.SITE_NAME).toBe("True");
  });

  it("another spelling (yes, 1, on) is refused with the setting's name and a hint", () => {
    for (const [name, path, value] of [
      ["DEBUG", "DEBUG", "yes"],
      ["CORS_ALLOW_CREDENTIALS", "CORS_ALLOW_CREDENTIALS", "1"],
      ["DJOSER_HIDE_USERS", "DJOSER.HIDE_USERS", "on"],
    ]) {
      expect(() => loadSettings({ ...base(), [name!]: value! })).toThrow(`${path}: `);
      expect(() => loadSettings({ ...base(), [name!]: value! })).toThrow("(use true or false)");
    }
  });
});

describe("misspelt settings", () => {
  it("an unknown name in the config file, at any depth, is warned about with the nearest known one", () => {
    const file = join(dir(), "portcullis.config.json");
    const config = {
      DJOSER: { SEND_ACTIVATON_EMAIL: true, HIDE_USERS: false },
      SIMPLE_JWT: {
        ACCESS_TOKEN_LIFETME: 60,
        ADDITIONAL_VERIFYING_KEYS: [{ ALGORITHM: "HS256", KEY: "k", KID_: "a" }],
      },
      LOGIN_LOCKOUT: { MAX_FAILURE: 10 },
      ALLOWED_HOST: ["example.com"],
      SOMETHING_ELSE_ENTIRELY: 1,
    };
    writeFileSync(file, JSON.stringify(config));
    const { settings, warnings } = loadSettings({ ...base(), PORTCULLIS_CONFIG: file });
    expect(settings.DJOSER.HIDE_USERS).toBe(false); // the rest of the file still applies
    const ignored = (name: string, near?: string) =>
      `${file}: ${name} is not a setting Portcullis honours; ignored${near ? ` (did you mean ${near}?)` : ""}`;
    expect(warnings).toEqual(
      expect.arrayContaining([
        ignored("DJOSER.SEND_ACTIVATON_EMAIL", "SEND_ACTIVATION_EMAIL"),
        ignored("SIMPLE_JWT.ACCESS_TOKEN_LIFETME", "ACCESS_TOKEN_LIFETIME"),
        ignored("SIMPLE_JWT.ADDITIONAL_VERIFYING_KEYS.0.KID_", "KID"),
        ignored("LOGIN_LOCKOUT.MAX_FAILURE", "MAX_FAILURES"),
        ignored("ALLOWED_HOST", "ALLOWED_HOSTS"),
        ignored("SOMETHING_ELSE_ENTIRELY"),
      ]),
    );
  });

  it("a misspelt DJOSER_/SIMPLE_JWT_ variable gets the nearest name too", () => {
    const { warnings } = loadSettings({ ...base(), DJOSER_SEND_ACTIVATON_EMAIL: "true" });
    expect(warnings).toContain(
      "DJOSER_SEND_ACTIVATON_EMAIL is not a setting Portcullis honours; ignored " +
        "(did you mean DJOSER_SEND_ACTIVATION_EMAIL?)",
    );
  });
});

describe("social sign-in settings", () => {
  const load = (env: Record<string, string>) => () => loadSettings({ ...base(), ...env });
  const issue = (env: Record<string, string>) => {
    try {
      load(env)();
      return "";
    } catch (e) {
      expect(e).toBeInstanceOf(SettingsError);
      return (e as Error).message;
    }
  };

  it("python-social-auth's names from the environment, Djoser's two as DJOSER_*", () => {
    const { settings, warnings } = load({
      SOCIAL_AUTH_GITHUB_KEY: "id",
      SOCIAL_AUTH_GITHUB_SECRET: "secret",
      SOCIAL_AUTH_ASSOCIATE_BY_EMAIL: "True",
      DJOSER_SOCIAL_AUTH_ALLOWED_REDIRECT_URIS: '["https://app.example/callback"]',
      DJOSER_SOCIAL_AUTH_TOKEN_STRATEGY: "djoser.social.token.jwt.TokenStrategy",
    })();
    expect(warnings).toEqual([]);
    expect(settings.SOCIAL_AUTH).toMatchObject({ GITHUB_KEY: "id", GITHUB_SECRET: "secret", ASSOCIATE_BY_EMAIL: true });
    expect(settings.DJOSER.SOCIAL_AUTH_TOKEN_STRATEGY).toBe("jwt");
    expect(settings.DJOSER.SOCIAL_AUTH_ALLOWED_REDIRECT_URIS).toEqual(["https://app.example/callback"]);
  });

  it("refuses what would fail at sign-in time, each with what to write", () => {
    expect(
      issue({ SOCIAL_AUTH_OIDC_KEY: "id", SOCIAL_AUTH_OIDC_SECRET: "s", SOCIAL_AUTH_OIDC_OIDC_ENDPOINT: "x" }),
    ).toMatch("SOCIAL_AUTH_OIDC_OIDC_ENDPOINT must be a URL");
    expect(
      issue({
        SOCIAL_AUTH_OIDC_OIDC_ENDPOINT: "http://sso.example",
        SOCIAL_AUTH_OIDC_KEY: "i",
        SOCIAL_AUTH_OIDC_SECRET: "s",
      }),
    ).toMatch("must use https (http is accepted on localhost only)");
    expect(issue({ SOCIAL_AUTH_GOOGLE_OAUTH2_KEY: "id" })).toMatch(
      "GOOGLE_OAUTH2_SECRET is needed with GOOGLE_OAUTH2_KEY",
    );
    expect(issue({ SOCIAL_AUTH_APPLE_ID_CLIENT: "com.example" })).toMatch(
      "apple-id needs APPLE_ID_CLIENT, APPLE_ID_TEAM",
    );
    const uris = (list: string[]) => issue({ DJOSER_SOCIAL_AUTH_ALLOWED_REDIRECT_URIS: JSON.stringify(list) });
    expect(uris(["https://app.example/cb?x=1"])).toMatch("a redirect URI has no query or fragment");
    expect(uris(["https://APP.example"])).toMatch("write it as https://app.example/");
    expect(issue({ DJOSER_SOCIAL_AUTH_TOKEN_STRATEGY: "knox" })).toMatch('use "jwt"');
  });
});
