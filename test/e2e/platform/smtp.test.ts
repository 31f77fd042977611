// EMAIL_BACKEND=smtp against a real SMTP server on loopback (smtp-server, no TLS): the activation
// mail travels over SMTP and its link activates; with the SMTP server down, registration still
// succeeds and the queued mail is delivered once the server is back (src/core/mail/outbox.ts).
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseMessage, uidToken } from "../../helpers/mail.ts";
import { freePort } from "../../helpers/net.ts";
import { DATABASES, startTestServer, type TestServer } from "../../helpers/server.ts";
import { type Inbox, startInbox } from "../../helpers/smtp.ts";

const PW = "Kq7!vLp2#Zx9";

function activationLink(raw: string): { uid: string; token: string } {
  const { headers, parts } = parseMessage(raw);
  expect(headers.get("subject")).toBe("Account activation on Portcullis");
  const text = parts.get("text/plain") ?? "";
  const html = parts.get("text/html") ?? "";
  const link = text.match(/https?:\/\/\S+/g)?.find((l) => l.includes("/activate/"));
  expect(link, text).toBeDefined();
  // The HTML part carries the same link.
  expect(html).toContain(`href="${link}"`);
  return uidToken(link!);
}

describe.each(DATABASES)("SMTP backend on %s", (kind) => {
  describe("with an SMTP server listening", () => {
    let inbox: Inbox;
    let s: TestServer;
    beforeAll(async () => {
      inbox = await startInbox();
      s = await startTestServer(kind, {
        EMAIL_BACKEND: "smtp",
        EMAIL_HOST: "127.0.0.1",
        EMAIL_PORT: String(inbox.port),
        EMAIL_TIMEOUT: "5",
        DEFAULT_FROM_EMAIL: "Portcullis <noreply@portcullis.test>",
        DJOSER_SEND_ACTIVATION_EMAIL: "true",
        DJOSER_DOMAIN: "app.example.com",
        DJOSER_PROTOCOL: "https",
      });
    });
    afterAll(async () => {
      await s?.stop();
      await inbox?.close();
    });

    it("register → the activation mail arrives over SMTP → its link activates → login", async () => {
      const created = await s.request("POST", "/auth/users/", {
        json: { username: "smtpuser", email: "smtpuser@example.com", password: PW },
      });
      expect(created.status).toBe(201);
      const mail = await inbox.next();
      expect(mail.from).toBe("noreply@portcullis.test");
      expect(mail.to).toEqual(["smtpuser@example.com"]);
      const { headers, parts } = parseMessage(mail.raw);
      expect(headers.get("to")).toBe("smtpuser@example.com");
      expect(headers.get("from")).toContain("noreply@portcullis.test");
      expect(parts.get("text/plain")).toContain("https://app.example.com/#/activate/");
      // Nothing was written by the file backend.
      expect(s.mails()).toEqual([]);

      const link = activationLink(mail.raw);
      expect(Buffer.from(link.uid, "base64url").toString()).toBe(String(created.json.id));
      const activated = await s.request("POST", "/auth/users/activation/", { json: link });
      expect(activated.status).toBe(204);
      const login = await s.request("POST", "/auth/token/login/", { json: { username: "smtpuser", password: PW } });
      expect(login.status).toBe(200);
      expect(login.json.auth_token).toMatch(/^[0-9a-f]{40}$/);
    });

    it("resend_activation sends another mail over SMTP", async () => {
      expect(
        (
          await s.request("POST", "/auth/users/", {
            json: { username: "again", email: "again@example.com", password: PW },
          })
        ).status,
      ).toBe(201);
      const first = await inbox.next();
      expect(first.to).toEqual(["again@example.com"]);
      const resent = await s.request("POST", "/auth/users/resend_activation/", {
        json: { email: "again@example.com" },
      });
      expect(resent.status).toBe(204);
      const second = await inbox.next();
      expect(second.to).toEqual(["again@example.com"]);
      expect((await s.request("POST", "/auth/users/activation/", { json: activationLink(second.raw) })).status).toBe(
        204,
      );
    });
  });

  describe("with the SMTP server down", () => {
    let s: TestServer;
    let inbox: Inbox | undefined;
    let port: number;
    beforeAll(async () => {
      port = await freePort();
      s = await startTestServer(kind, {
        EMAIL_BACKEND: "smtp",
        EMAIL_HOST: "127.0.0.1",
        EMAIL_PORT: String(port),
        EMAIL_TIMEOUT: "5",
        DJOSER_SEND_ACTIVATION_EMAIL: "true",
      });
    });
    afterEach(async () => {
      await inbox?.close();
      inbox = undefined;
    });
    afterAll(async () => s?.stop());

    it("registration and resend answer at once; the queued mails wait, and arrive once SMTP is back", {
      timeout: 90_000,
    }, async () => {
      const created = await s.request("POST", "/auth/users/", {
        json: { username: "unlucky", email: "unlucky@example.com", password: PW },
      });
      expect(created.status).toBe(201);
      expect(created.json).toEqual({ email: "unlucky@example.com", username: "unlucky", id: expect.any(Number) });
      // The account exists (a second registration is a duplicate) and is inactive.
      const dup = await s.request("POST", "/auth/users/", { json: { username: "unlucky", password: PW } });
      expect(dup.json).toEqual({ username: ["A user with that username already exists."] });
      expect(
        (await s.request("POST", "/auth/token/login/", { json: { username: "unlucky", password: PW } })).status,
      ).toBe(400);
      // Still down: resend answers 204 as well; both mails stay queued, with the reason.
      expect(
        (await s.request("POST", "/auth/users/resend_activation/", { json: { email: "unlucky@example.com" } })).status,
      ).toBe(204);
      const queued = await s.deps.prisma.mailOutbox.findMany();
      expect(queued).toHaveLength(2);
      for (const row of queued) expect(row.lastError).toMatch(/ECONNREFUSED|connect/i);

      // SMTP comes back: the outbox delivers both on its next round, without any new request.
      inbox = await startInbox({ port });
      const [first, second] = [await inbox.next(), await inbox.next()];
      expect([first.to, second.to]).toEqual([["unlucky@example.com"], ["unlucky@example.com"]]);
      await expect.poll(() => s.deps.prisma.mailOutbox.count(), { timeout: 10_000 }).toBe(0);
      // Links are made at delivery, from the user's state then: the first one activates.
      expect((await s.request("POST", "/auth/users/activation/", { json: activationLink(first.raw) })).status).toBe(
        204,
      );
      expect(
        (await s.request("POST", "/auth/token/login/", { json: { username: "unlucky", password: PW } })).status,
      ).toBe(200);
    });
  });
});
