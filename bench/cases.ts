// What is measured: the requests each server is sent, with credentials fetched from it first.
import type { Request } from "./load.ts";

// Djoser's reference superuser.
export const USER = { username: "admin", email: "admin@example.com", password: "Adm1n-Passw0rd!" };

const JSON_TYPE = { "content-type": "application/json" };
const credentials = JSON.stringify({ username: USER.username, password: USER.password });

/** POST a JSON body, expect a 2xx JSON answer. */
async function json<T>(base: string, path: string, body: unknown): Promise<T> {
  const res = await fetch(base + path, { method: "POST", headers: JSON_TYPE, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`POST ${path} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** Registers the bench user on Portcullis (Djoser's reference server has it already). */
export async function register(base: string): Promise<void> {
  await json(base, "/auth/users/", USER);
}

/** One request sent once: it must succeed, or the row would measure an error page. */
export async function expectOk(req: Request): Promise<void> {
  const res = await fetch(req.url, { method: req.method ?? "GET", headers: req.headers, body: req.body });
  const text = await res.text();
  if (res.status >= 300)
    throw new Error(`${req.method ?? "GET"} ${req.url} answered ${res.status}: ${text.slice(0, 300)}`);
}

export type Requests = {
  meToken(): Promise<Request>;
  meJwt(): Promise<Request>;
  trpcMe(): Promise<Request>;
  trpcBatch(): Promise<Request>;
  login(): Promise<Request>;
  refresh(): Promise<Request>;
};

/** The requests for one server (Portcullis or Djoser: the same paths and bodies). */
export async function requestsFor(base: string): Promise<Requests> {
  const { auth_token: key } = await json<{ auth_token: string }>(base, "/auth/token/login/", {
    username: USER.username,
    password: USER.password,
  });
  const { refresh } = await json<{ refresh: string }>(base, "/auth/jwt/create/", {
    username: USER.username,
    password: USER.password,
  });
  const token = { authorization: `Token ${key}` };
  const me = `${base}/auth/users/me/`;
  return {
    meToken: async () => ({ url: me, headers: token }),
    // A fresh access token each time: SimpleJWT's default lifetime (5 min) is shorter than a run.
    meJwt: async () => ({
      url: me,
      headers: {
        authorization: `Bearer ${await jwtAccess(base)}`,
      },
    }),
    trpcMe: async () => ({ url: `${base}/trpc/users.me`, headers: token }),
    trpcBatch: async () => ({
      url: `${base}/trpc/users.me,users.me?batch=1&input=${encodeURIComponent("{}")}`,
      headers: token,
    }),
    login: async () => ({ url: `${base}/auth/token/login/`, method: "POST", headers: JSON_TYPE, body: credentials }),
    refresh: async () => ({
      url: `${base}/auth/jwt/refresh/`,
      method: "POST",
      headers: JSON_TYPE,
      body: JSON.stringify({ refresh }),
    }),
  };
}

/** The body /auth/users/me/ answers, for the ceiling to send. */
export async function meBody(req: Request): Promise<string> {
  const res = await fetch(req.url, { headers: req.headers });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${req.url} answered ${res.status}: ${text}`);
  return text;
}

const login = { username: USER.username, password: USER.password };
const jwtAccess = async (base: string) => (await json<{ access: string }>(base, "/auth/jwt/create/", login)).access;
