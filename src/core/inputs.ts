// Input schemas for every flow, shared by both adapters: zod types for typed tRPC clients, DRF's
// messages for legacy REST clients ("This field is required.", "This field may not be blank."…).
// Cross-field rules (password validators, retype mismatch) live in the services.
import { z } from "zod";
import { surrogateError, validateEmailField, validateUsername } from "../compat/django/validators.ts";
import { AuthError } from "../errors.ts";
import type { FieldErrors } from "./dto.ts";

const fieldError = (iss: { input?: unknown }) =>
  iss.input === undefined
    ? "This field is required."
    : iss.input === null
      ? "This field may not be null."
      : "Not a valid string.";

// DRF's ProhibitNullCharactersValidator, last of every CharField's validators. PostgreSQL cannot
// store (or even compare against) a NUL in text, so without it a lookup would fail as a 500.
const noNul = [(v: string) => !v.includes("\u0000"), { error: "Null characters are not allowed." }] as const;

/** The largest row id: Django's AutoField is a 32-bit signed integer; PostgreSQL refuses more (a 500). */
export const MAX_ID = 2_147_483_647;
/** A row id in a typed input: 1 to MAX_ID, as a path accepts it (idInPath). */
export const idField = () => z.number().int().positive().max(MAX_ID);
/** A row id in a path ("42", "007"): 1 to MAX_ID in at most 10 digits, else null (a 404, as Django's lookup). */
export function idInPath(raw: string | undefined): number | null {
  const id = raw && /^\d{1,10}$/.test(raw) ? Number(raw) : 0;
  return id >= 1 && id <= MAX_ID ? id : null;
}

/** A string with DRF's type messages, untrimmed and blank allowed (the caller decides). */
export const stringField = () => z.string({ error: fieldError }).refine(...noNul);

function baseCharField(opts: { maxLength?: number; trim?: boolean; allowBlank?: boolean }) {
  let s = z.string({ error: fieldError });
  if (opts.trim !== false) s = s.trim();
  if (!opts.allowBlank) s = s.min(1, { error: "This field may not be blank.", abort: true });
  if (opts.maxLength)
    s = s.max(opts.maxLength, { error: `Ensure this field has no more than ${opts.maxLength} characters.` });
  return s;
}

/** DRF's CharField: trims by default, refuses blank unless allowed. */
export function charField(opts: { maxLength?: number; trim?: boolean; allowBlank?: boolean } = {}) {
  return baseCharField(opts).refine(...noNul);
}

/**
 * Longest password accepted, in characters (code points, as Django counts) and in UTF-8 bytes.
 * Django sets none, but every password is hashed and run through the validators: without a cap
 * one 64 kB body buys that work for whoever sends it. Far above any passphrase (NIST asks for 64).
 */
export const PASSWORD_MAX_LENGTH = 1024;
export const PASSWORD_MAX_BYTES = 1024;

/** The cap, as one message in DRF's words (the characters first: that is what a person counts). */
function passwordCap(v: string, ctx: z.RefinementCtx) {
  if (v.length > PASSWORD_MAX_LENGTH && Array.from(v).length > PASSWORD_MAX_LENGTH) {
    ctx.addIssue({ code: "custom", message: `Ensure this field has no more than ${PASSWORD_MAX_LENGTH} characters.` });
  } else if (Buffer.byteLength(v, "utf8") > PASSWORD_MAX_BYTES) {
    const message = `Ensure this field has no more than ${PASSWORD_MAX_BYTES} bytes (UTF-8).`;
    ctx.addIssue({ code: "custom", message });
  }
}

// DRF's CharField refuses lone surrogates. UTF-8 cannot hold one: hashed, "\ud800" and "\udc00"
// both become U+FFFD, so two different passwords would be one.
export function noSurrogate(v: string, ctx: z.RefinementCtx) {
  const message = surrogateError(v);
  if (message) ctx.addIssue({ code: "custom", message });
}

/** Every field that holds a password (password, re_password, current_password, new_password…). */
export const passwordField = () =>
  baseCharField({})
    .superRefine(passwordCap)
    .refine(...noNul)
    .superRefine(noSurrogate);
/** A password field that is optional and may be blank, untrimmed (users/me's current_password). */
export const optionalPasswordField = () => stringField().superRefine(passwordCap).superRefine(noSurrogate).optional();
// Length is counted in code points and reported in DRF's order by the validators themselves.
export const usernameField = () =>
  baseCharField({})
    .superRefine((v, ctx) => {
      for (const message of validateUsername(v)) ctx.addIssue({ code: "custom", message });
    })
    .refine(...noNul);
export const emailField = (opts: { allowBlank?: boolean } = {}) =>
  baseCharField({ allowBlank: opts.allowBlank })
    .superRefine((v, ctx) => {
      if (v === "" && opts.allowBlank) return;
      for (const message of validateEmailField(v)) ctx.addIssue({ code: "custom", message });
    })
    .refine(...noNul);

const pyType = (v: unknown) =>
  Array.isArray(v)
    ? "list"
    : v === null
      ? "NoneType"
      : typeof v === "string"
        ? "str"
        : typeof v === "boolean"
          ? "bool"
          : Number.isInteger(v)
            ? "int"
            : typeof v === "number"
              ? "float"
              : typeof v;

/** Builds a settings-dependent schema once per settings object (settings never change while a server runs). */
export function perSettings<D extends { settings: object }, T>(build: (deps: D) => T): (deps: D) => T {
  const built = new WeakMap<object, T>();
  return (deps) => {
    let schema = built.get(deps.settings);
    if (schema === undefined) {
      schema = build(deps);
      built.set(deps.settings, schema);
    }
    return schema;
  };
}

/** A DRF-style object: anything but a JSON object is refused with DRF's non-field message. */
export function form<T extends z.ZodRawShape>(shape: T) {
  return z.object(shape, { error: (iss) => `Invalid data. Expected a dictionary, but got ${pyType(iss.input)}.` });
}

/** zod issues → DRF's {"field": ["message", …]} in field order; the form itself → non_field_errors. */
export function toFieldErrors(error: z.ZodError): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of error.issues) {
    const key = issue.path.length ? String(issue.path[0]) : "non_field_errors";
    out[key] = [...(out[key] ?? []), issue.message];
  }
  return out;
}

/** Parses with a flow's schema, throwing the 400 both adapters know how to render. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) throw new AuthError("invalid_input", undefined, { fields: toFieldErrors(result.error) });
  return result.data;
}

type Shapes<F extends z.ZodObject[]> = F[number]["shape"];
type KeysOf<U> = U extends unknown ? keyof U : never;
type FieldOf<U, K> = U extends unknown ? (K extends keyof U ? z.output<Extract<U[K], z.ZodType>> : never) : never;
type Typed<T> = z.ZodOptional<z.ZodType<T, T>>;
export type ClientInput<F extends z.ZodObject[]> = z.ZodObject<{
  [K in KeysOf<Shapes<F>> & string]: Typed<Exclude<FieldOf<Shapes<F>, K>, undefined>>;
}>;

/** A field's kind with DRF's type messages and nothing else: checks, trimming and limits stay the flow's. */
function kindOnly(field: z.ZodType): z.ZodType {
  const def = field._zod.def as { type: string; innerType?: z.ZodType; in?: z.ZodType };
  if (def.innerType) return kindOnly(def.innerType); // optional, nullable, default
  if (def.in) return kindOnly(def.in); // a pipe: what goes in
  if (def.type === "string") return z.string({ error: fieldError });
  return field;
}

/**
 * A flow's input as typed clients see it (its tRPC `.input`), built from the flow's own forms: one
 * per settings variant that changes the fields, so every field some settings ask for is there,
 * optional and checked for its kind only. The flow then parses the same input against the
 * settings in force, so both adapters answer a bad input with the same fields and messages, and
 * the typed shape cannot drift from the one the server checks.
 */
export function clientInput<F extends z.ZodObject[]>(...forms: F): ClientInput<F> {
  const fields: Record<string, z.ZodType> = {};
  for (const f of forms)
    for (const [name, field] of Object.entries(f.shape)) fields[name] ??= kindOnly(field).optional();
  return form(fields) as unknown as ClientInput<F>;
}
