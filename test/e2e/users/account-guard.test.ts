// What a mailed link or a staff account may do, and no more: each link works only for the purpose
// it was made for (and a login ends it); only an account waiting for activation activates; staff
// who are not superusers cannot change, deactivate or delete a superuser, nor see or end its
// sessions; an email change is told to the old address and, with activation mails on, waits for
// the new address to confirm it. Through REST (/auth/…) and the typed tRPC client, on PGlite and
// PostgreSQL.
import { beforeAll, describe, expect, it } from "vitest";
import { ADAPTERS, adapter } from "../../helpers/adapters.ts";
import { PW, type Server, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { type Mail, uidToken } from "../../helpers/mail.ts";
import { createStaff, DATABASES } from "../../helpers/server.ts";
import { failure, trpcClient } from "../../helpers/trpc.ts";

const NEW_PW = "Nm4$Rt8@Wy3e";
const ROOT_PW = "R00t-Passw0rd!";
const STAFF_PW = "St4ff-Passw0rd!";
const BAD_TOKEN = { token: ["Invalid token for given user."] };
const STALE = { detail: "Stale token for given user." };
const FORBIDDEN = { detail: "You do not have permission to perform this action." };
const NOT_IN_USE = { detail: "Account activation is not in use on this site." };
const ACTIVATION = "Account activation on Portcullis";
const RESET = "Password reset on Portcullis";
const USERNAME_RESET = "Username reset on Portcullis";
const CONFIRM_NEW = "Confirm your new email address on Portcullis";
const CHANGE_REQUESTED = "Portcullis - A change of your email address was requested";
const CHANGED = "Portcullis - Your email address has been changed";

type Link = { uid: string; token: string };

/** The newest mail to `to` with this subject. */
function mailTo(s: Server, to: string, subject: string): Mail {
  const mail = s
    .mails()
    .filter((m) => m.to === to && m.subject === subject)
    .at(-1);
  const mailbox = () => JSON.stringify(s.mails().map((m) => [m.to, m.subject]));
  if (!mail) throw new Error(`no mail "${subject}" to ${to}; mailbox: ${mailbox()}`);
  return mail;
}

/** The uid and token of the link in the newest mail to `to` with this subject. */
const linkIn = (s: Server, to: string, subject: string): Link => uidToken(mailTo(s, to, subject).links[0]!);

const mailsTo = (s: Server, to: string) =>
  s
    .mails()
    .filter((m) => m.to === to)
    .map((m) => m.subject);

const register = (s: Server, username: string) => s.signUp(username, `${username}@example.com`);

async function requestReset(s: Server, kind: "password" | "username", email: string): Promise<Link> {
  const res = await s.request("POST", `/auth/users/reset_${kind}/`, { json: { email } });
  expect(res.status, res.text).toBe(204);
  return linkIn(s, email, kind === "password" ? RESET : USERNAME_RESET);
}

const meStatus = async (s: Server, key: string) => (await s.me(tokenAuth(key))).status;
/** A 200 with this user. */
const user200 = (email: string, id: number, username: string) => ({ status: 200, body: { email, id, username } });

/** A superuser ("root") and a staff member who is not one ("staffer"), logged in with tokens. */
async function staffPair(s: Server, tag: string) {
  const root = await createStaff(s, `root${tag}`, ROOT_PW, `root${tag}@example.com`);
  const staffer = await createStaff(s, `staffer${tag}`, STAFF_PW, `staffer${tag}@example.com`);
  // Setup only: staff, not superuser (no endpoint makes one).
  await s.deps.prisma.user.update({ where: { id: staffer.id }, data: { isSuperuser: false } });
  const rootKey = await s.tokenLogin(root.username!, ROOT_PW);
  return { root, staffer, rootKey, stafferKey: await s.tokenLogin(staffer.username!, STAFF_PW) };
}

describe.each(DATABASES)("links and staff kept to their purpose on %s", (kind) => {
  describe("activation mails on (SEND_ACTIVATION_EMAIL)", () => {
    const s = useServer(kind, { DJOSER_SEND_ACTIVATION_EMAIL: "true" });
    let rootKey: string;
    beforeAll(async () => {
      ({ rootKey } = await staffPair(s, ""));
    });

    /** Registered, activated with the mailed link, logged in. */
    async function activeUser(name: string) {
      const id = await register(s, name);
      const activation = await s.activate(`${name}@example.com`);
      return { id, activation, key: await s.tokenLogin(name) };
    }

    describe.each(ADAPTERS)("%s", (name) => {
      const a = adapter(name, s);
      it(
        "a user deactivated by staff cannot re-activate themself: " +
          "not with an earlier reset link, not with their activation link; resend_activation mails them nothing",
        async () => {
          const u = `suspended${name}`;
          // Never logged in, so the activation link still verifies (a login ends it): only the state refuses it.
          const id = await register(s, u);
          const activation = linkIn(s, `${u}@example.com`, ACTIVATION);
          expect(await a.activate(activation)).toEqual({ status: 204 });
          const reset = await requestReset(s, "password", `${u}@example.com`);
          await trpcClient(s, tokenAuth(rootKey)).users.setActive.mutate({ id, active: false });
          expect(await a.activate(reset)).toEqual({ status: 400, body: BAD_TOKEN });
          expect(await a.activate(activation)).toEqual({ status: 403, body: STALE });
          const before = s.mails().length;
          expect(await a.resendActivation(`${u}@example.com`)).toEqual({ status: 204 });
          expect(s.mails()).toHaveLength(before);
          expect((await a.jwtCreate(u)).status).toBe(401);
          // Staff's decision is undone by staff only.
          await trpcClient(s, tokenAuth(rootKey)).users.setActive.mutate({ id, active: true });
          expect((await a.jwtCreate(u)).status).toBe(200);
        },
      );

      it("an activation link neither resets the password nor the username; it activates, once", async () => {
        const u = `pending${name}`;
        await register(s, u);
        const activation = linkIn(s, `${u}@example.com`, ACTIVATION);
        expect(await a.resetPassword(activation, NEW_PW)).toEqual({ status: 400, body: BAD_TOKEN });
        expect(await a.resetUsername(activation, `${u}2`)).toEqual({ status: 400, body: BAD_TOKEN });
        expect(await a.activate(activation)).toEqual({ status: 204 });
        expect(await a.activate(activation)).toEqual({ status: 403, body: STALE });
        expect((await a.jwtCreate(u, PW)).status).toBe(200);
      });

      it(
        "a password-reset link does not change the username, " +
          "a username-reset link does not reset the password; neither activates",
        async () => {
          const u = `crossed${name}`;
          await activeUser(u);
          const password = await requestReset(s, "password", `${u}@example.com`);
          const username = await requestReset(s, "username", `${u}@example.com`);
          expect(await a.resetUsername(password, `${u}2`)).toEqual({ status: 400, body: BAD_TOKEN });
          expect(await a.resetPassword(username, NEW_PW)).toEqual({ status: 400, body: BAD_TOKEN });
          for (const link of [password, username]) {
            expect(await a.activate(link)).toEqual({ status: 400, body: BAD_TOKEN });
          }
          // Each still does its own job.
          expect(await a.resetPassword(password, NEW_PW)).toEqual({ status: 204 });
          expect((await a.jwtCreate(u, NEW_PW)).status).toBe(200);
        },
      );

      it(
        "an email change keeps the old address, and the account active, " +
          "until the link mailed to the new address is used; the old address is told",
        async () => {
          const u = `mover${name}`;
          const { id, key } = await activeUser(u);
          const [before, after] = [`${u}@example.com`, `${u}@new.example`];
          const answer = { email: before, id, username: u };
          const asked = await a.update(tokenAuth(key), "me", { email: after, current_password: PW });
          expect(asked).toEqual({ status: 200, body: answer });
          expect(await meStatus(s, key)).toBe(200); // still active
          expect(mailsTo(s, after)).toEqual([CONFIRM_NEW]);
          expect(mailsTo(s, before).at(-1)).toBe(CHANGE_REQUESTED);
          expect(mailTo(s, before, CHANGE_REQUESTED).text).toContain(after); // the notice names the new address
          // Until confirmed the old address is the account's: its reset links go there.
          await requestReset(s, "password", before);
          const confirm = linkIn(s, after, CONFIRM_NEW);
          // The confirmation link is no reset link.
          expect(await a.resetPassword(confirm, NEW_PW)).toEqual({ status: 400, body: BAD_TOKEN });
          expect(await a.activate(confirm)).toEqual({ status: 204 });
          expect((await s.me(tokenAuth(key))).json).toEqual({ ...answer, email: after });
          expect(await a.activate(confirm)).toEqual({ status: 400, body: BAD_TOKEN }); // once
        },
      );

      it(
        "the confirmation link is bound to its address: " +
          "a newer change ends it, the same address again calls the change off",
        async () => {
          const u = `fickle${name}`;
          const { key } = await activeUser(u);
          await a.update(tokenAuth(key), "me", { email: `${u}@one.example`, current_password: PW });
          const first = linkIn(s, `${u}@one.example`, CONFIRM_NEW);
          await a.update(tokenAuth(key), "me", { email: `${u}@two.example`, current_password: PW });
          const second = linkIn(s, `${u}@two.example`, CONFIRM_NEW);
          expect(await a.activate(first)).toEqual({ status: 400, body: BAD_TOKEN });
          await a.update(tokenAuth(key), "me", { email: `${u}@example.com`, current_password: PW });
          expect(await a.activate(second)).toEqual({ status: 400, body: BAD_TOKEN });
          expect((await s.me(tokenAuth(key))).json.email).toBe(`${u}@example.com`);
        },
      );
    });
  });

  describe("Djoser's email change (SEND_ACTIVATION_EMAIL, EMAIL_CHANGE_DEACTIVATES)", () => {
    const s = useServer(kind, { DJOSER_SEND_ACTIVATION_EMAIL: "true", DJOSER_EMAIL_CHANGE_DEACTIVATES: "true" });
    let rootKey: string;
    beforeAll(async () => {
      ({ rootKey } = await staffPair(s, ""));
    });

    it.each(ADAPTERS)(
      "%s: the new address is the account's at once, inactive until it activates; " +
        "staff changing the email of a user they deactivated mails no activation link",
      async (name) => {
        const a = adapter(name, s);
        const u = `djoser${name}`;
        const id = await register(s, u);
        expect(await a.activate(linkIn(s, `${u}@example.com`, ACTIVATION))).toEqual({ status: 204 });
        const key = await s.tokenLogin(u);
        const changed = await a.update(tokenAuth(key), "me", { email: `${u}@new.example`, current_password: PW });
        expect(changed).toEqual(user200(`${u}@new.example`, id, u));
        expect(await meStatus(s, key)).toBe(401);
        expect(mailsTo(s, `${u}@example.com`).at(-1)).toBe(CHANGED);
        expect(await a.activate(linkIn(s, `${u}@new.example`, ACTIVATION))).toEqual({ status: 204 });
        expect(await meStatus(s, key)).toBe(200);

        const root = tokenAuth(rootKey);
        await trpcClient(s, root).users.setActive.mutate({ id, active: false });
        const before = mailsTo(s, `${u}@other.example`).length;
        const byStaff = await a.update(root, id, { email: `${u}@other.example`, current_password: ROOT_PW });
        expect(byStaff).toEqual(user200(`${u}@other.example`, id, u));
        expect(mailsTo(s, `${u}@other.example`)).toHaveLength(before);
        expect(await a.resendActivation(`${u}@other.example`)).toEqual({ status: 204 });
        expect(mailsTo(s, `${u}@other.example`)).toHaveLength(before);
        expect((await a.jwtCreate(u)).status).toBe(401);
      },
    );
  });

  describe("Djoser's defaults (activation mails off)", () => {
    const s = useServer(kind);
    let root: { id: number };
    let rootKey: string;
    let stafferKey: string;
    beforeAll(async () => {
      ({ root, rootKey, stafferKey } = await staffPair(s, ""));
    });

    describe.each(ADAPTERS)("%s", (name) => {
      const a = adapter(name, s);
      it(
        "activation is refused when it is not in use: " + "a deactivated user's reset link does not re-activate them",
        async () => {
          const u = `off${name}`;
          const id = await register(s, u);
          const reset = await requestReset(s, "password", `${u}@example.com`);
          await trpcClient(s, tokenAuth(rootKey)).users.setActive.mutate({ id, active: false });
          expect(await a.activate(reset)).toEqual({ status: 403, body: NOT_IN_USE });
          expect((await a.jwtCreate(u)).status).toBe(401);
        },
      );

      it("a JWT login ends the reset links mailed before it, as a token login does", async () => {
        const u = `jwt${name}`;
        await register(s, u);
        const password = await requestReset(s, "password", `${u}@example.com`);
        const username = await requestReset(s, "username", `${u}@example.com`);
        expect((await a.jwtCreate(u)).status).toBe(200);
        expect(await a.resetPassword(password, NEW_PW)).toEqual({ status: 400, body: BAD_TOKEN });
        expect(await a.resetUsername(username, `${u}2`)).toEqual({ status: 400, body: BAD_TOKEN });
        // A link mailed after the login works.
        const fresh = await requestReset(s, "password", `${u}@example.com`);
        expect(await a.resetPassword(fresh, NEW_PW)).toEqual({ status: 204 });
      });

      it("an email change tells the old address", async () => {
        const u = `told${name}`;
        const id = await register(s, u);
        const key = await s.tokenLogin(u);
        const changed = await a.update(tokenAuth(key), "me", { email: `${u}@new.example`, current_password: PW });
        expect(changed).toEqual(user200(`${u}@new.example`, id, u));
        expect(mailsTo(s, `${u}@example.com`)).toEqual([CHANGED]);
        expect(mailTo(s, `${u}@example.com`, CHANGED).text).toContain(`${u}@new.example`);
      });

      it(
        "staff who are not superusers cannot change or delete a superuser; " +
          "they still read it, and manage other users",
        async () => {
          const staffer = tokenAuth(stafferKey);
          const evil = `taken${name}@evil.example`;
          const takeover = await a.update(staffer, root.id, { email: evil, current_password: STAFF_PW });
          expect(takeover).toEqual({ status: 403, body: FORBIDDEN });
          expect(await a.remove(staffer, root.id, STAFF_PW)).toEqual({ status: 403, body: FORBIDDEN });
          const read = await s.request("GET", `/auth/users/${root.id}/`, { headers: staffer });
          expect([read.status, read.json.email]).toEqual([200, "root@example.com"]);
          expect(mailsTo(s, "root@example.com")).toEqual([]);
          const u = `managed${name}`;
          const id = await register(s, u);
          const managed = await a.update(staffer, id, { email: `${u}@new.example`, current_password: STAFF_PW });
          expect(managed).toEqual(user200(`${u}@new.example`, id, u));
          // A superuser manages a superuser.
          const same = { email: "root@example.com", current_password: ROOT_PW };
          const own = await a.update(tokenAuth(rootKey), root.id, same);
          expect(own).toEqual(user200("root@example.com", root.id, "root"));
        },
      );
    });

    it(
      "staff who are not superusers cannot deactivate a superuser, " +
        "nor list or end its sessions (tRPC); a superuser can list them",
      async () => {
        const staffer = trpcClient(s, tokenAuth(stafferKey));
        const calls = [
          () => staffer.users.setActive.mutate({ id: root.id, active: false }),
          () => staffer.sessions.listFor.query({ userId: root.id }),
          () => staffer.sessions.revokeAllFor.mutate({ userId: root.id }),
        ];
        for (const call of calls) {
          const err = await failure(call());
          expect([err.data?.code, err.data?.httpStatus]).toEqual(["permission_denied", 403]);
        }
        expect(await meStatus(s, rootKey)).toBe(200);
        expect(await trpcClient(s, tokenAuth(rootKey)).sessions.listFor.query({ userId: root.id })).toHaveLength(1);
        // Other users stay within the staffer's reach.
        const id = await register(s, "reachable");
        expect(await staffer.sessions.listFor.query({ userId: id })).toEqual([]);
        expect((await staffer.users.setActive.mutate({ id, active: false })).id).toBe(id);
      },
    );
  });

  describe("USERNAME_FIELD=email", () => {
    const s = useServer(kind, { USERNAME_FIELD: "email" });

    it.each(ADAPTERS)("%s: set_email tells the old address too", async (name) => {
      const [before, after] = [`login${name}@example.com`, `login${name}@new.example`];
      expect((await s.request("POST", "/auth/users/", { json: { email: before, password: PW } })).status).toBe(201);
      const login = await s.request("POST", "/auth/token/login/", { json: { email: before, password: PW } });
      expect(await adapter(name, s).setEmail(tokenAuth(login.json.auth_token), after, PW)).toEqual({ status: 204 });
      expect(mailsTo(s, before)).toEqual([CHANGED]);
      expect(mailTo(s, before, CHANGED).text).toContain(after);
    });
  });
});
