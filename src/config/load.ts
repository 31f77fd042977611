// Settings come from defaults < a JSON config file < the environment. Environment names are the
// Django names (SECRET_KEY, EMAIL_HOST…), DJOSER_<NAME>, SIMPLE_JWT_<NAME>, TRENCH_AUTH_<NAME> and
// SOCIAL_AUTH_<NAME> (python-social-auth's, any provider's key among them); values are JSON
// where that is what the setting needs (true, 300, ["JWT","Bearer"]) and plain strings otherwise.
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { z } from "zod";
import { assertKnownValidators, DEFAULT_PASSWORD_VALIDATORS } from "../compat/django/password-validation.ts";
import { djoserSchema, type Settings, settingsSchema, simpleJwtSchema, trenchSchema } from "./schema.ts";
import { socialProviders } from "./social-providers.ts";
import { socialAuthSchema } from "./social-schema.ts";
import { didYouMean } from "./suggest.ts";
import { unknownKeys } from "./unknown-keys.ts";

export class SettingsError extends Error {}

type Source = Record<string, unknown>;
const GROUPS = {
  DJOSER: djoserSchema,
  SIMPLE_JWT: simpleJwtSchema,
  TRENCH_AUTH: trenchSchema,
  SOCIAL_AUTH: socialAuthSchema,
} as const;

/** A raw environment string, read as the type its setting expects. */
function envValue(schema: z.ZodType, raw: string): unknown {
  if (schema.safeParse(raw).success) return raw; // a string setting keeps "12345" a string
  // Python's True and False, as a settings.py or django-environ has them, in any letter case.
  const word = raw.trim().toLowerCase();
  if ((word === "true" || word === "false") && schema.safeParse(true).success) return word === "true";
  try {
    return JSON.parse(raw);
  } catch {
    return raw; // let the schema report what it expected
  }
}

function fromEnv(env: NodeJS.ProcessEnv, warnings: string[]): Source {
  const out: Source = {};
  const top = settingsSchema.shape;
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined) continue;
    if (name in top && !(name in GROUPS)) {
      out[name] = envValue(top[name as keyof typeof top] as z.ZodType, raw);
      continue;
    }
    for (const [group, schema] of Object.entries(GROUPS)) {
      if (!name.startsWith(`${group}_`)) continue;
      const key = name.slice(group.length + 1);
      // SOCIAL_AUTH takes any provider's key: its catchall.
      const field = (schema.shape as Record<string, z.ZodType>)[key] ?? (schema.def.catchall as z.ZodType | undefined);
      if (!field) {
        const near = didYouMean(key, Object.keys(schema.shape), `${group}_`);
        warnings.push(`${name} is not a setting Portcullis honours; ignored${near}`);
        continue;
      }
      out[group] ??= {};
      (out[group] as Source)[key] = envValue(field, raw);
    }
  }
  return out;
}

function fromFile(path: string | undefined, warnings: string[]): Source {
  const file = path ?? (existsSync("portcullis.config.json") ? "portcullis.config.json" : undefined);
  if (!file) return {};
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new SettingsError(`Cannot read the config file ${file}: ${(e as Error).message}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new SettingsError(`The config file ${file} must hold a JSON object of settings`);
  }
  for (const unknown of unknownKeys(settingsSchema, data)) warnings.push(`${file}: ${unknown}`);
  // Like ssh with a private key: secrets in a file others can read are no longer secrets.
  const secrets = secretsIn(data as Source);
  if (secrets.length && statSync(file).mode & 0o077) {
    warnings.push(`${file} holds ${secrets.join(", ")} and other users can read it: chmod 600 ${file}`);
  }
  return data as Source;
}

/** The settings of a config file that are secrets (SECRET_KEY, EMAIL_HOST_PASSWORD, an HMAC or private key). */
function secretsIn(data: Source): string[] {
  const jwt = (typeof data.SIMPLE_JWT === "object" && data.SIMPLE_JWT) || {};
  const found = ["SECRET_KEY", "EMAIL_HOST_PASSWORD"].filter((k) => typeof data[k] === "string" && data[k] !== "");
  if (typeof (jwt as Source).SIGNING_KEY === "string") found.push("SIMPLE_JWT.SIGNING_KEY");
  const social = (typeof data.SOCIAL_AUTH === "object" && data.SOCIAL_AUTH) || {};
  for (const key of Object.keys(social)) if (key.endsWith("_SECRET")) found.push(`SOCIAL_AUTH.${key}`);
  return found;
}

function merge(base: Source, over: Source): Source {
  const out: Source = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] =
      k in GROUPS && typeof v === "object" && v && typeof base[k] === "object"
        ? { ...(base[k] as Source), ...(v as Source) }
        : v;
  }
  return out;
}

function resolveSecretKey(given: string | undefined, production: boolean, dataDir: string, warnings: string[]): string {
  if (given || production) return given!; // production: checked by productionProblems
  const file = join(dataDir, "secret_key");
  if (existsSync(file)) {
    warnings.push(`SECRET_KEY is not set: using the development key kept in ${file}`);
    if (statSync(file).mode & 0o077) chmodSync(file, 0o600); // a copy made with lax modes: the owner's alone
    return readFileSync(file, "utf8").trim();
  }
  // Owner-only whatever the umask: the key signs every token and link.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(48).toString("base64url");
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  warnings.push(
    `SECRET_KEY is not set: generated a development key and kept it in ${file}; set SECRET_KEY in production`,
  );
  return key;
}

// OWASP's argon2id options trade memory for passes: m=19 MiB,t=2 ... m=7 MiB,t=5 all spend about
// 36 MiB·passes. Anything cheaper is refused in production.
const OWASP_ARGON2_MIN_MEMORY_KIB = 7168;
const OWASP_ARGON2_MIN_WORK = 7168 * 5;

/** What a production start refuses, each with the fix, so one start reports them all. */
function productionProblems(s: z.output<typeof settingsSchema>): string[] {
  const problems: string[] = [];
  const key = s.SECRET_KEY;
  if (!key)
    problems.push("SECRET_KEY is required when NODE_ENV=production: generate one, e.g. `openssl rand -base64 48`");
  else if (Buffer.byteLength(key) < 32) problems.push("SECRET_KEY must be at least 32 bytes when NODE_ENV=production");
  // Django's check W009 too: a long key of few distinct characters is no secret.
  else if (new Set(key).size < 5)
    problems.push("SECRET_KEY must hold at least 5 different characters when NODE_ENV=production");
  if (s.DEBUG) problems.push("DEBUG: must be false in production (it answers unexpected errors with their details)");
  if (s.ALLOWED_HOSTS === null)
    problems.push(
      'ALLOWED_HOSTS: list the host names this server answers to, e.g. ["auth.example.com"] ' +
        '(["*"] accepts any Host header)',
    );
  if (s.EMAIL_BACKEND === "console")
    problems.push('EMAIL_BACKEND: "console" writes activation and reset links into the log; use "smtp" (or "file")');
  const { MEMORY_COST: m, TIME_COST: t } = s.ARGON2;
  if (m < OWASP_ARGON2_MIN_MEMORY_KIB || m * t < OWASP_ARGON2_MIN_WORK)
    problems.push(
      `ARGON2: m=${m} KiB, t=${t} is below OWASP's minimum (m=19456,t=2 or m=7168,t=5 and the options between)`,
    );
  const jwtKey = s.SIMPLE_JWT.SIGNING_KEY;
  if (s.SIMPLE_JWT.ALGORITHM.startsWith("HS") && jwtKey && Buffer.byteLength(jwtKey) < 32)
    problems.push("SIMPLE_JWT.SIGNING_KEY: an HMAC key must be at least 32 bytes (256 bits) when NODE_ENV=production");
  if (s.DATABASE_URL === "pglite:memory") {
    problems.push(
      "DATABASE_URL: pglite:memory keeps every account in memory and loses them all at restart; " +
        "use postgresql://… (or pglite:<folder>)",
    );
  }
  if (s.CORS_ALLOW_ALL_ORIGINS && s.CORS_ALLOW_CREDENTIALS)
    problems.push(
      "CORS_ALLOW_ALL_ORIGINS with CORS_ALLOW_CREDENTIALS lets any site act with a user's cookies; " +
        "list CORS_ALLOWED_ORIGINS instead",
    );
  return problems;
}

/** What to write instead, where zod's message alone leaves it open. */
function hint(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_type" && issue.expected === "boolean") return " (use true or false)";
  return "";
}

const KNOWN_NODE_ENVS = ["production", "development", "test"];

export function loadSettings(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Source = {},
): { settings: Settings; warnings: string[] } {
  const warnings: string[] = [];
  const raw = merge(merge(fromFile(env.PORTCULLIS_CONFIG, warnings), fromEnv(env, warnings)), overrides);
  const parsed = settingsSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}${hint(i)}`);
    throw new SettingsError(`Invalid settings:\n${lines.join("\n")}`);
  }
  const s = parsed.data;
  const validators = s.AUTH_PASSWORD_VALIDATORS ?? DEFAULT_PASSWORD_VALIDATORS;
  try {
    assertKnownValidators(validators);
  } catch (e) {
    throw new SettingsError(`Invalid settings:\n  AUTH_PASSWORD_VALIDATORS: ${(e as Error).message}`);
  }
  if (s.USERNAME_FIELD === "email" && s.DJOSER.LOGIN_FIELD === "username") {
    throw new SettingsError(
      'Invalid settings:\n  DJOSER.LOGIN_FIELD: cannot be "username" when USERNAME_FIELD is "email" ' +
        "(users have no username)",
    );
  }
  if (s.NUM_PROXIES !== null && s.TRUSTED_PROXIES.length)
    throw new SettingsError("Invalid settings:\n  NUM_PROXIES and TRUSTED_PROXIES: set one of them");
  const production = s.NODE_ENV === "production"; // normalised by the schema: "Production", " production" count
  // A misspelt production ("prod", "live") would start with every production check off, in silence.
  if (!KNOWN_NODE_ENVS.includes(s.NODE_ENV)) {
    const off = "the production checks are off (set NODE_ENV=production on a live server)";
    warnings.push(`NODE_ENV=${s.NODE_ENV} is not "production": ${off}`);
  }
  const problems = production ? productionProblems(s) : [];
  if (problems.length)
    throw new SettingsError(`Refusing to start with NODE_ENV=production:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  // Links in mails are built from DOMAIN and PROTOCOL: left at their defaults, every mailed link
  // points at the developer's machine, or travels (with its token) in clear.
  const { DOMAIN, PROTOCOL } = s.DJOSER;
  if (production && /^(localhost|127\.0\.0\.1)(:|$)/.test(DOMAIN)) {
    const fix = "set DJOSER_DOMAIN to your site's host";
    warnings.push(`DJOSER.DOMAIN is ${DOMAIN}: activation and reset links in mails point there; ${fix}`);
  }
  if (production && PROTOCOL === "http") {
    const fix = "set DJOSER_PROTOCOL=https";
    warnings.push(`DJOSER.PROTOCOL is "http": activation and reset links in mails carry their tokens in clear; ${fix}`);
  }
  try {
    socialProviders(s.SOCIAL_AUTH);
  } catch (e) {
    throw new SettingsError(`Invalid settings:\n  SOCIAL_AUTH: ${(e as Error).message}`);
  }
  if (production && s.ALLOWED_HOSTS?.includes("*"))
    warnings.push('ALLOWED_HOSTS is ["*"]: any Host header is accepted; make sure the proxy in front checks it');
  return {
    warnings,
    settings: {
      ...s,
      SECRET_KEY: resolveSecretKey(s.SECRET_KEY, production, s.DATA_DIR, warnings),
      AUTH_PASSWORD_VALIDATORS: validators,
      DJOSER: { ...s.DJOSER, LOGIN_FIELD: s.DJOSER.LOGIN_FIELD ?? s.USERNAME_FIELD },
    },
  };
}
