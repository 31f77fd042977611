// Django 3.2 / DRF validators with their exact English messages and order, so
// error bodies match what a Djoser deployment answered.
//
// data/common-passwords.txt.gz is Django's own file
// (django/contrib/auth/common-passwords.txt.gz, 20,000 common passwords compiled
// by Royce Williams), distributed under Django's BSD-3-Clause license.
import { readFileSync } from "node:fs";
import { isIPv4, isIPv6 } from "node:net";
import { domainToASCII, fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

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

const NUMERIC_RE =
  /^[\p{Nd}\u00B2\u00B3\u00B9\u1369-\u1371\u19DA\u2070\u2074-\u2079\u2080-\u2089\u2460-\u2468\u2474-\u247C\u2488-\u2490\u24EA\u24F5-\u24FD\u24FF\u2776-\u277E\u2780-\u2788\u278A-\u2792\u{10A40}-\u{10A43}\u{10E60}-\u{10E68}\u{11052}-\u{1105A}\u{1F100}-\u{1F10A}]+$/u;

// Python's str.isspace() set. JS \s differs: it has U+FEFF and lacks
// U+001C–U+001F and U+0085.
const isPySpace = (c: number) =>
  (c >= 0x09 && c <= 0x0d) ||
  (c >= 0x1c && c <= 0x20) ||
  c === 0x85 ||
  c === 0xa0 ||
  c === 0x1680 ||
  (c >= 0x2000 && c <= 0x200a) ||
  c === 0x2028 ||
  c === 0x2029 ||
  c === 0x202f ||
  c === 0x205f ||
  c === 0x3000;

/**
 * Python's str.strip() (DRF CharField trims input with it). A loop from both ends, not a regex:
 * /[space]+$/ retries from every space of a run that does not reach the end ("a", 60k spaces,
 * "b"), which is quadratic and held the event loop for seconds on one request.
 */
export function pythonStrip(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isPySpace(value.charCodeAt(start))) start++;
  while (end > start && isPySpace(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

// Python counts code points; JS .length counts UTF-16 units.
function codePoints(value: string): string[] {
  return Array.from(value);
}

// Python 3's \w for str patterns is "isalnum() or _": letters (L*) and
// anything numeric (N*). Marks (M*) are NOT included, so a decomposed "é"
// (e + U+0301) is rejected by Django too. Checked over every code point
// against Python 3.11: identical except code points unassigned in Python's
// Unicode 14 that newer Unicode (Node's ICU) assigns.
const USERNAME_RE = /^[\p{L}\p{N}_.@+-]+$/u;

/**
 * The DRF field errors Djoser gives for AbstractUser.username, in DRF's order
 * (model validators first, then the CharField ones):
 *   1. UnicodeUsernameValidator, 2. (UniqueValidator: the caller's DB query),
 *   3. max_length 150, 4. null characters, 5. lone surrogates.
 * All failing ones are reported. Pass the value after DRF's trimming
 * (pythonStrip); blank is a field-level "This field may not be blank." error.
 */
export function validateUsername(value: string): string[] {
  const errors: string[] = [];
  if (!USERNAME_RE.test(value)) {
    errors.push("Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.");
  }
  // Counted on the NFKC form too, which is what is stored (create_user normalises): it can be
  // longer (U+FDFA is 18 letters), and a 150-character username could overflow the column.
  if (Math.max(codePoints(value).length, codePoints(value.normalize("NFKC")).length) > 150) {
    errors.push("Ensure this field has no more than 150 characters.");
  }
  errors.push(...textCharErrors(value));
  return errors;
}

// ProhibitNullCharactersValidator, then DRF's ProhibitSurrogateCharactersValidator
// (which names the first lone surrogate).
function textCharErrors(value: string): string[] {
  const errors: string[] = [];
  if (value.includes("\0")) errors.push("Null characters are not allowed.");
  const surrogate = surrogateError(value);
  if (surrogate) errors.push(surrogate);
  return errors;
}

/** DRF's ProhibitSurrogateCharactersValidator: names the first lone surrogate, or null. */
export function surrogateError(value: string): string | null {
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff)
      return `Surrogate characters are not allowed: U+${cp.toString(16).toUpperCase()}.`;
  }
  return null;
}

// django.core.validators.EmailValidator (3.2). Case-insensitive like Python's
// re.IGNORECASE; the `u` flag gives Unicode case folding as Python does, so
// e.g. the Kelvin sign U+212A matches [A-Z] in both.
const USER_RE =
  /^[-!#$%&'*+/=?^_`{}|~0-9A-Z]+(?:\.[-!#$%&'*+/=?^_`{}|~0-9A-Z]+)*$|^"(?:[\x01-\x08\x0b\x0c\x0e-\x1f!#-[\]-\x7f]|\\[\x01-\x09\x0b\x0c\x0e-\x7f])*"$/iu;
const DOMAIN_RE = /^(?:[A-Z0-9](?:[A-Z0-9-]{0,61}[A-Z0-9])?\.)+(?:[A-Z0-9-]{2,63}(?<!-))$/iu;
const LITERAL_RE = /^\[([A-f0-9:.]+)\]$/iu;

/** Django's EmailValidator: "Enter a valid email address." or null. */
export function validateEmail(value: string): string | null {
  const invalid = "Enter a valid email address.";
  // RFC 3696 section 3 maximum, counted in code points like Python's len().
  if (typeof value !== "string" || !value || !value.includes("@") || codePoints(value).length > 320) return invalid;
  const at = value.lastIndexOf("@");
  const user = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (!USER_RE.test(user)) return invalid;
  if (domain === "localhost" || validDomainPart(domain)) return null;
  // IDN retry: Python's "idna" codec leaves ASCII input unchanged, so only
  // non-ASCII domains can change. Node's converter is UTS #46 rather than
  // Python's IDNA 2003 (e.g. "ß" → "xn--zca" instead of "ss"); both give a
  // valid ASCII form for ordinary IDNs. "%" is refused up front because the
  // WHATWG converter percent-decodes and Python's codec does not.
  if (/^[\x00-\x7f]*$/.test(domain) || domain.includes("%")) return invalid;
  const ascii = domainToASCII(domain);
  return ascii && validDomainPart(ascii) ? null : invalid;
}

function validDomainPart(domain: string): boolean {
  if (DOMAIN_RE.test(domain)) return true;
  const literal = LITERAL_RE.exec(domain);
  if (!literal) return false;
  // validate_ipv46_address: IPv4 without leading zeros, or IPv6 of at most 39
  // characters (Django 3.2.25's limit). Node's checks agree with Python's
  // ipaddress on the cases in the tests; "%zone" can't reach here.
  const ip = literal[1]!;
  return isIPv4(ip) || (ip.length <= 39 && isIPv6(ip));
}

/**
 * The DRF field errors for AbstractUser.email (EmailField, max_length 254), in
 * DRF's order: max length, null characters, surrogates, email format. Pass the
 * trimmed value; blank is allowed by AbstractUser and never reaches validators.
 */
export function validateEmailField(value: string): string[] {
  const errors: string[] = [];
  // Counted on the stored forms too: lower-casing can lengthen a domain ("İ" becomes "i̇", two
  // code points), and the lower-cased address is the unique key under USERNAME_FIELD=email.
  const stored = normalizeEmail(value).toLowerCase();
  if (Math.max(codePoints(value).length, codePoints(stored).length) > 254) {
    errors.push("Ensure this field has no more than 254 characters.");
  }
  errors.push(...textCharErrors(value));
  const invalid = validateEmail(value);
  if (invalid) errors.push(invalid);
  return errors;
}

/** BaseUserManager.normalize_email: strip, then lower-case the domain part only. */
export function normalizeEmail(email: string | null | undefined): string {
  const value = email ?? "";
  const stripped = pythonStrip(value);
  const at = stripped.lastIndexOf("@");
  // Without "@", Django returns the input as given (not even stripped).
  if (at < 0) return value;
  return `${stripped.slice(0, at)}@${stripped.slice(at + 1).toLowerCase()}`;
}
