// The typed client's inputs are the flows' own: tRPC checks each field's kind, the flow checks the
// rest against the settings in force, so a bad input gets the same fields and messages over both
// adapters. Over PGlite and PostgreSQL.
import { beforeAll, describe, expect, it } from "vitest";
import { type Auth, PW, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { DATABASES } from "../../helpers/server.ts";
import { failure } from "../../helpers/trpc.ts";

type Case = { procedure: string; method: string; path: string; body: Record<string, unknown>; authed?: boolean };
const CASES: Case[] = [
  { procedure: "token.login", method: "POST", path: "/auth/token/login/", body: { username: "typed" } },
  { procedure: "token.login", method: "POST", path: "/auth/token/login/", body: { username: "", password: "" } },
  {
    procedure: "users.create",
    method: "POST",
    path: "/auth/users/",
    body: { username: "", email: "not-an-email", password: "" },
  },
  { procedure: "users.create", method: "POST", path: "/auth/users/", body: { email: "a@example.com" } },
  { procedure: "jwt.create", method: "POST", path: "/auth/jwt/create/", body: { username: "typed" } },
  { procedure: "jwt.refresh", method: "POST", path: "/auth/jwt/refresh/", body: { refresh: "" } },
  { procedure: "users.activate", method: "POST", path: "/auth/users/activation/", body: { uid: "" } },
  { procedure: "users.resetPassword", method: "POST", path: "/auth/users/reset_password/", body: { email: "bad" } },
  {
    procedure: "users.resetPasswordConfirm",
    method: "POST",
    path: "/auth/users/reset_password_confirm/",
    body: { uid: "x", token: "y", new_password: "" },
  },
  {
    procedure: "users.setPassword",
    method: "POST",
    path: "/auth/users/set_password/",
    body: { current_password: "wrong", new_password: "" },
    authed: true,
  },
  { procedure: "users.updateMe", method: "PATCH", path: "/auth/users/me/", body: { email: "bad" }, authed: true },
];

describe.each(DATABASES)("typed inputs on %s", (kind) => {
  const s = useServer(kind);
  let auth: Auth;
  beforeAll(async () => {
    await s.signUp("typed", "typed@example.com");
    auth = tokenAuth(await s.tokenLogin("typed"));
  });

  it.each(CASES)("$procedure $body: REST's 400 fields, over tRPC too", async (c) => {
    const headers = c.authed ? auth : {};
    const rest = await s.request(c.method, c.path, { json: c.body, headers });
    expect(rest.status, rest.text).toBe(400);
    const [group, name] = c.procedure.split(".") as [string, string];
    // biome-ignore lint/suspicious/noExplicitAny: a procedure chosen by name
    const procedure = (s.trpc(headers) as any)[group][name];
    const e = await failure(procedure.mutate(c.body));
    expect(e.data).toMatchObject({ httpStatus: 400, fields: rest.json });
  });

  it("a field of the wrong kind is refused by tRPC in DRF's words, before the flow runs", async () => {
    const e = await failure(s.trpc().token.login.mutate({ username: 42 as unknown as string, password: PW }));
    expect(e.data).toMatchObject({
      httpStatus: 400,
      code: "invalid_input",
      fields: { username: ["Not a valid string."] },
    });
  });
});
