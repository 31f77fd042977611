// Replay state and comparison: a transcript's request rebuilt with our tokens, JWTs, ids and mailed
// links, sent to our server, and our answer compared with the reference's.
import { setTimeout as sleep } from "node:timers/promises";
import { readResponse } from "../../../helpers/net.ts";
import type { TestServer } from "../../../helpers/server.ts";
import {
  claimsOf,
  clock,
  header,
  hs256,
  isJwt,
  JSON_PARSE_ERROR,
  JWT,
  type Link,
  type LinkKind,
  linksIn,
  mailedLinkIn,
  REFERENCE_ORIGIN,
  RESET_CONFIRM,
  type ResetKind,
  referenceClock,
  segment,
  type Transcript,
  uidOf,
} from "./reference.ts";

export type Got = { status: number; headers: Headers; text: string; json: unknown };
type JwtPair = [theirs: string, ours: string];
/** One request's JWTs (as recorded and as sent; as answered by both) and both clocks then: compareJwt's context. */
type Exchange = { sent: JwtPair[]; answered: JwtPair[]; theirClock: number; ourClock: [from: number, to: number] };

export class Replay {
  /** transcript auth_token → ours */
  readonly keys = new Map<string, string>();
  /** transcript user id → ours (admin is 1 on both sides) */
  readonly ids = new Map<number, number>([[1, 1]]);
  /** transcript JWT → ours, learnt from the jwt/create and jwt/refresh answers */
  readonly jwts = new Map<string, string>();
  /** the JWTs of the request being replayed (set by send, completed by learn) */
  exchange: Exchange = { sent: [], answered: [], theirClock: 0, ourClock: [0, 0] };
  /** how many mails our mailbox held before the request being replayed (set by send) */
  mailsBefore = 0;
  /** both clocks (whole seconds) at the last request that moved a last_login (see movesLastLogin) */
  lastLoginMoved: { theirs: number; ours: number } | undefined;
  constructor(readonly server: TestServer) {}

  /** Our newest link of this kind to our user `ourId`. */
  private newestLink(kind: LinkKind, ourId: number): Link | undefined {
    return linksIn(this.server.mails())
      .filter((l) => l.kind === kind && l.uid === uidOf(ourId))
      .at(-1);
  }

  /** The reset links the request being replayed made us mail must be these (transcript users). */
  checkResetMails(expected: { kind: ResetKind; user: number }[]): string[] {
    const want = expected.map(({ kind, user }) => `${kind} reset link to ${uidOf(this.ids.get(user) ?? user)}`).sort();
    const sent = linksIn(this.server.mails().slice(this.mailsBefore)).filter((l) => l.kind !== "activation");
    const got = sent.map(({ kind, uid }) => `${kind} reset link to ${uid}`).sort();
    return JSON.stringify(got) === JSON.stringify(want)
      ? []
      : [`mails: expected ${JSON.stringify(want)}, we sent ${JSON.stringify(got)}`];
  }

  get origin() {
    return new URL(this.server.url).origin;
  }

  private substituteKeys(s: string): string {
    for (const [theirs, ours] of this.keys) s = s.split(theirs).join(ours);
    return s;
  }

  /** Every JWT in s: ours if learnt, else reforged (or as recorded); each recorded in `sent`. */
  private substituteJwts(s: string, t: Transcript, sent: JwtPair[]): string {
    return s.replace(JWT, (theirs) => {
      const ours = this.jwts.get(theirs) ?? this.reforge(theirs, t);
      sent.push([theirs, ours]);
      return ours;
    });
  }

  /**
   * A JWT we did not learn: one the reference's test suite forged, or one the reference issued in
   * an answer we answer otherwise (seq 316, a deviation). If the reference's secret signed it,
   * sign the same header and claims again (same order), with exp/iat/nbf moved by as much as our
   * clock is ahead of the reference's at this seq (an expired token stays expired, a fresh one is
   * fresh now) and user_id through the id map. Any other token (another key, alg none, a tampered
   * signature) goes out byte for byte as recorded: it must be refused either way.
   */
  private reforge(jwt: string, t: Transcript): string {
    const [head, payload, signature] = jwt.split(".") as [string, string, string];
    if (hs256(`${head}.${payload}`) !== signature) return jwt;
    const claims = claimsOf(jwt);
    const shift = clock() - referenceClock(t);
    for (const k of ["exp", "iat", "nbf"]) if (typeof claims[k] === "number") claims[k] = claims[k] + shift;
    if (typeof claims.user_id === "number") claims.user_id = this.ids.get(claims.user_id) ?? claims.user_id;
    const moved = Buffer.from(JSON.stringify(claims)).toString("base64url");
    return `${head}.${moved}.${hs256(`${head}.${moved}`)}`;
  }

  /** The request as recorded, with our tokens, JWTs, ids and mailed uid/token. */
  build(t: Transcript): { path: string; init: RequestInit; problems: string[]; jwtsSent: JwtPair[] } {
    const problems: string[] = [];
    const jwtsSent: JwtPair[] = [];
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(t.request.headers))
      headers[k] = this.substituteJwts(this.substituteKeys(v), t, jwtsSent);
    let body = t.request.body ?? undefined;
    if (body !== undefined) body = this.substituteJwts(this.substituteKeys(body), t, jwtsSent);
    const path = t.request.path.replace(
      /^\/auth\/users\/(\d+)(?=\/|$)/,
      (_m, id: string) => `/auth/users/${this.ids.get(Number(id)) ?? id}`,
    );
    const mailed = mailedLinkIn(t);
    if (mailed && body !== undefined) {
      const ourId = this.ids.get(mailed.user);
      const ours = ourId === undefined ? undefined : this.newestLink(mailed.kind, ourId);
      if (!ours) problems.push(`no ${mailed.kind} mail of ours for transcript user ${mailed.user} (ours ${ourId})`);
      else {
        body = body.replace(`"${mailed.token}"`, JSON.stringify(ours.token));
        // The uid too, where it is that user's (seqs 178 and 202 send another, with alice's token).
        if (mailed.uid === uidOf(mailed.user)) body = body.replace(`"${mailed.uid}"`, JSON.stringify(ours.uid));
      }
    }
    return { path, init: { method: t.request.method, headers, body, redirect: "manual" }, problems, jwtsSent };
  }

  /** Learns keys, JWTs and ids from an answer; reports a key that breaks Djoser's same/new-key pattern. */
  learn(t: Transcript, got: Got): string[] {
    const problems: string[] = [];
    const theirs = t.response.json as Record<string, unknown> | undefined;
    const ours = got.json as Record<string, unknown> | undefined;
    if (typeof theirs?.auth_token === "string" && typeof ours?.auth_token === "string") {
      const [x, y] = [theirs.auth_token, ours.auth_token];
      const known = this.keys.get(x);
      if (known !== undefined && known !== y)
        problems.push(`auth_token: Djoser returned the same key as before, we returned a different one`);
      if (known === undefined) {
        const reused = [...this.keys].find(([, v]) => v === y);
        // Seq 100: "token login after logout -> a NEW key"; so must ours be.
        if (reused)
          problems.push(
            `auth_token: Djoser minted a new key, we returned the key of transcript ${reused[0].slice(0, 8)}…`,
          );
        this.keys.set(x, y);
      }
    }
    for (const k of ["access", "refresh"]) {
      const [x, y] = [theirs?.[k], ours?.[k]];
      if (typeof x === "string" && typeof y === "string" && isJwt(x)) {
        this.jwts.set(x, y);
        this.exchange.answered.push([x, y]);
      }
    }
    if (
      t.request.method === "POST" &&
      /^\/auth\/users\/?$/.test(t.request.path) &&
      t.response.status === 201 &&
      got.status === 201
    ) {
      this.ids.set(Number(theirs?.id), Number(ours?.id));
    }
    return problems;
  }
}

const kind = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

/**
 * A JWT of a jwt/create|refresh answer (r.exchange holds the rest of that request). Ours must have
 * the reference's header, exactly; its claim names in its order, plus Portcullis's "sid" (the
 * session id, a string) and nothing else; each claim of the same JSON type; the same token_type;
 * the same user_id (through the id map); and the same timing: exp and iat as many seconds after
 * our clock during the request as the reference's were after its clock (its Date header) — the
 * same lifetime, 300 s or 86400 s. Except iat where SimpleJWT copies it: where the reference's iat
 * is another token's of the request (the access token of seq 59 carries its sibling refresh
 * token's iat; that of seq 77, the presented refresh token's: exp − iat = 301 there), ours must
 * be that token's too, and an iat copied from the request is not timed.
 */
function compareJwt(exp: string, got: string, at: string, r: Replay, out: string[]) {
  if (!isJwt(got)) return void out.push(`${at}: expected a JWT, got ${JSON.stringify(got)}`);
  if (segment(got, 0) !== segment(exp, 0))
    out.push(`${at}: header: expected ${segment(exp, 0)}, got ${segment(got, 0)}`);
  const [e, g] = [claimsOf(exp), claimsOf(got)];
  const names = Object.keys(g).filter((k) => k !== "sid");
  if (names.join() !== Object.keys(e).join() || ("sid" in g && typeof g.sid !== "string")) {
    out.push(`${at}: claims: expected ${JSON.stringify(e)} (+ "sid"), got ${JSON.stringify(g)}`);
  }
  for (const k of names)
    if (k in e && kind(e[k]) !== kind(g[k]))
      out.push(`${at}.${k}: expected a ${kind(e[k])}, got ${JSON.stringify(g[k])}`);
  if (g.token_type !== e.token_type)
    out.push(`${at}.token_type: expected ${String(e.token_type)}, got ${String(g.token_type)}`);
  const user = r.ids.get(e.user_id as number) ?? e.user_id;
  if (g.user_id !== user)
    out.push(`${at}.user_id: expected ${String(user)} (transcript ${String(e.user_id)}), got ${String(g.user_id)}`);
  const { sent, answered, theirClock, ourClock } = r.exchange;
  for (const [x, y] of [...sent, ...answered]) {
    if (x !== exp && claimsOf(x).iat === e.iat && claimsOf(y).iat !== g.iat)
      out.push(
        `${at}.iat: expected ${String(claimsOf(y).iat)} ` +
          `(copied from …${y.slice(-8)}, as the reference copied it), got ${String(g.iat)}`,
      );
  }
  const copied = sent.some(([x]) => claimsOf(x).iat === e.iat);
  for (const claim of copied ? ["exp"] : ["exp", "iat"]) {
    const offset = (e[claim] as number) - theirClock;
    const [from, to] = [ourClock[0] + offset, ourClock[1] + offset];
    const v = g[claim] as number;
    if (!(v >= from && v <= to))
      out.push(
        `${at}.${claim}: expected our clock ${offset >= 0 ? "+" : "−"} ${Math.abs(offset)} s ` +
          `(${from}…${to}), got ${String(v)}`,
      );
  }
}

function compareJson(exp: unknown, got: unknown, at: string, key: string | undefined, r: Replay, out: string[]) {
  if (kind(exp) !== kind(got)) {
    out.push(`${at}: expected ${kind(exp)} ${JSON.stringify(exp)}, got ${kind(got)} ${JSON.stringify(got)}`);
    return;
  }
  if (Array.isArray(exp)) {
    const g = got as unknown[];
    if (g.length !== exp.length)
      out.push(`${at}: expected ${exp.length} elements, got ${g.length}: ${JSON.stringify(g)}`);
    exp.forEach((e, i) => i < g.length && compareJson(e, g[i], `${at}[${i}]`, key, r, out));
  } else if (exp && typeof exp === "object") {
    const g = got as Record<string, unknown>;
    const [ek, gk] = [Object.keys(exp), Object.keys(g)];
    const missing = ek.filter((k) => !(k in g));
    const extra = gk.filter((k) => !(k in exp));
    if (missing.length || extra.length)
      out.push(`${at}: keys differ (missing ${JSON.stringify(missing)}, extra ${JSON.stringify(extra)})`);
    for (const k of ek) if (k in g) compareJson((exp as Record<string, unknown>)[k], g[k], `${at}.${k}`, k, r, out);
  } else if (typeof exp === "string") {
    const g = got as string;
    if (key === "auth_token") {
      if (!/^[0-9a-f]{40}$/.test(g)) out.push(`${at}: expected 40 lowercase hex, got ${g}`);
    } else if (key === "detail" && exp.startsWith(JSON_PARSE_ERROR)) {
      if (!g.startsWith(JSON_PARSE_ERROR)) out.push(`${at}: expected "${JSON_PARSE_ERROR}…", got ${JSON.stringify(g)}`);
    } else if ((key === "access" || key === "refresh") && isJwt(exp)) {
      compareJwt(exp, g, at, r, out);
    } else if (key === "users") {
      const want = exp.replace(REFERENCE_ORIGIN, r.origin);
      if (g !== want) out.push(`${at}: expected ${want}, got ${g}`);
    } else if (g !== exp) out.push(`${at}: expected ${JSON.stringify(exp)}, got ${JSON.stringify(g)}`);
  } else if (typeof exp === "number" && key === "id") {
    const want = r.ids.get(exp) ?? exp;
    if (got !== want) out.push(`${at}: expected id ${want} (transcript ${exp}), got ${String(got)}`);
  } else if (got !== exp) out.push(`${at}: expected ${JSON.stringify(exp)}, got ${JSON.stringify(got)}`);
}

const COMPARED_HEADERS = ["allow", "www-authenticate", "content-type", "location"] as const;

export function sameStatusAndHeaders(got: Got, t: Transcript, names: readonly string[] = COMPARED_HEADERS): string[] {
  const p: string[] = [];
  if (got.status !== t.response.status) p.push(`status: expected ${t.response.status}, got ${got.status}`);
  for (const name of names) {
    const want = header(t.response.headers, name) ?? null;
    const have = got.headers.get(name);
    if (want !== have) p.push(`${name}: expected ${JSON.stringify(want)}, got ${JSON.stringify(have)}`);
  }
  return p;
}

export function compareAll(got: Got, t: Transcript, r: Replay): string[] {
  const p = sameStatusAndHeaders(got, t);
  if ("json" in t.response) {
    if (got.json === undefined)
      p.push(`body: expected JSON ${JSON.stringify(t.response.json)}, got ${JSON.stringify(got.text)}`);
    else compareJson(t.response.json, got.json, "body", undefined, r, p);
  } else if (got.text !== (t.response.text ?? "")) {
    p.push(`body: expected ${JSON.stringify(t.response.text)}, got ${JSON.stringify(got.text)}`);
  }
  return p;
}

/**
 * The requests that moved a last_login in the reference: token logins (Djoser's login_user) and
 * reset confirmations; not jwt/create (SimpleJWT's UPDATE_LAST_LOGIN is off). Django's reset
 * tokens hash last_login to the second, and ours are byte for byte Django's, so a login ends a
 * link mailed before it only in a later second (seqs 185 and 207 expect it ended). The reference
 * ran slower than our replay does: where its clock ticked between two such requests, send waits
 * for ours to tick too.
 */
const movesLastLogin = (t: Transcript) =>
  (t.response.status === 200 && /^\/auth\/token\/login\/?$/.test(t.request.path)) ||
  (t.response.status === 204 && RESET_CONFIRM.test(t.request.path));

export async function send(r: Replay, t: Transcript): Promise<{ got: Got; problems: string[] }> {
  const { path, init, problems, jwtsSent: sent } = r.build(t);
  const previous = r.lastLoginMoved;
  if (movesLastLogin(t) && previous && referenceClock(t) > previous.theirs) {
    const wait = (previous.ours + 1) * 1000 - Date.now();
    if (wait > 0) await sleep(wait);
  }
  r.mailsBefore = r.server.mails().length;
  const from = clock();
  const got = await readResponse(await fetch(r.server.url + path, init));
  await r.server.deps.outbox.idle(); // mails queued by the request are sent just after it
  r.exchange = { sent, answered: [], theirClock: referenceClock(t), ourClock: [from, clock()] };
  if (movesLastLogin(t)) r.lastLoginMoved = { theirs: referenceClock(t), ours: clock() };
  return { got, problems };
}
