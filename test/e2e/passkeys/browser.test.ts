// Passkeys from a real browser: Debian's Chromium (puppeteer-core) with a CDP virtual authenticator
// (CTAP2, resident keys, user verification), on a test page that uses @simplewebauthn/browser. The
// page and the API share one origin (a small proxy in front of the server), as a site's would.
// Sign-up at signup_request/ + signup/<ukey>/, login by name and by discoverable credential, and
// the token works. On PGlite and PostgreSQL.
import { existsSync, readFileSync } from "node:fs";
import { createServer, request as forward, type Server as HttpServer } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useServer } from "../../helpers/fixture.ts";
import { DATABASES } from "../../helpers/server.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const bundle = readFileSync(
  join(
    dirname(createRequire(import.meta.url).resolve("@simplewebauthn/browser")), // <package>/script/index.js
    "../dist/bundle/index.umd.min.js",
  ),
);
const PAGE = `<!doctype html><html><head><script src="/simplewebauthn.js"></script></head><body>passkeys</body></html>`;

/** The test page and the API on one origin: the page here, everything else forwarded to `target()`. */
function sameOrigin(target: () => string): Promise<{ server: HttpServer; origin: string }> {
  const server = createServer((req, res) => {
    if (req.url === "/") return res.writeHead(200, { "content-type": "text/html" }).end(PAGE);
    if (req.url === "/simplewebauthn.js") return res.writeHead(200, { "content-type": "text/javascript" }).end(bundle);
    const url = new URL(req.url ?? "/", target());
    const upstream = forward(url, { method: req.method, headers: { ...req.headers, host: url.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      resolve({ server, origin: `http://localhost:${(server.address() as AddressInfo).port}` });
    }),
  );
}

type Answer = { status: number; body: Record<string, unknown> };

// Runs in the page: the whole ceremony as a site's script would write it.
const signUpInPage = (username: string) =>
  (async () => {
    const post = (path: string, body: unknown) =>
      fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const options = await (await post("/auth/webauthn/signup_request/", { username, display_name: username })).json();
    // biome-ignore lint/suspicious/noExplicitAny: the page's global, from the UMD bundle
    const credential = await (window as any).SimpleWebAuthnBrowser.startRegistration({ optionsJSON: options });
    const res = await post(`/auth/webauthn/signup/${options.ukey}/`, {
      username,
      email: `${username}@example.com`,
      ...credential,
    });
    return { status: res.status, body: await res.json() };
  })();

const logInInPage = (username: string | null) =>
  (async () => {
    const post = (path: string, body: unknown) =>
      fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const named = username ? { username } : {};
    const options = await (await post("/auth/webauthn/login_request/", named)).json();
    // biome-ignore lint/suspicious/noExplicitAny: the page's global, from the UMD bundle
    const assertion = await (window as any).SimpleWebAuthnBrowser.startAuthentication({ optionsJSON: options });
    const res = await post("/auth/webauthn/login/", { ...named, ...assertion });
    const body = await res.json();
    const me = await fetch("/auth/users/me/", { headers: { authorization: `Token ${body.auth_token}` } });
    return { status: res.status, body: { ...body, me: await me.json() } };
  })();

for (const kind of DATABASES) {
  describe(`passkeys in Chromium on ${kind}`, () => {
    let front: { server: HttpServer; origin: string };
    beforeAll(async () => {
      front = await sameOrigin(() => s.url);
    });
    afterAll(() => front?.server.close());
    const s = useServer(kind, () => ({
      DJOSER_WEBAUTHN: JSON.stringify({ RP_ID: "localhost", RP_NAME: "Portcullis", ORIGIN: front.origin }),
    }));

    describe("a page using @simplewebauthn/browser", () => {
      let browser: Browser;
      let page: Page;
      beforeAll(async () => {
        const missing = `no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`;
        expect(existsSync(CHROMIUM), missing).toBe(true);
        browser = await puppeteer.launch({
          executablePath: CHROMIUM,
          headless: true,
          args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
        page = await browser.newPage();
        const cdp = await page.createCDPSession();
        await cdp.send("WebAuthn.enable");
        await cdp.send("WebAuthn.addVirtualAuthenticator", {
          options: {
            protocol: "ctap2",
            transport: "internal",
            hasResidentKey: true,
            hasUserVerification: true,
            isUserVerified: true,
            automaticPresenceSimulation: true,
          },
        });
        await page.goto(`${front.origin}/`);
      }, 60_000);
      afterAll(async () => browser?.close());

      it("signs up with a passkey, then logs in by name and by discoverable credential", async () => {
        const signed = (await page.evaluate(signUpInPage, "chromie")) as Answer;
        expect(signed.status, JSON.stringify(signed.body)).toBe(201);
        expect(signed.body).toMatchObject({ username: "chromie", email: "chromie@example.com" });
        for (const name of ["chromie", null]) {
          const login = (await page.evaluate(logInInPage, name)) as Answer;
          expect(login.status, JSON.stringify(login.body)).toBe(201);
          expect(login.body.auth_token).toMatch(/^[0-9a-f]{40}$/);
          expect(login.body.me).toMatchObject({ username: "chromie" });
        }
      }, 60_000);
    });
  });
}
