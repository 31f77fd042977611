// Django 3.2's password validation (django.contrib.auth.password_validation) with its exact English
// messages and order, so error bodies match what a Djoser deployment answered.
//
// data/common-passwords.txt.gz is Django's own file
// (django/contrib/auth/common-passwords.txt.gz, 20,000 common passwords compiled
// by Royce Williams), distributed under Django's BSD-3-Clause license.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { codePoints, pythonStrip } from "./validators.ts";

export type PasswordValidatorConfig = { NAME: string; OPTIONS?: Record<string, unknown> };
export type PasswordUser = {
  username?: string | null;
  email?: string;
  first_name?: string;
  last_name?: string;
};

const P = "django.contrib.auth.password_validation.";
const SIMILARITY = `${P}UserAttributeSimilarityValidator`;
const MIN_LENGTH = `${P}MinimumLengthValidator`;
const COMMON = `${P}CommonPasswordValidator`;
const NUMERIC = `${P}NumericPasswordValidator`;
const DEFAULT_USER_ATTRIBUTES = ["username", "first_name", "last_name", "email"];

export const DEFAULT_PASSWORD_VALIDATORS: PasswordValidatorConfig[] = [
  { NAME: SIMILARITY, OPTIONS: { user_attributes: DEFAULT_USER_ATTRIBUTES, max_similarity: 0.7 } },
  { NAME: MIN_LENGTH, OPTIONS: { min_length: 8 } },
  { NAME: COMMON },
  { NAME: NUMERIC },
];

const ALLOWED_OPTIONS: Record<string, string[]> = {
  [SIMILARITY]: ["user_attributes", "max_similarity"],
  [MIN_LENGTH]: ["min_length"],
  [COMMON]: ["password_list_path"],
  [NUMERIC]: [],
};

// AbstractUser's verbose names; other attributes fall back to their own name
// (Django's FieldDoesNotExist branch).
const VERBOSE_NAMES: Record<string, string> = {
  username: "username",
  first_name: "first name",
  last_name: "last name",
  email: "email address",
};

/**
 * Check validator settings at start-up, the way Django fails when building
 * them: unknown NAME, unknown OPTIONS key, bad option value, unreadable
 * password list. Throws an Error naming the problem.
 */
export function assertKnownValidators(validators: PasswordValidatorConfig[]): void {
  for (const config of validators) resolve(config);
}

/**
 * django.contrib.auth.password_validation.validate_password: every failing
 * validator's message, in configuration order. Empty array means valid.
 */
export function validatePassword(
  password: string,
  user: PasswordUser,
  validators: PasswordValidatorConfig[],
): string[] {
  const errors: string[] = [];
  for (const config of validators) {
    const message = resolve(config)(password, user);
    if (message !== null) errors.push(message);
  }
  return errors;
}

type Check = (password: string, user: PasswordUser) => string | null;

function resolve({ NAME, OPTIONS = {} }: PasswordValidatorConfig): Check {
  const allowed = ALLOWED_OPTIONS[NAME];
  if (!allowed) {
    throw new Error(`The module in NAME could not be imported: ${NAME}. Check your AUTH_PASSWORD_VALIDATORS setting.`);
  }
  for (const key of Object.keys(OPTIONS)) {
    if (!allowed.includes(key)) throw new Error(`${NAME}: unexpected option ${JSON.stringify(key)}`);
  }
  switch (NAME) {
    case SIMILARITY: {
      const attributes = OPTIONS.user_attributes ?? DEFAULT_USER_ATTRIBUTES;
      const max = OPTIONS.max_similarity ?? 0.7;
      if (!Array.isArray(attributes) || !attributes.every((a) => typeof a === "string")) {
        throw new Error(`${NAME}: user_attributes must be a list of strings`);
      }
      if (typeof max !== "number" || Number.isNaN(max)) throw new Error(`${NAME}: max_similarity must be a number`);
      if (max < 0.1) throw new Error("max_similarity must be at least 0.1");
      return (password, user) => similarity(password, user, attributes as string[], max);
    }
    case MIN_LENGTH: {
      const min = OPTIONS.min_length ?? 8;
      if (!Number.isInteger(min)) throw new Error(`${NAME}: min_length must be an integer`);
      return (password) => minimumLength(password, min as number);
    }
    case COMMON: {
      const path = OPTIONS.password_list_path ?? DEFAULT_PASSWORD_LIST;
      if (typeof path !== "string") throw new Error(`${NAME}: password_list_path must be a string`);
      const list = loadPasswordList(path); // loads (and fails) now, not on first use
      return (password) => (list.has(pythonStrip(password.toLowerCase())) ? "This password is too common." : null);
    }
    default:
      // Python's str.isdigit(): decimal digits plus the "digit" numerics
      // (superscripts, circled digits, …), listed from Python 3.11's Unicode data.
      return (password) => (NUMERIC_RE.test(password) ? "This password is entirely numeric." : null);
  }
}

function minimumLength(password: string, min: number): string | null {
  if (codePoints(password).length >= min) return null;
  // ngettext with English plural rules: singular only for exactly 1.
  return `This password is too short. It must contain at least ${min} character${min === 1 ? "" : "s"}.`;
}

function similarity(password: string, user: PasswordUser, attributes: string[], max: number): string | null {
  if (!user) return null;
  const pwd = codePoints(password.toLowerCase());
  for (const name of attributes) {
    const value: unknown = (user as Record<string, unknown>)[name];
    if (!value || typeof value !== "string") continue;
    const lower = value.toLowerCase();
    // re.split(r'\W+', value_lower) + [value_lower]; \W is Python's non-word.
    for (const part of [...lower.split(/[^\p{L}\p{N}_]+/u), lower]) {
      const partChars = codePoints(part);
      // exceeds_maximum_length_ratio: far longer passwords can't reach max.
      if (pwd.length >= 10 * partChars.length && partChars.length < (max / 2) * pwd.length) continue;
      if (quickRatio(pwd, partChars) >= max) {
        return `The password is too similar to the ${VERBOSE_NAMES[name] ?? name}.`;
      }
    }
  }
  return null;
}

/** difflib.SequenceMatcher(a=a, b=b).quick_ratio(), over code points. */
export function quickRatio(a: string[], b: string[]): number {
  const fullBCount = new Map<string, number>();
  for (const ch of b) fullBCount.set(ch, (fullBCount.get(ch) ?? 0) + 1);
  const avail = new Map<string, number>();
  let matches = 0;
  for (const ch of a) {
    const numb = avail.has(ch) ? avail.get(ch)! : (fullBCount.get(ch) ?? 0);
    avail.set(ch, numb - 1);
    if (numb > 0) matches++;
  }
  const length = a.length + b.length;
  return length ? (2 * matches) / length : 1;
}

const DEFAULT_PASSWORD_LIST = fileURLToPath(new URL("./data/common-passwords.txt.gz", import.meta.url));
const passwordLists = new Map<string, Set<string>>();

// CommonPasswordValidator.__init__: gzip if it is gzip, else plain UTF-8 text;
// each line stripped. Cached per path: the default list is ~20k entries.
function loadPasswordList(path: string): Set<string> {
  let list = passwordLists.get(path);
  if (list) return list;
  const raw = readFileSync(path);
  let text: string;
  try {
    text = gunzipSync(raw).toString("utf8");
  } catch {
    text = raw.toString("utf8");
  }
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.at(-1) === "") lines.pop(); // Python's line iteration yields no empty last line
  list = new Set(lines.map(pythonStrip));
  passwordLists.set(path, list);
  return list;
}

const NUMERIC_RE = new RegExp(
  `^[${[
    String.raw`\p{Nd}\u00B2\u00B3\u00B9\u1369-\u1371\u19DA\u2070\u2074-\u2079\u2080-\u2089`,
    String.raw`\u2460-\u2468\u2474-\u247C\u2488-\u2490\u24EA\u24F5-\u24FD\u24FF`,
    String.raw`\u2776-\u277E\u2780-\u2788\u278A-\u2792`,
    String.raw`\u{10A40}-\u{10A43}\u{10E60}-\u{10E68}\u{11052}-\u{1105A}\u{1F100}-\u{1F10A}`,
  ].join("")}]+$`,
  "u",
);
