// Replays the golden Djoser transcripts (test/fixtures/djoser-transcripts.jsonl, see the README
// there) against a real Portcullis server, in order, on both databases, and compares every answer
// with the one the real Djoser 2.1 / DRF 3.14 / SimpleJWT server gave. Every transcript is
// replayed, none is skipped: where Portcullis answers otherwise on purpose, the seq is an intended
// deviation (listed below, with its own assertions).
//
// What is compared (per seq):
// - the status code, exactly;
// - the headers `Allow`, `WWW-Authenticate`, `Content-Type` and `Location`, exactly (absent on
//   one side = absent on the other);
// - JSON bodies: the same keys (recursively), the same value types, arrays element by element,
//   and the same strings — except dynamic values: `auth_token` (40 lowercase hex, and the same
//   key wherever Djoser returned the same key), user `id`s (through the id map), the API root's
//   absolute URL (our origin), and `detail` of JSON parse errors (only the "JSON parse error - "
//   prefix: Python's parser words its errors differently), and the `access`/`refresh` JWTs of
//   jwt/create and jwt/refresh (compareJwt: header, claim names, token type, user, and timing);
// - text bodies (empty 204/400 bodies, 301s, Django's 404 page), exactly;
// - reset mails: a password or username reset link leaves our mailbox exactly where the
//   reference mailed one (RESET_MAILS), to the same user.
//
// What is substituted in requests: auth tokens (transcript key → ours, learnt from the login
// answers), JWTs (transcript JWT → ours, learnt from the jwt/create|refresh answers; any other JWT
// the reference signed is re-signed with its times moved to now, see reforge), user ids in paths
// (learnt from the create answers; they line up on a fresh database), and the uid/token of mailed
// links — activation, password reset and username reset — (ours come from our own mailbox, the
// newest link of that kind for that user; probe tokens the reference never mailed go out as
// recorded). The unique username suffix (`_mwyeec79804b`) stays as recorded: each run has a
// fresh DB. The replay runs as fast as it can, except that it lets our clock tick to a new second
// where the reference's did between two logins (see movesLastLogin): reset links hash last_login
// to the second.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStaff, DATABASES, startTestServer, type TestServer } from "../../helpers/server.ts";
import { DEVIATIONS, lowerCasePrefix } from "./transcripts/deviations.ts";
import {
  authorizationOf,
  BY_SEQ,
  bodyOf,
  mailedLinkIn,
  mintedAt,
  REFERENCE_ENV,
  RESET_CONFIRM,
  RESET_MAILS,
  RESET_REQUEST,
  referenceClock,
  resetKindOf,
  TRANSCRIPTS,
  transcript,
  usersCreatedWith,
} from "./transcripts/reference.ts";
import { compareAll, Replay, send } from "./transcripts/replay.ts";

describe("transcript replay set-up", () => {
  it("lists deviations only for seqs that exist", () => {
    for (const seq of Object.keys(DEVIATIONS)) expect(BY_SEQ.has(Number(seq)), `deviation ${seq} exists`).toBe(true);
  });

  it("replays the one lower-case JWT prefix (seq 64) as deviation (b)", () => {
    // Djoser matches SimpleJWT prefixes case-sensitively ("jwt <access>" is "not provided", seq 64);
    // we accept them case-insensitively and answer as to "Bearer <access>" (seq 63).
    const lower = TRANSCRIPTS.filter((t) => /^(jwt|bearer)([ \t]|$)/.test(authorizationOf(t))).map((t) => t.seq);
    expect(lower).toEqual([64]);
    expect(DEVIATIONS[64]).toBe(lowerCasePrefix);
    expect(transcript(63).request.headers.Authorization).toBe(
      transcript(64).request.headers.Authorization!.replace(/^jwt /, "Bearer "),
    );
  });

  it("knows every reset mail of the reference: each minted by its reset request, for its user", () => {
    for (const m of RESET_MAILS) {
      const t = transcript(m.seq);
      expect(resetKindOf(RESET_REQUEST, t), `seq ${m.seq} is a reset_${m.kind}`).toBe(m.kind);
      expect(t.response.status, `seq ${m.seq} answered 204`).toBe(204);
      expect(usersCreatedWith(String(bodyOf(t)?.email)), `seq ${m.seq} asks for user ${m.user}'s email`).toEqual([
        m.user,
      ]);
      // Minted while answering (its Date header is sent after, in the same or the next second).
      const minted = mintedAt(m.token)!;
      expect(referenceClock(t) - minted, `token of seq ${m.seq} minted then`).toBeGreaterThanOrEqual(0);
      expect(referenceClock(t) - minted, `token of seq ${m.seq} minted then`).toBeLessThanOrEqual(1);
      const confirms = TRANSCRIPTS.filter(
        (c) => c.seq > m.seq && resetKindOf(RESET_CONFIRM, c) === m.kind && bodyOf(c)?.token === m.token,
      );
      expect(confirms.length, `seq ${m.seq}'s token comes back`).toBeGreaterThan(0);
    }
  });

  it("sends any other token of a confirm request as recorded: the reference never minted it", () => {
    const recording = [referenceClock(TRANSCRIPTS[0]!), referenceClock(TRANSCRIPTS.at(-1)!)] as const;
    const probes = TRANSCRIPTS.filter(
      (t) => resetKindOf(RESET_CONFIRM, t) && typeof bodyOf(t)?.token === "string" && !mailedLinkIn(t),
    );
    for (const t of probes) {
      const minted = mintedAt(String(bodyOf(t)!.token));
      expect(
        minted === undefined || minted < recording[0] || minted > recording[1],
        `seq ${t.seq}'s token ${String(bodyOf(t)!.token)} is a probe`,
      ).toBe(true);
    }
    expect(probes.map((t) => t.seq)).toEqual([176, 179, 201, 203]);
  });
});

describe.each(DATABASES)("Djoser transcripts replayed on %s", (db) => {
  let server: TestServer;
  let r: Replay;
  const counts = { replayed: 0, matched: 0, deviations: 0 };

  beforeAll(async () => {
    server = await startTestServer(db, REFERENCE_ENV);
    const admin = await createStaff(server);
    expect(admin.id).toBe(1); // as in the reference
    r = new Replay(server);
  });
  afterAll(async () => {
    console.log(
      `[${db}] transcripts: ${counts.replayed} of ${TRANSCRIPTS.length} replayed, ` +
        `${counts.matched} matched, ${counts.deviations} intended deviations`,
    );
    await server?.stop();
  });

  for (const t of TRANSCRIPTS) {
    const deviation = DEVIATIONS[t.seq];
    const title = `#${t.seq} ${t.request.method} ${t.request.path} → ${t.response.status}: ${t.test}`;
    it(deviation ? `${title} [intended deviation]` : title, async () => {
      counts.replayed++;
      const { got, problems } = await send(r, t);
      const learnt = r.learn(t, got);
      const compared = deviation
        ? deviation.check(got, t, r)
        : [...compareAll(got, t, r), ...r.checkResetMails(RESET_MAILS.filter((m) => m.seq === t.seq))];
      const found = [...problems, ...learnt, ...compared];
      expect(found, `seq ${t.seq}: ${t.test}`).toEqual([]);
      if (deviation) counts.deviations++;
      else counts.matched++;
    });
  }

  it("lined up user ids with the reference's", () => {
    expect([...r.ids].filter(([theirs, ours]) => theirs !== ours)).toEqual([]);
  });
});
