// A real OpenID provider on loopback for the social sign-in tests: oidc-provider (OpenID
// Certified) with its development interactions (a login form that takes any password, then a
// consent form), PKCE required, RS256 ID tokens. Tests can rewrite the ID token the token
// endpoint hands out (tamperIdToken), sign their own with the provider's or another key, and
// have the token endpoint check an Apple-style client secret (an ES256 JWT of the team's key).
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import jwt from "jsonwebtoken";
import Provider, { type Configuration } from "oidc-provider";

export type Person = {
  sub: string;
  email: string;
  email_verified: boolean;
  given_name?: string;
  tid?: string;
  oid?: string;
};
export type ClientSpec = { client_id: string; client_secret: string; redirect_uris: string[] };
export type AppleCheck = { clientId: string; teamId: string; keyId: string; publicKey: KeyObject };

export type TestProvider = {
  issuer: string;
  /** Rewrites the claims (or the whole token) of ID tokens handed out from now on; null: stop. */
  tamperIdToken(fn: ((idToken: string) => string) | null): void;
  /** An ID token of these claims: signed with the provider's key, another key, or none (alg "none"). */
  sign(claims: Record<string, unknown>, how: "provider" | "other-key" | "none"): string;
  /** Token requests seen, with the client_secret each carried. */
  tokenRequests: { client_id?: string; client_secret?: string }[];
  close(): Promise<void>;
};

const KID = "test-key";
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
export const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;

function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", () => resolve(Object.fromEntries(new URLSearchParams(raw))));
    req.on("error", reject);
  });
}

export async function startProvider(opts: {
  people: Person[];
  clients: ClientSpec[];
  apple?: AppleCheck & { secret: string };
}): Promise<TestProvider> {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const people = new Map(opts.people.map((p) => [p.sub, p]));
  const config: Configuration = {
    clients: opts.clients.map((c) => ({
      ...c,
      token_endpoint_auth_method: "client_secret_post",
      response_types: ["code"],
      grant_types: ["authorization_code"],
    })),
    jwks: { keys: [{ ...privateKey.export({ format: "jwk" }), kid: KID, use: "sig", alg: "RS256" }] as never },
    claims: { openid: ["sub", "tid", "oid"], email: ["email", "email_verified"], profile: ["given_name"] },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    cookies: { keys: ["test-cookie-key-0123456789"] },
    ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 600, IdToken: 600, Interaction: 600, Session: 600 },
    async findAccount(_ctx, sub) {
      const person = people.get(sub);
      if (!person) return undefined;
      return { accountId: sub, claims: async () => ({ ...person }) };
    },
  };
  const provider = new Provider(issuer, config);
  provider.proxy = false;
  let tamper: ((idToken: string) => string) | null = null;
  provider.use(async (ctx, next) => {
    await next();
    const body = ctx.body as { id_token?: string } | undefined;
    if (ctx.path === "/token" && tamper && body?.id_token) ctx.body = { ...body, id_token: tamper(body.id_token) };
  });
  const tokenRequests: TestProvider["tokenRequests"] = [];
  const handle = provider.callback();
  server.on("request", async (req, res) => {
    if (req.method === "POST" && req.url?.startsWith("/token")) {
      // Parsed here so the client's secret can be checked the way Apple checks its JWT; oidc-provider
      // reads a body parsed before it (as when mounted in an Express app).
      const form = await readForm(req);
      tokenRequests.push({ client_id: form.client_id, client_secret: form.client_secret });
      const apple = opts.apple;
      if (apple && form.client_id === apple.clientId) {
        try {
          const secret = jwt.verify(form.client_secret ?? "", apple.publicKey, {
            algorithms: ["ES256"],
            issuer: apple.teamId,
            subject: apple.clientId,
            audience: issuer,
          });
          const header = jwt.decode(form.client_secret!, { complete: true })?.header;
          form.client_secret = secret && header?.kid === apple.keyId ? apple.secret : "refused";
        } catch {
          form.client_secret = "refused";
        }
      }
      (req as IncomingMessage & { body?: unknown }).body = form;
    }
    handle(req, res);
  });
  const signWith = (claims: Record<string, unknown>, key: KeyObject) =>
    jwt.sign(claims, key.export({ format: "pem", type: "pkcs8" }) as string, { algorithm: "RS256", keyid: KID });
  return {
    issuer,
    tokenRequests,
    tamperIdToken: (fn) => {
      tamper = fn;
    },
    sign(claims, how) {
      if (how === "none") return `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`;
      return signWith(claims, how === "provider" ? privateKey : other);
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
