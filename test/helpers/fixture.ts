// The one fixture of the end-to-end tests, after better-auth's getTestInstance(): useServer()
// starts a server for the describe that calls it (stopped after it), and the handle carries the
// actors most flows start with. A test that starts servers itself gives them actors with withActors.
import { afterAll, beforeAll, expect } from "vitest";
import { type Mail, uidToken } from "./mail.ts";
import { type DatabaseKind, type Start, startTestServer, type TestServer } from "./server.ts";
import { type Client, trpcClient } from "./trpc.ts";

/** A password every default validator accepts. */
export const PW = "Kq7!vLp2#Zx9";

export type Auth = Record<string, string>;
export type Pair = { refresh: string; access: string };
export type Answer = Awaited<ReturnType<TestServer["request"]>>;

export const tokenAuth = (key: string): Auth => ({ authorization: `Token ${key}` });
export const bearer = (access: string): Auth => ({ authorization: `Bearer ${access}` });

/** What a client does first, over REST, on the server's own login field (USERNAME_FIELD, LOGIN_FIELD). */
export type Actors = {
  /** Registers `login` (the username, or the email when USERNAME_FIELD is email); the new id. */
  signUp(login: string, email?: string, password?: string): Promise<number>;
  /** token/login; the key (40 hex digits, alone in the answer). */
  tokenLogin(login: string, password?: string): Promise<string>;
  /** jwt/create; the pair (refresh and access, in SimpleJWT's order). */
  jwtLogin(login: string, password?: string): Promise<Pair>;
  /** GET users/me/ with these headers. */
  me(auth: Auth): Promise<Answer>;
  /** POST jwt/refresh/ with this refresh token, however it ends. */
  refresh(token: string): Promise<Answer>;
  /** POST jwt/verify/ with this token, however it ends. */
  verify(token: string): Promise<Answer>;
  /** A typed client sending these headers with every call. */
  trpc(auth?: Auth): Client;
  /** Mails delivered to `to` (with this subject, if given), oldest first. */
  mailsTo(to: string, subject?: string): Mail[];
  /** Uses the newest activation link mailed to `email` (204); the link. */
  activate(email: string): Promise<{ uid: string; token: string }>;
};

export type Server = TestServer & Actors;

function actors(s: TestServer): Actors {
  const loginField = () => s.settings.DJOSER.LOGIN_FIELD;
  return {
    async signUp(login, email = "", password = PW) {
      const byEmail = s.settings.USERNAME_FIELD === "email";
      const json = byEmail ? { email: login, password } : { username: login, email, password };
      const res = await s.request("POST", "/auth/users/", { json });
      expect(res.status, res.text).toBe(201);
      return res.json.id;
    },
    async tokenLogin(login, password = PW) {
      const res = await s.request("POST", "/auth/token/login/", { json: { [loginField()]: login, password } });
      expect(res.status, res.text).toBe(200);
      expect(Object.keys(res.json)).toEqual(["auth_token"]);
      expect(res.json.auth_token).toMatch(/^[0-9a-f]{40}$/);
      return res.json.auth_token;
    },
    async jwtLogin(login, password = PW) {
      const res = await s.request("POST", "/auth/jwt/create/", { json: { [loginField()]: login, password } });
      expect(res.status, res.text).toBe(200);
      expect(Object.keys(res.json)).toEqual(["refresh", "access"]);
      return res.json;
    },
    me: (auth) => s.request("GET", "/auth/users/me/", { headers: auth }),
    refresh: (token) => s.request("POST", "/auth/jwt/refresh/", { json: { refresh: token } }),
    verify: (token) => s.request("POST", "/auth/jwt/verify/", { json: { token } }),
    trpc: (auth = {}) => trpcClient(s, auth),
    mailsTo: (to, subject) => s.mails().filter((m) => m.to === to && (subject === undefined || m.subject === subject)),
    async activate(email) {
      const link = s
        .mails()
        .filter((m) => m.to === email)
        .flatMap((m) => m.links)
        .filter((l) => l.includes("/activate/"))
        .at(-1);
      expect(link, `an activation link mailed to ${email}`).toBeDefined();
      const res = await s.request("POST", "/auth/users/activation/", { json: uidToken(link!) });
      expect(res.status, res.text).toBe(204);
      return uidToken(link!);
    },
  };
}

/** A server started by the test itself, with the actors. */
export const withActors = (s: TestServer): Server => ({ ...s, ...actors(s) });

/**
 * A server for the enclosing describe: started in its beforeAll (after the hooks declared before
 * this call, so `env` may be a function of what they set up), stopped in its afterAll. `start`:
 * how (the standalone server, or Portcullis inside a host app: helpers/embed.ts).
 */
export function useServer(
  kind: DatabaseKind,
  env: Record<string, string> | (() => Record<string, string>) = {},
  start?: Start,
): Server {
  let current: TestServer | undefined;
  beforeAll(async () => {
    current = await startTestServer(kind, typeof env === "function" ? env() : env, start);
  });
  afterAll(async () => current?.stop());
  const live = () => {
    if (!current) throw new Error("useServer: the server starts in beforeAll; use it in a test or a later hook");
    return current;
  };
  const handle: TestServer = {
    get app() {
      return live().app;
    },
    get url() {
      return live().url;
    },
    get settings() {
      return live().settings;
    },
    get deps() {
      return live().deps;
    },
    close: () => live().close(),
    stop: () => live().stop(),
    mails: () => live().mails(),
    request: (method, path, init) => live().request(method, path, init),
  };
  return Object.assign(handle, actors(handle));
}
