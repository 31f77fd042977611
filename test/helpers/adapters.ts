// The REST/tRPC adapter pair, so one flow test runs through both (describe.each(ADAPTERS)): each
// flow answers in REST's terms, {status, body}, with 204 and no body for "done", so one
// expectation holds for both. A tRPC error's body is its data.fields, or {detail: message}; its
// data.code is kept beside the answer (trpcCode).
import { TRPCClientError } from "@trpc/client";
import { expect } from "vitest";
import type { AppRouter } from "../../src/trpc/router.ts";
import { type Auth, type Pair, PW } from "./fixture.ts";
import type { TestServer } from "./server.ts";
import { trpcClient } from "./trpc.ts";

export const ADAPTERS = ["rest", "trpc"] as const;
export type AdapterName = (typeof ADAPTERS)[number];
export type Out = { status: number; body?: any };
type Link = { uid: string; token: string };

export type Adapter = {
  name: AdapterName;
  /** Logins that must succeed, each with a User-Agent of its own (how the session list names it). */
  tokenLogin(username: string, ua?: string): Promise<string>;
  jwtLogin(username: string, ua?: string): Promise<Pair>;
  /** jwt/create (jwt.create), however it ends. */
  jwtCreate(username: string, password?: string): Promise<Out>;
  activate(link: Link): Promise<Out>;
  resendActivation(email: string): Promise<Out>;
  resetPassword(link: Link, new_password: string): Promise<Out>;
  resetUsername(link: Link, new_username: string): Promise<Out>;
  update(auth: Auth, id: number | "me", body: { email: string; current_password?: string }): Promise<Out>;
  remove(auth: Auth, id: number, current_password: string): Promise<Out>;
  deleteMe(auth: Auth, current_password: string): Promise<Out>;
  /** set_email, where the email is the login (USERNAME_FIELD=email). */
  setEmail(auth: Auth, new_email: string, current_password: string): Promise<Out>;
  listSessions(auth: Auth): Promise<Out>;
  revokeSession(auth: Auth, id: string): Promise<Out>;
  revokeOthers(auth: Auth): Promise<Out>;
  revokeAll(auth: Auth): Promise<Out>;
};

/** Done: 204 with no body (REST), no result (tRPC). */
export const expectDone = (res: Out) => expect(res, JSON.stringify(res.body)).toEqual({ status: 204 });

const codes = new WeakMap<Out, string | undefined>();
/** The data.code of a tRPC error answer (undefined for REST's). */
export const trpcCode = (res: Out) => codes.get(res);

export const adapter = (name: AdapterName, s: TestServer): Adapter => (name === "rest" ? rest(s) : trpc(s));

function rest(s: TestServer): Adapter {
  const call = async (method: string, path: string, json?: unknown, headers: Auth = {}): Promise<Out> => {
    const res = await s.request(method, path, { json, headers });
    return res.text === "" ? { status: res.status } : { status: res.status, body: res.json };
  };
  const login = async (path: string, username: string, ua: string) => {
    const res = await s.request("POST", path, { headers: { "user-agent": ua }, json: { username, password: PW } });
    expect(res.status, res.text).toBe(200);
    return res.json;
  };
  return {
    name: "rest",
    tokenLogin: async (username, ua = "rest") => (await login("/auth/token/login/", username, ua)).auth_token,
    jwtLogin: (username, ua = "rest") => login("/auth/jwt/create/", username, ua),
    jwtCreate: (username, password = PW) => call("POST", "/auth/jwt/create/", { username, password }),
    activate: (link) => call("POST", "/auth/users/activation/", link),
    resendActivation: (email) => call("POST", "/auth/users/resend_activation/", { email }),
    resetPassword: (link, new_password) =>
      call("POST", "/auth/users/reset_password_confirm/", { ...link, new_password }),
    resetUsername: (link, new_username) =>
      call("POST", "/auth/users/reset_username_confirm/", { ...link, new_username }),
    update: (auth, id, body) => call("PATCH", `/auth/users/${id}/`, body, auth),
    remove: (auth, id, current_password) => call("DELETE", `/auth/users/${id}/`, { current_password }, auth),
    deleteMe: (auth, current_password) => call("DELETE", "/auth/users/me/", { current_password }, auth),
    setEmail: (auth, new_email, current_password) =>
      call("POST", "/auth/users/set_email/", { new_email, current_password }, auth),
    listSessions: (auth) => call("GET", "/auth/sessions/", undefined, auth),
    revokeSession: (auth, id) => call("DELETE", `/auth/sessions/${encodeURIComponent(id)}/`, undefined, auth),
    revokeOthers: (auth) => call("POST", "/auth/sessions/revoke_others/", undefined, auth),
    revokeAll: (auth) => call("POST", "/auth/sessions/revoke_all/", undefined, auth),
  };
}

async function settle(call: Promise<unknown>): Promise<Out> {
  try {
    const result = await call;
    return result === undefined ? { status: 204 } : { status: 200, body: result };
  } catch (e) {
    if (!(e instanceof TRPCClientError)) throw e;
    const err = e as TRPCClientError<AppRouter>;
    const out = { status: err.data?.httpStatus ?? 0, body: err.data?.fields ?? { detail: err.message } };
    codes.set(out, err.data?.code);
    return out;
  }
}

function trpc(s: TestServer): Adapter {
  // A client per call: the handle of useServer() is live only once its beforeAll ran.
  const as = (auth: Auth = {}) => trpcClient(s, auth);
  return {
    name: "trpc",
    tokenLogin: async (username, ua = "trpc") =>
      (await as({ "user-agent": ua }).token.login.mutate({ username, password: PW })).auth_token,
    jwtLogin: (username, ua = "trpc") => as({ "user-agent": ua }).jwt.create.mutate({ username, password: PW }),
    jwtCreate: (username, password = PW) => settle(as().jwt.create.mutate({ username, password })),
    activate: (link) => settle(as().users.activate.mutate(link)),
    resendActivation: (email) => settle(as().users.resendActivation.mutate({ email })),
    resetPassword: (link, new_password) => settle(as().users.resetPasswordConfirm.mutate({ ...link, new_password })),
    resetUsername: (link, new_username) => settle(as().users.resetUsernameConfirm.mutate({ ...link, new_username })),
    update: (auth, id, body) =>
      settle(id === "me" ? as(auth).users.updateMe.mutate(body) : as(auth).users.update.mutate({ id, ...body })),
    remove: (auth, id, current_password) => settle(as(auth).users.delete.mutate({ id, current_password })),
    deleteMe: (auth, current_password) => settle(as(auth).users.deleteMe.mutate({ current_password })),
    setEmail: (auth, new_email, current_password) =>
      settle(as(auth).users.setUsername.mutate({ new_email, current_password })),
    listSessions: (auth) => settle(as(auth).sessions.list.query()),
    revokeSession: (auth, id) => settle(as(auth).sessions.revoke.mutate({ id })),
    revokeOthers: (auth) => settle(as(auth).sessions.revokeOthers.mutate()),
    revokeAll: (auth) => settle(as(auth).sessions.revokeAll.mutate()),
  };
}
