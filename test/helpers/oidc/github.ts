// An OAuth 2.0 server shaped like GitHub's, for the provider with no OpenID Connect: its
// authorize page (a login form here), its token endpoint (form or JSON in, JSON out, errors as a
// 200 with `error`, as GitHub answers), PKCE S256, and its REST API's /user and /user/emails.
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export type GithubUser = {
  id: number;
  login: string;
  name: string | null;
  emails: { email: string; primary: boolean; verified: boolean }[];
};
type Grant = { user: GithubUser; clientId: string; redirectUri: string; challenge: string };

const body = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", () => resolve(raw));
  });
const escapeHtml = (v: string) => v.replace(/&/g, "&amp;").replace(/"/g, "&quot;");

export async function startGithub(opts: {
  users: GithubUser[];
  client: { id: string; secret: string };
}): Promise<{ url: string; apiUrl: string; close(): Promise<void> }> {
  const codes = new Map<string, Grant>();
  const tokens = new Map<string, GithubUser>();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://github.test");
    const send = (status: number, data: unknown, type = "application/json") => {
      res.writeHead(status, { "content-type": type });
      res.end(typeof data === "string" ? data : JSON.stringify(data));
    };
    if (req.method === "GET" && url.pathname === "/login/oauth/authorize") {
      const fields = [...url.searchParams].map(
        ([k, v]) => `<input type="hidden" name="${k}" value="${escapeHtml(v)}"/>`,
      );
      return send(200, `<form method="post" action="/session">${fields.join("")}</form>`, "text/html");
    }
    if (req.method === "POST" && url.pathname === "/session") {
      const form = Object.fromEntries(new URLSearchParams(await body(req)));
      const user = opts.users.find((u) => u.login === form.login);
      if (!user || form.client_id !== opts.client.id || form.code_challenge_method !== "S256")
        return send(400, "refused", "text/plain");
      const code = randomBytes(10).toString("hex");
      codes.set(code, {
        user,
        clientId: form.client_id!,
        redirectUri: form.redirect_uri!,
        challenge: form.code_challenge!,
      });
      const back = new URL(form.redirect_uri!);
      back.search = new URLSearchParams({ code, state: form.state ?? "" }).toString();
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (req.method === "POST" && url.pathname === "/login/oauth/access_token") {
      const raw = await body(req);
      const form = req.headers["content-type"]?.includes("json")
        ? JSON.parse(raw)
        : Object.fromEntries(new URLSearchParams(raw));
      const grant = codes.get(form.code);
      codes.delete(form.code);
      const verifier = createHash("sha256")
        .update(form.code_verifier ?? "")
        .digest("base64url");
      const ok =
        grant &&
        form.client_id === grant.clientId &&
        form.client_secret === opts.client.secret &&
        form.redirect_uri === grant.redirectUri &&
        verifier === grant.challenge;
      if (!ok)
        return send(200, {
          error: "bad_verification_code",
          error_description: "The code passed is incorrect or expired.",
        });
      const access = `gho_${randomBytes(16).toString("hex")}`;
      tokens.set(access, grant.user);
      return send(200, { access_token: access, token_type: "bearer", scope: "read:user,user:email" });
    }
    const user = tokens.get((req.headers.authorization ?? "").replace(/^(Bearer|token) /i, ""));
    if (url.pathname.startsWith("/api/") && !user) return send(401, { message: "Bad credentials" });
    if (url.pathname === "/api/user")
      return send(200, { id: user!.id, login: user!.login, name: user!.name, email: null });
    if (url.pathname === "/api/user/emails")
      return send(
        200,
        user!.emails.map((e) => ({ ...e, visibility: null })),
      );
    return send(404, { message: "Not Found" });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    apiUrl: `${url}/api`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
