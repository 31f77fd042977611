// Django 3.2 / DRF field validators (username, email, the characters every text field refuses)
// with their exact English messages and order, so error bodies match what a Djoser deployment
// answered. Password validation is password-validation.ts.
import { isIPv4, isIPv6 } from "node:net";
import { domainToASCII } from "node:url";

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
export function codePoints(value: string): string[] {
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
const USER_RE = new RegExp(
  [
    "^[-!#$%&'*+/=?^_`{}|~0-9A-Z]+(?:\\.[-!#$%&'*+/=?^_`{}|~0-9A-Z]+)*$", // dot-atom
    String.raw`^"(?:[\x01-\x08\x0b\x0c\x0e-\x1f!#-[\]-\x7f]|\\[\x01-\x09\x0b\x0c\x0e-\x7f])*"$`, // quoted-string
  ].join("|"),
  "iu",
);
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
