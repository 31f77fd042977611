// The Djoser flows through the typed tRPC client on Djoser's defaults, over real HTTP, on PGlite and
// PostgreSQL: typed results, typed errors (TRPCClientError with data.code and data.fields), and
// batching. The settings that change them are in trpc-settings.test.ts.
import { createTRPCClient, httpBatchLink, httpLink, TRPCClientError } from "@trpc/client";
import { describe, expect, it } from "vitest";
import type { AppRouter } from "../../../src/trpc/router.ts";
import { type Auth, PW, type Server, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { createStaff, DATABASES } from "../../helpers/server.ts";
import { failure } from "../../helpers/trpc.ts";

/** A client that counts the HTTP requests it sends, one per call or one per batch. */
function counting(s: Server, headers: Auth, counter: { count: number }, batch = false) {
  const opts = {
    url: `${s.url}/trpc`,
    headers,
    fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
      counter.count++;
      const response = await fetch(input, init);
      await s.deps.outbox.idle(); // mails queued by the call are sent just after it
      return response;
    },
  };
  return createTRPCClient<AppRouter>({ links: [batch ? httpBatchLink(opts) : httpLink(opts)] });
}

/** Signs `username` up and in through tRPC: the user, the key and a client sending it. */
async function signUpAndIn(s: Server, username: string, email = "") {
  const anon = s.trpc();
  const user = await anon.users.create.mutate({ username, email, password: PW });
  const { auth_token } = await anon.token.login.mutate({ username, password: PW });
  return { user, key: auth_token, as: s.trpc(tokenAuth(auth_token)) };
}

describe.each(DATABASES)("tRPC flows on %s", (kind) => {
  describe("Djoser's defaults", () => {
    const s = useServer(kind);

    it("create → login → me → updateMe, with typed results", async () => {
      const anon = s.trpc();
      const user = await anon.users.create.mutate({ username: "alice", email: "alice@Example.COM", password: PW });
      expect(user).toEqual({ email: "alice@example.com", username: "alice", id: expect.any(Number) });
      const first = await anon.token.login.mutate({ username: "alice", password: PW });
      expect(first.auth_token).toMatch(/^[0-9a-f]{40}$/);
      const second = await anon.token.login.mutate({ username: "alice", password: PW });
      expect(second.auth_token).toBe(first.auth_token);

      const alice = s.trpc(tokenAuth(first.auth_token));
      expect(await alice.users.me.query()).toEqual({ email: "alice@example.com", id: user.id, username: "alice" });
      expect(await alice.users.updateMe.mutate({ email: "alice@new.example", current_password: PW })).toEqual({
        email: "alice@new.example",
        id: user.id,
        username: "alice",
      });
      expect((await alice.users.me.query()).email).toBe("alice@new.example");
      // The old address is told (a takeover would otherwise go unnoticed); nothing else is mailed.
      const told = [["alice@example.com", "Portcullis - Your email address has been changed"]];
      expect(s.mails().map((m) => [m.to, m.subject])).toEqual(told);
    });

    it("typed errors: not_authenticated, authentication_failed, invalid_credentials", async () => {
      const anon = s.trpc();
      const noAuth = await failure(anon.users.me.query());
      expect(noAuth.message).toBe("Authentication credentials were not provided.");
      expect(noAuth.data?.code).toBe("not_authenticated");
      expect(noAuth.data?.httpStatus).toBe(401);

      const badKey = await failure(s.trpc(tokenAuth("0".repeat(40))).users.me.query());
      expect(badKey.data?.code).toBe("authentication_failed");
      expect(badKey.message).toBe("Invalid token.");

      await anon.users.create.mutate({ username: "bob", password: PW });
      const wrong = await failure(anon.token.login.mutate({ username: "bob", password: "nope-nope-nope" }));
      expect(wrong.data?.code).toBe("invalid_credentials");
      expect(wrong.data?.httpStatus).toBe(400);
      expect(wrong.data?.fields).toEqual({ non_field_errors: ["Unable to log in with provided credentials."] });
    });

    it("invalid input: per-field Django/DRF messages in data.fields", async () => {
      const anon = s.trpc();
      const weak = await failure(anon.users.create.mutate({ username: "weak", password: "12345678" }));
      expect(weak.data?.code).toBe("invalid_input");
      expect(weak.data?.httpStatus).toBe(400);
      expect(weak.data?.fields).toEqual({
        password: ["This password is too common.", "This password is entirely numeric."],
      });

      const short = await failure(anon.users.create.mutate({ username: "shorty", password: "xK9!" }));
      expect(short.data?.fields).toEqual({
        password: ["This password is too short. It must contain at least 8 characters."],
      });

      const blank = await failure(anon.users.create.mutate({ username: "  ", password: "" }));
      expect(blank.data?.code).toBe("invalid_input");
      expect(blank.data?.fields).toEqual({
        username: ["This field may not be blank."],
        password: ["This field may not be blank."],
      });

      const badName = await failure(anon.users.create.mutate({ username: "no spaces!", password: PW }));
      expect(badName.data?.fields?.username?.[0]).toMatch(/^Enter a valid username\./);

      await anon.users.create.mutate({ username: "taken", password: PW });
      const dup = await failure(anon.users.create.mutate({ username: "taken", password: PW }));
      expect(dup.data?.fields).toEqual({ username: ["A user with that username already exists."] });

      const { as } = await signUpAndIn(s, "emailer");
      const badEmail = await failure(as.users.updateMe.mutate({ email: "not-an-email" }));
      expect(badEmail.data?.fields).toEqual({ email: ["Enter a valid email address."] });

      const badId = await failure(as.users.get.query({ id: -1 }));
      expect(badId.data?.code).toBe("invalid_input");
      expect(Object.keys(badId.data?.fields ?? {})).toEqual(["id"]);
    });

    it("HIDE_USERS: list shows only me, others are not_found, deleting them is permission_denied", async () => {
      const { user: hidden } = await signUpAndIn(s, "hidden");
      const { user: me, as } = await signUpAndIn(s, "peeker");
      expect(await as.users.list.query()).toEqual([{ email: "", id: me.id, username: "peeker" }]);
      expect(await as.users.get.query({ id: me.id })).toEqual({ email: "", id: me.id, username: "peeker" });
      const get = await failure(as.users.get.query({ id: hidden.id }));
      expect(get.data?.code).toBe("not_found");
      expect(get.data?.httpStatus).toBe(404);
      const upd = await failure(as.users.update.mutate({ id: hidden.id, email: "x@example.com" }));
      expect(upd.data?.code).toBe("not_found");
      const del = await failure(as.users.delete.mutate({ id: hidden.id, current_password: PW }));
      expect(del.data?.code).toBe("permission_denied");
      expect(del.data?.httpStatus).toBe(403);
      expect(del.message).toBe("You do not have permission to perform this action.");
    });

    it("staff: list, get, update and delete others", async () => {
      const staff = await createStaff(s, "boss", "B0ss-Passw0rd!", "boss@example.com");
      const { user: victim, key: victimKey } = await signUpAndIn(s, "victim");
      const { auth_token } = await s.trpc().token.login.mutate({ username: "boss", password: "B0ss-Passw0rd!" });
      const boss = s.trpc(tokenAuth(auth_token));
      const ids = (await boss.users.list.query()).map((u) => u.id);
      expect(ids).toContain(staff.id);
      expect(ids).toContain(victim.id);
      expect(await boss.users.get.query({ id: victim.id })).toEqual({ email: "", id: victim.id, username: "victim" });
      expect(
        await boss.users.update.mutate({
          id: victim.id,
          email: "victim@example.com",
          current_password: "B0ss-Passw0rd!",
        }),
      ).toEqual({ email: "victim@example.com", id: victim.id, username: "victim" });
      const wrong = await failure(boss.users.delete.mutate({ id: victim.id, current_password: PW }));
      expect(wrong.data?.fields).toEqual({ current_password: ["Invalid password."] });
      expect(await boss.users.delete.mutate({ id: victim.id, current_password: "B0ss-Passw0rd!" })).toBeUndefined();
      expect((await failure(boss.users.get.query({ id: victim.id }))).data?.code).toBe("not_found");
      expect((await failure(s.trpc(tokenAuth(victimKey)).users.me.query())).data?.code).toBe("authentication_failed");
    });

    it("deleteMe needs the current password", async () => {
      const { as } = await signUpAndIn(s, "leaver");
      const blank = await failure(as.users.deleteMe.mutate({ current_password: "" }));
      expect(blank.data?.fields).toEqual({ current_password: ["This field may not be blank."] });
      const wrong = await failure(as.users.deleteMe.mutate({ current_password: "not-it" }));
      expect(wrong.data?.code).toBe("invalid_input");
      expect(wrong.data?.fields).toEqual({ current_password: ["Invalid password."] });
      expect(await as.users.deleteMe.mutate({ current_password: PW })).toBeUndefined();
      expect((await failure(as.users.me.query())).message).toBe("Invalid token.");
      expect((await failure(s.trpc().token.login.mutate({ username: "leaver", password: PW }))).data?.code).toBe(
        "invalid_credentials",
      );
    });

    it("logout: the key dies, the next login gets a new one", async () => {
      const { key, as } = await signUpAndIn(s, "outgoing");
      expect(await as.token.logout.mutate()).toBeUndefined();
      expect((await failure(as.users.me.query())).data?.code).toBe("authentication_failed");
      const { auth_token } = await s.trpc().token.login.mutate({ username: "outgoing", password: PW });
      expect(auth_token).not.toBe(key);
    });

    it("resendActivation with activation mails off: activation_not_sent", async () => {
      await signUpAndIn(s, "resender", "resender@example.com");
      const err = await failure(s.trpc().users.resendActivation.mutate({ email: "resender@example.com" }));
      expect(err.data?.code).toBe("activation_not_sent");
      expect(err.data?.httpStatus).toBe(400);
    });

    it("httpBatchLink: parallel calls travel in one request, each with its own result or error", async () => {
      const { user, key } = await signUpAndIn(s, "batcher", "batcher@example.com");
      const { user: other } = await signUpAndIn(s, "other");
      const counter = { count: 0 };
      const batched = counting(s, tokenAuth(key), counter, true);
      const [me, list, self, hidden] = await Promise.allSettled([
        batched.users.me.query(),
        batched.users.list.query(),
        batched.users.get.query({ id: user.id }),
        batched.users.get.query({ id: other.id }),
      ]);
      expect(counter.count).toBe(1);
      expect(me).toEqual({
        status: "fulfilled",
        value: { email: "batcher@example.com", id: user.id, username: "batcher" },
      });
      expect(list).toEqual({
        status: "fulfilled",
        value: [{ email: "batcher@example.com", id: user.id, username: "batcher" }],
      });
      expect(self.status === "fulfilled" && self.value.id).toBe(user.id);
      expect(hidden.status).toBe("rejected");
      const err = (hidden as PromiseRejectedResult).reason as TRPCClientError<AppRouter>;
      expect(err).toBeInstanceOf(TRPCClientError);
      expect(err.data?.code).toBe("not_found");

      // A batch of mutations: a request checks one password, so of two logins in one batch one
      // gets the shared key and the other is refused unchecked (it may be sent on its own).
      const anonCounter = { count: 0 };
      const anon = counting(s, {}, anonCounter, true);
      const logins = await Promise.allSettled([
        anon.token.login.mutate({ username: "batcher", password: PW }),
        anon.token.login.mutate({ username: "batcher", password: PW }),
      ]);
      expect(anonCounter.count).toBe(1);
      expect(logins.flatMap((r) => (r.status === "fulfilled" ? [r.value.auth_token] : []))).toEqual([key]);
      expect(
        logins.flatMap((r) => (r.status === "rejected" ? [(r.reason as TRPCClientError<AppRouter>).data?.code] : [])),
      ).toEqual(["password_check_limit"]);
    });

    it("unbatched httpLink sends one request per call", async () => {
      const { key } = await signUpAndIn(s, "single");
      const counter = { count: 0 };
      const c = counting(s, tokenAuth(key), counter);
      await Promise.all([c.users.me.query(), c.users.list.query()]);
      expect(counter.count).toBe(2);
    });

    it("raw HTTP to /trpc: bad requests are 4xx, never 5xx", async () => {
      const cases: [string, string, string | undefined, number][] = [
        ["POST", "/trpc/users.create", "{bad json", 400],
        ["POST", "/trpc/users.create", "[1,2,3]", 400],
        ["POST", "/trpc/users.create", JSON.stringify({ username: { $ne: 1 }, password: null }), 400],
        ["POST", "/trpc/token.login", JSON.stringify({ username: "a\u0000", password: "x" }), 400],
        ["GET", "/trpc/users.create", undefined, 405],
        ["POST", "/trpc/users.me", "{}", 405],
        ["GET", "/trpc/no.such.procedure", undefined, 404],
        ["POST", "/trpc/users.create", JSON.stringify({ username: "x".repeat(100 * 1024), password: PW }), 413],
      ];
      for (const [method, path, body, status] of cases) {
        const res = await s.request(method, path, {
          body,
          headers: body ? { "content-type": "application/json" } : {},
        });
        expect(res.status, `${method} ${path} ${res.text.slice(0, 200)}`).toBe(status);
      }
      const malformed = await s.request("POST", "/trpc/users.create", {
        body: "{bad json",
        headers: { "content-type": "application/json" },
      });
      expect(malformed.json.error.data).toMatchObject({ code: "bad_request", httpStatus: 400, path: "users.create" });
      const nul = await s.request("POST", "/trpc/token.login", { json: { username: "a\u0000", password: "x" } });
      expect(nul.json.error.data.code).toBe("invalid_input");
      expect(nul.json.error.data.fields).toEqual({ username: ["Null characters are not allowed."] });
    });
  });
});
