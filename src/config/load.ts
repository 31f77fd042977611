// Settings come from defaults < a JSON config file < the environment. Environment names are the
// Django names (SECRET_KEY, EMAIL_HOST…), DJOSER_<NAME> and SIMPLE_JWT_<NAME>; values are JSON
// where that is what the setting needs (true, 300, ["JWT","Bearer"]) and plain strings otherwise.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { DEFAULT_PASSWORD_VALIDATORS, assertKnownValidators } from "../services/validators.ts";
import { djoserSchema, settingsSchema, simpleJwtSchema, type Settings } from "./schema.ts";

export class SettingsError extends Error {}

type Source = Record<string, unknown>;
const GROUPS = { DJOSER: djoserSchema, SIMPLE_JWT: simpleJwtSchema } as const;

/** A raw environment string, read as the type its setting expects. */
function envValue(schema: z.ZodType, raw: string): unknown {
  if (schema.safeParse(raw).success) return raw; // a string setting keeps "12345" a string
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
      const field = (schema.shape as Record<string, z.ZodType>)[key];
      if (!field) {
        warnings.push(`${name} is not a setting Portcullis honours; ignored`);
        continue;
      }
      ((out[group] ??= {}) as Source)[key] = envValue(field, raw);
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
  for (const key of Object.keys(data)) {
    if (!(key in settingsSchema.shape)) warnings.push(`${file}: ${key} is not a setting Portcullis honours; ignored`);
  }
  return data as Source;
}

function merge(base: Source, over: Source): Source {
  const out: Source = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = k in GROUPS && typeof v === "object" && v && typeof base[k] === "object" ? { ...(base[k] as Source), ...(v as Source) } : v;
  }
  return out;
}

function resolveSecretKey(given: string | undefined, production: boolean, dataDir: string, warnings: string[]): string {
  if (production) {
    if (!given) throw new SettingsError("SECRET_KEY is required when NODE_ENV=production");
    if (Buffer.byteLength(given) < 32) throw new SettingsError("SECRET_KEY must be at least 32 bytes when NODE_ENV=production");
    return given;
  }
  if (given) return given;
  const file = join(dataDir, "secret_key");
  if (existsSync(file)) {
    warnings.push(`SECRET_KEY is not set: using the development key kept in ${file}`);
    return readFileSync(file, "utf8").trim();
  }
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(48).toString("base64url");
  writeFileSync(file, key + "\n", { mode: 0o600 });
  warnings.push(`SECRET_KEY is not set: generated a development key and kept it in ${file}; set SECRET_KEY in production`);
  return key;
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env, overrides: Source = {}): { settings: Settings; warnings: string[] } {
  const warnings: string[] = [];
  const raw = merge(merge(fromFile(env.PORTCULLIS_CONFIG, warnings), fromEnv(env, warnings)), overrides);
  const parsed = settingsSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
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
    throw new SettingsError("Invalid settings:\n  DJOSER.LOGIN_FIELD: cannot be \"username\" when USERNAME_FIELD is \"email\" (users have no username)");
  }
  const production = s.NODE_ENV === "production";
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
