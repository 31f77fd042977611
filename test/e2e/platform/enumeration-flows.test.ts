// No account enumeration: whoever asks, a login or a mail flow answers a known and an unknown
// account alike, byte for byte and in the same time. Logins burn one argon2 verification for an
// unknown user (a dummy hash), so "no such user" is not ~10× faster than "wrong password"; the
// mail flows queue their mail and answer, so a slow mail server does not show which emails exist.
// PostgreSQL, the default (OWASP) argon2 cost, and a real SMTP server that takes 300 ms a message.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseMessage, uidToken } from "../../helpers/mail.ts";
import { startTestServer, type TestServer } from "../../helpers/server.ts";
import { type Inbox, startInbox } from "../../helpers/smtp.ts";
import { PW, post, ROUNDS, race, sameAnswer, stranger, WRONG } from "./enumeration-setup.ts";

const SMTP_DELAY_MS = 300;
/** The link each mail carries: activation, password reset or username reset, on the frontend. */
const MAIL_LINK =
  /http:\/\/localhost:8000\/#\/(activate|(password|username)\/reset\/confirm)\/[\w-]+\/[0-9a-z]+-[0-9a-f]+/;

describe("account enumeration (PostgreSQL, OWASP argon2, slow SMTP)", () => {
  let s: TestServer;
  let inbox: Inbox;
  /** Mails each address must eventually receive, by subject (checked at the end). */
  const expected = new Map<string, number>();
  const expect1 = (to: string, subject: string, n = 1) =>
    expected.set(`${to}\n${subject}`, (expected.get(`${to}\n${subject}`) ?? 0) + n);

  beforeAll(async () => {
    inbox = await startInbox({ delayMs: SMTP_DELAY_MS });
    s = await startTestServer("postgresql", {
      EMAIL_BACKEND: "smtp",
      EMAIL_HOST: "127.0.0.1",
      EMAIL_PORT: String(inbox.port),
      EMAIL_TIMEOUT: "10",
      DJOSER_SEND_ACTIVATION_EMAIL: "true",
      // The timing runs fail the same account ~60 times: keep the lockout's waits out of the way.
      LOGIN_LOCKOUT: JSON.stringify({ FREE_FAILURES: 100, MAX_FAILURES: 100 }),
    });
    // alice: registered and activated; dormant: registered, never activated.
    for (const username of ["alice", "dormant"]) {
      const json = { username, email: `${username}@example.com`, password: PW };
      const created = await s.request("POST", "/auth/users/", { json });
      expect(created.status, created.text).toBe(201);
    }
    expect1("alice@example.com", "Account activation on Portcullis");
    expect1("dormant@example.com", "Account activation on Portcullis");
    const [mail] = await inbox.waitFor("alice@example.com", "Account activation on Portcullis", 1);
    const link = parseMessage(mail!.raw)
      .parts.get("text/plain")!
      .match(/https?:\/\/\S+/)![0];
    expect((await s.request("POST", "/auth/users/activation/", { json: uidToken(link) })).status).toBe(204);
    expect((await s.request("POST", "/auth/token/login/", { json: { username: "alice", password: PW } })).status).toBe(
      200,
    );
  }, 90_000);
  afterAll(async () => {
    await s?.stop();
    await inbox?.close();
  });

  describe("mail flows: 204 for any email, answered before the (slow) mail server is spoken to", () => {
    const FLOWS = [
      ["reset_password", "/auth/users/reset_password/", "alice@example.com", "Password reset on Portcullis"],
      ["reset_username", "/auth/users/reset_username/", "alice@example.com", "Username reset on Portcullis"],
      [
        "resend_activation",
        "/auth/users/resend_activation/",
        "dormant@example.com",
        "Account activation on Portcullis",
      ],
    ] as const;

    it.each(FLOWS)(
      "%s: known and unknown emails get one answer, in the same time",
      async (label, path, email, subject) => {
        const { medians, answer } = await race(s, label, path, () => ({ email }), {
          unknown: () => ({ email: `${stranger()}@example.com` }),
        });
        expect(answer).toMatchObject({ status: 204, body: "" });
        // Sent inline, each known answer would wait ≥ 300 ms for the SMTP server.
        expect(medians.known).toBeLessThanOrEqual(3 * medians.unknown! + 5);
        expect1(email, subject, ROUNDS + 1); // the rounds and the warm-up
      },
      60_000,
    );

    it(
      "resend_activation: an active account's email answers as an unknown one does " +
        "(and gets no mail: see the last test)",
      async () => {
        const unknown = await post(s, "/auth/users/resend_activation/", { email: `${stranger()}@example.com` });
        sameAnswer(
          unknown,
          await post(s, "/auth/users/resend_activation/", { email: "alice@example.com" }),
          "active account",
        );
        sameAnswer(
          unknown,
          await post(s, "/auth/users/resend_activation/", { email: "dormant@example.com" }),
          "inactive account",
        );
        expect1("dormant@example.com", "Account activation on Portcullis");
      },
    );

    it.each([
      ["users.resetPassword", "alice@example.com", "Password reset on Portcullis"],
      ["users.resetUsername", "alice@example.com", "Username reset on Portcullis"],
      ["users.resendActivation", "dormant@example.com", "Account activation on Portcullis"],
    ] as const)("tRPC %s: known and unknown emails get one answer", async (procedure, email, subject) => {
      const known = await post(s, `/trpc/${procedure}`, { email });
      expect(known.status).toBe(200);
      sameAnswer(known, await post(s, `/trpc/${procedure}`, { email: `${stranger()}@example.com` }), procedure);
      expect1(email, subject);
    });
  });

  describe("login: unknown user, wrong password and inactive user answer alike", () => {
    const LOGINS = [
      ["REST token/login", "/auth/token/login/"],
      ["REST jwt/create", "/auth/jwt/create/"],
      ["tRPC token.login", "/trpc/token.login"],
      ["tRPC jwt.create", "/trpc/jwt.create"],
    ] as const;

    it.each(LOGINS)(
      "%s: known-wrong, unknown, inactive (right or wrong password) → one answer",
      async (_label, path) => {
        const wrong = await post(s, path, { username: "alice", password: WRONG });
        expect(wrong.status).toBeGreaterThanOrEqual(400);
        expect(wrong.status).toBeLessThan(500);
        for (const [what, body] of [
          ["unknown user", { username: stranger(), password: WRONG }],
          ["unknown user, the right password of another", { username: stranger(), password: PW }],
          ["inactive user, right password", { username: "dormant", password: PW }],
          ["inactive user, wrong password", { username: "dormant", password: WRONG }],
        ] as const) {
          sameAnswer(wrong, await post(s, path, body), `${path}: ${what}`);
        }
      },
    );

    it("the answers are Djoser's and SimpleJWT's words", async () => {
      expect(JSON.parse((await post(s, "/auth/token/login/", { username: stranger(), password: PW })).body)).toEqual({
        non_field_errors: ["Unable to log in with provided credentials."],
      });
      const jwt = await post(s, "/auth/jwt/create/", { username: "dormant", password: PW });
      expect(jwt.status).toBe(401);
      expect(JSON.parse(jwt.body).detail).toBe("No active account found with the given credentials");
    });

    it.each(LOGINS)(
      "%s: an unknown user costs a password hash too (median ≥ 0.6× the wrong-password median)",
      async (label, path) => {
        const { medians } = await race(s, `login ${label}`, path, () => ({ username: "alice", password: WRONG }), {
          unknown: () => ({ username: stranger(), password: WRONG }),
          inactive: () => ({ username: "dormant", password: PW }),
        });
        // With the dummy verification the medians are within ~20% of each other; without it an
        // unknown user answers 2-3× faster on a busy machine (the database's share grows with the
        // load), ~10× on an idle one. 0.6 sits between.
        expect(medians.unknown).toBeGreaterThanOrEqual(0.6 * medians.known!);
        // An inactive user's password is checked too (activity is looked at after it).
        expect(medians.inactive).toBeGreaterThanOrEqual(0.6 * medians.known!);
      },
      60_000,
    );
  });

  describe("registration: the trade-off", () => {
    // Djoser users choose their usernames, so a taken one must be said to be taken: registration
    // tells whether a username exists. (The registration throttle is what limits probing.) What
    // it must not do is tell more than that, e.g. whether the account is active.
    it("a taken username says so, for an active and an inactive account alike", async () => {
      for (const username of ["alice", "dormant"]) {
        const dup = await post(s, "/auth/users/", { username, email: `${stranger()}@example.com`, password: PW });
        expect(dup.status).toBe(400);
        expect(JSON.parse(dup.body)).toEqual({ username: ["A user with that username already exists."] });
      }
      const trpc = await post(s, "/trpc/users.create", { username: "alice", password: PW });
      expect(trpc.status).toBe(400);
      expect(JSON.parse(trpc.body).error.data.fields).toEqual({
        username: ["A user with that username already exists."],
      });
    });

    it(
      "a taken email is not said to be taken (USERNAME_FIELD=username: " + "emails are not unique, as in Django)",
      async () => {
        const r = await post(s, "/auth/users/", { username: stranger(), email: "alice@example.com", password: PW });
        expect(r.status, r.body).toBe(201);
        expect1("alice@example.com", "Account activation on Portcullis"); // the new, inactive account's
      },
    );
  });

  // Last, so the slow deliveries overlap the login timings above instead of adding to them.
  describe("delivery", () => {
    it("every mail asked for arrives, after the answers (delivered from the outbox)", async () => {
      for (const [key, count] of expected) {
        const [to, subject] = key.split("\n") as [string, string];
        const arrived = await inbox.waitFor(to, subject, count);
        for (const m of arrived) expect(parseMessage(m.raw).parts.get("text/plain")).toMatch(MAIL_LINK);
      }
      await s.deps.outbox.idle();
      // Exactly these: none to unknown addresses, no activation mail to the active account.
      const got = new Map<string, number>();
      for (const m of inbox.received)
        for (const to of m.to) got.set(`${to}\n${m.subject}`, (got.get(`${to}\n${m.subject}`) ?? 0) + 1);
      expect(Object.fromEntries(got)).toEqual(Object.fromEntries(expected));
      console.log(`mails delivered over SMTP: ${inbox.received.length}`);
    }, 60_000);
  });
});
