// The response shapes each adapter promises, checked answer by answer, and the figures the fuzz
// suite prints.

import { METHODS } from "node:http";
import type { Answer, Wire } from "./wire.ts";

// ── What each adapter promises ────────────────────────────────────────────────────────────────

const isJsonType = (a: Answer) => /^application\/json\b/i.test(String(a.headers["content-type"] ?? ""));
function parse(a: Answer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(a.body.toString("utf8")) };
  } catch {
    return { ok: false };
  }
}
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isStringList = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((m) => typeof m === "string");
const pathOf = (w: Wire) => w.path.split(/[?#]/)[0]!;

/** DRF's error shapes: {detail: "…", …}, {field: ["…", …], …}, or a bare list of messages. */
export function isDrfError(v: unknown): boolean {
  if (isStringList(v)) return true;
  if (!isObject(v) || Object.keys(v).length === 0) return false;
  if (typeof v.detail === "string") return true;
  return Object.values(v).every(isStringList);
}

// The contracts beyond DRF's that some paths keep: django-trench's {"error": "…"} on its views,
// Djoser 2.3's WebAuthn refusal, whose non_field_errors is a string, and Djoser's social view's
// bare string for a redirect_uri off SOCIAL_AUTH_ALLOWED_REDIRECT_URIS.
const TRENCH_PATH =
  /\/(login\/(code\/)?|[^/]*\/(activate\/(confirm\/)?|deactivate\/|codes\/regenerate\/)|code\/request\/|mfa\/[^/]+\/)$/;
const WEBAUTHN_PATH = /\/(webauthn\/(signup\/[^/]+|login)|passkeys\/register)\/$/;
const SOCIAL_PATH = /\/(o|social\/link)\/[^/]+\/$/;
function isOtherContract(path: string, v: unknown): boolean {
  if (v === "redirect_uri must be in SOCIAL_AUTH_ALLOWED_REDIRECT_URIS") return SOCIAL_PATH.test(path);
  if (!isObject(v) || Object.keys(v).length !== 1) return false;
  if (typeof v.error === "string") return TRENCH_PATH.test(path);
  return v.non_field_errors === "WebAuthn verification failed." && WEBAUTHN_PATH.test(path);
}

/** null when the answer is one the REST adapter may give; else what is wrong with it. */
export function checkRest(w: Wire, a: Answer): string | null {
  if (a.status >= 500) return `${a.status} server error`;
  if (w.method === "HEAD") return a.body.length ? "HEAD answered with a body" : null;
  if (a.status >= 300 && a.status < 400) {
    // Django's APPEND_SLASH: only a slash-less path may be redirected, and only to itself plus "/".
    const location = String(a.headers.location ?? "");
    return a.status === 301 && !pathOf(w).endsWith("/") && location.split("?")[0] === `${pathOf(w)}/`
      ? null
      : `unexpected ${a.status} to ${location}`;
  }
  if (a.status === 204) return a.body.length ? "204 with a body" : null;
  if (isBodilessRefusal(a)) return null;
  // Djoser's empty 400.
  if (a.status === 400 && a.body.length === 0 && /\/resend_activation\/$/.test(pathOf(w))) return null;
  // Django's own 404 page answers a path no route matches, as legacy clients receive it.
  if (
    a.status === 404 &&
    /^text\/html/.test(String(a.headers["content-type"])) &&
    a.body.includes("<h1>Not Found</h1>")
  )
    return null;
  if (!isJsonType(a)) return `${a.status} with Content-Type ${a.headers["content-type"] ?? "(none)"}`;
  const body = parse(a);
  if (!body.ok) return `${a.status} with a body that is not JSON`;
  if (a.status < 300)
    return isObject(body.value) || Array.isArray(body.value) ? null : `${a.status} with a JSON scalar`;
  return isDrfError(body.value) || isOtherContract(pathOf(w), body.value)
    ? null
    : `${a.status} not in a DRF error shape${pathOf(w).startsWith("/auth/") ? "" : " (path outside /auth/)"}`;
}

type TrpcErrorShape = { error: { message: string; code: number; data: { code: string; httpStatus: number } } };
function isTrpcError(v: unknown): v is TrpcErrorShape {
  if (!isObject(v) || !isObject(v.error)) return false;
  const { message, code, data } = v.error;
  return (
    typeof message === "string" &&
    typeof code === "number" &&
    isObject(data) &&
    typeof data.code === "string" &&
    typeof data.httpStatus === "number"
  );
}
const isTrpcResult = (v: unknown) => isObject(v) && isObject(v.result);

/**
 * Node's parser refused the request (a header too large, a malformed request) where its method
 * is not sure (see methodInView in src/http/guards.ts): the answer closes the connection without a
 * body, which any client, one that sent HEAD included, reads right.
 */
const isBodilessRefusal = (a: Answer) =>
  (a.status === 431 || a.status === 400 || a.status === 408) && a.body.length === 0 && a.headers.connection === "close";

/**
 * What Node's HTTP parser refuses (a method it does not know, headers over 16 KB) never reaches a
 * route, so no adapter answers it: the server's own {"detail": …} does, for every path.
 */
const isTransportRefusal = (w: Wire, a: Answer, v: unknown) =>
  (a.status === 431 || (a.status === 400 && !METHODS.includes(w.method))) &&
  isObject(v) &&
  typeof v.detail === "string";

/** null when the answer is one tRPC's HTTP protocol allows; `calls` is the batch's length (0 unbatched). */
export function checkTrpc(w: Wire, a: Answer, calls: number): string | null {
  if (a.status >= 500) return `${a.status} server error`;
  if (w.method === "HEAD") return a.body.length ? "HEAD answered with a body" : null;
  if ((a.status === 204 && a.body.length === 0) || isBodilessRefusal(a)) return null;
  const lines = a.body.toString("utf8").split("\n").filter(Boolean);
  if (w.headers["trpc-accept"] && a.status === 200 && lines.length > 1) {
    // A streamed batch: a head line, then one line per settled call; each a JSON value.
    return lines.every((l) => parse({ ...a, body: Buffer.from(l) }).ok)
      ? null
      : "a JSON Lines answer with a line that is not JSON";
  }
  const body = parse(a);
  if (!body.ok) return `${a.status} with a body that is not JSON`;
  const v = body.value;
  if (isTransportRefusal(w, a, v)) return null;
  if (!isJsonType(a))
    return `${a.status} in tRPC's shape but with Content-Type ${a.headers["content-type"] ?? "(none)"}`;
  // A batch answers item by item, or with one error when the request as a whole is refused.
  if (calls && Array.isArray(v)) {
    if (v.length !== calls) return `a batch of ${calls} answered with ${v.length} items`;
    const bad = v.find((item) => !isTrpcResult(item) && !isTrpcError(item));
    if (bad !== undefined) return `batch item not in tRPC's shape: ${JSON.stringify(bad).slice(0, 200)}`;
    const mixed = a.status === 207;
    const wrong = v.find((item) => isTrpcError(item) && !mixed && item.error.data.httpStatus !== a.status);
    return wrong
      ? `batch status ${a.status} but an item says ${(wrong as TrpcErrorShape).error.data.httpStatus}`
      : null;
  }
  if (a.status < 300) return isTrpcResult(v) ? null : `${a.status} without {result}`;
  if (!isTrpcError(v)) return `${a.status} not in tRPC's error shape`;
  return v.error.data.httpStatus === a.status
    ? null
    : `status ${a.status} but data.httpStatus ${v.error.data.httpStatus}`;
}

// ── Figures ───────────────────────────────────────────────────────────────────────────────────

export type Tally = {
  sent: number;
  statuses: Map<string, number>;
  serverErrors: number;
  violations: number;
  validAuth: number;
};
export const newTally = (): Tally => ({ sent: 0, statuses: new Map(), serverErrors: 0, violations: 0, validAuth: 0 });

export function table(title: string, rows: [string, Tally][]): string {
  const hist = (t: Tally) =>
    [...t.statuses]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([s, n]) => `${s}:${n}`)
      .join(" ");
  const width = Math.max(...rows.map(([n]) => n.length), 8);
  const lines = rows.map(([name, t]) =>
    [
      name.padEnd(width),
      String(t.sent).padStart(7),
      String(t.serverErrors).padStart(3),
      String(t.violations).padStart(5),
      hist(t),
    ].join("  "),
  );
  return [title, `${"endpoint".padEnd(width)}  ${"sent".padStart(7)}  5xx   fail  statuses`, ...lines].join("\n");
}
