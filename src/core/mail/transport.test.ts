import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { SMTPServer } from "smtp-server";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseMessage } from "../../../test/helpers/mail.ts";
import { createMailer, type MailContext, type MailSettings } from "./transport.ts";

// Minimal RFC 5322 / MIME reader: headers, and each part decoded by its transfer encoding.
const silentLog = () => ({ info: vi.fn(), warn: vi.fn(), error: vi.fn() });

function settings(over: Partial<MailSettings> = {}): MailSettings {
  return {
    EMAIL_BACKEND: "file",
    EMAIL_FILE_PATH: "",
    EMAIL_HOST: "127.0.0.1",
    EMAIL_PORT: 25,
    EMAIL_HOST_USER: "",
    EMAIL_HOST_PASSWORD: "",
    EMAIL_USE_TLS: false,
    EMAIL_USE_SSL: false,
    EMAIL_TIMEOUT: 2,
    DEFAULT_FROM_EMAIL: "Portcullis <noreply@example.com>",
    EMAIL_TEMPLATES_DIR: null,
    ...over,
  };
}

// A long token on purpose: the link line exceeds 76 chars, so parts get QP-encoded.
const TOKEN = "c4x1yz-0123456789abcdef0123456789abcdef";
const ctx = (username: string | null = "alice"): MailContext => ({
  site_name: "Acme",
  domain: "app.example.com",
  protocol: "https",
  url: `activate/MQ/${TOKEN}`,
  uid: "MQ",
  token: TOKEN,
  user: { username, email: "alice@example.com" },
});
const LINK = `https://app.example.com/activate/MQ/${TOKEN}`;
const smtp = (over: Partial<MailSettings>) => settings({ EMAIL_BACKEND: "smtp", ...over });
async function onlyMessage(folder: string) {
  const [file, ...rest] = await readdir(folder);
  expect(rest).toEqual([]);
  return parseMessage(await readFile(path.join(folder, file!), "utf8"));
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "mail-test-"));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

describe("file backend", () => {
  it("writes one complete .eml per message into a created folder, no temp files left", async () => {
    const out = path.join(dir, "nested", "mail");
    const log = silentLog();
    const mailer = createMailer(settings({ EMAIL_FILE_PATH: out }), log);
    await mailer.send("activation", "alice@example.com", ctx());
    await mailer.send("password_reset", "alice@example.com", { ...ctx(), url: `reset/MQ/${TOKEN}` });
    await mailer.close();

    const files = (await readdir(out)).sort();
    expect(files).toHaveLength(2);
    for (const f of files) expect(f).toMatch(/^\d{8}-\d{6}-\d{3}-[0-9a-f]{8}\.eml$/);
    expect((await stat(path.join(out, files[0]!))).mode & 0o777).toBe(0o600);

    const msgs = await Promise.all(files.map(async (f) => parseMessage(await readFile(path.join(out, f), "utf8"))));
    const activation = msgs.find((m) => m.headers.get("subject") === "Account activation on Acme")!;
    expect(activation).toBeDefined();
    expect(activation.headers.get("from")).toBe("Portcullis <noreply@example.com>");
    expect(activation.headers.get("to")).toBe("alice@example.com");
    expect(activation.headers.get("message-id")).toMatch(/^<.+@example\.com>$/);
    expect(activation.parts.get("text/plain")).toContain(LINK);
    expect(activation.parts.get("text/html")).toContain(`<a href="${LINK}">${LINK}</a>`);

    // Logs carry kind, recipient and message id, never the token.
    expect(log.info).toHaveBeenCalledWith(
      expect.objectContaining({ kind: "activation", to: "alice@example.com", messageId: expect.any(String) }),
      "email sent",
    );
    expect(JSON.stringify(log.info.mock.calls)).not.toContain(TOKEN);
  });

  it("HTML-escapes interpolated values but keeps the text part verbatim", async () => {
    const mailer = createMailer(settings({ EMAIL_FILE_PATH: dir }), silentLog());
    await mailer.send("password_reset", "x@example.com", { ...ctx("<script>alert(1)</script>"), site_name: "A&B" });
    const m = await onlyMessage(dir);
    expect(m.headers.get("subject")).toBe("Password reset on A&B");
    const html = m.parts.get("text/html")!;
    expect(html).toContain("<b>&lt;script&gt;alert(1)&lt;/script&gt;</b>");
    expect(html).toContain("The A&amp;B team");
    expect(html).not.toContain("<script>");
    expect(m.parts.get("text/plain")).toContain("forgotten: <script>alert(1)</script>");
  });

  it("falls back to the email as the username, like Django's get_username for email logins", async () => {
    const mailer = createMailer(settings({ EMAIL_FILE_PATH: dir }), silentLog());
    await mailer.send("username_reset", "alice@example.com", ctx(null));
    expect((await onlyMessage(dir)).parts.get("text/plain")).toContain("forgotten: alice@example.com");
  });

  it("rejects link kinds without a url, and explains an unwritable folder", async () => {
    const mailer = createMailer(settings({ EMAIL_FILE_PATH: dir }), silentLog());
    await expect(mailer.send("activation", "a@example.com", { ...ctx(), url: undefined })).rejects.toThrow(
      /needs ctx\.url/,
    );
    const blocker = path.join(dir, "not-a-dir");
    await writeFile(blocker, "");
    const bad = createMailer(settings({ EMAIL_FILE_PATH: path.join(blocker, "sub") }), silentLog());
    await expect(bad.send("confirmation", "a@example.com", ctx())).rejects.toThrow(/cannot write email to .*not-a-dir/);
  });
});

describe("console backend", () => {
  it("prints headers and the text part as written, a long link on one line, then Django's separator", async () => {
    const writes: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    const mailer = createMailer(settings({ EMAIL_BACKEND: "console" }), silentLog());
    const url = `#/activate/MQ/${"c".repeat(20)}-${"0123456789abcdef".repeat(4)}`; // over 76 columns
    await mailer.send("activation", "bob@example.com", { ...ctx("bob"), url });
    vi.restoreAllMocks();
    expect(writes).toHaveLength(1);
    const out = writes[0]!;
    expect(out.endsWith(`\n${"-".repeat(79)}\n`)).toBe(true);
    expect(out).toMatch(/^From: .+\nTo: bob@example\.com\nSubject: .+\nMessage-ID: <[^>]+>\n\n/);
    const link = `https://app.example.com/${url}`;
    expect(link.length).toBeGreaterThan(76);
    expect(out.split("\n")).toContain(link); // whole, on a line of its own, no "=" soft breaks
    expect(out).not.toMatch(/Content-Transfer-Encoding|=\n/);
  });
});

describe("template overrides", () => {
  it("uses any subset of override files, read once, and warns once about unknown placeholders", async () => {
    const tpl = path.join(dir, "templates");
    const out = path.join(dir, "out");
    await mkdir(tpl);
    await writeFile(path.join(tpl, "activation.subject.txt"), "Welcome to {{site_name}}, {{ user.username }}\n");
    await writeFile(
      path.join(tpl, "activation.html"),
      '<p>Hi {{ user.username }} ({{ user.email }}) {{ nope }}</p><a href="{{ link }}">go</a> {{uid}}/{{ token }}',
    );
    const log = silentLog();
    const mailer = createMailer(settings({ EMAIL_FILE_PATH: out, EMAIL_TEMPLATES_DIR: tpl }), log);
    await mailer.send("activation", "alice@example.com", ctx("<b>al</b>"));
    // Edited after first use: the cached copy still wins.
    await writeFile(path.join(tpl, "activation.subject.txt"), "changed");
    await mailer.send("activation", "alice@example.com", ctx("<b>al</b>"));

    const files = await readdir(out);
    expect(files).toHaveLength(2);
    for (const f of files) {
      const m = parseMessage(await readFile(path.join(out, f), "utf8"));
      expect(m.headers.get("subject")).toBe("Welcome to Acme, <b>al</b>");
      expect(m.parts.get("text/html")).toBe(
        `<p>Hi &lt;b&gt;al&lt;/b&gt; (alice@example.com) </p><a href="${LINK}">go</a> MQ/${TOKEN}`,
      );
      // No override for the text part: the built-in one is used.
      expect(m.parts.get("text/plain")).toContain(`activate your account:\n${LINK}`);
    }
    expect(log.warn).toHaveBeenCalledTimes(1);
    expect(log.warn.mock.calls[0]![0]).toMatchObject({ kind: "activation", placeholder: "nope" });
  });
});

describe("smtp backend", () => {
  let server: SMTPServer | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  type Received = { from?: string; to: string[]; data: string; user?: string };
  async function startSmtp(opts: { auth?: boolean } = {}) {
    const received: Received[] = [];
    server = new SMTPServer({
      authOptional: !opts.auth,
      allowInsecureAuth: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onAuth(auth, _session, cb) {
        if (auth.username === "mailer" && auth.password === "s3cret") return cb(null, { user: auth.username });
        cb(new Error("Invalid username or password"));
      },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
            to: session.envelope.rcptTo.map((r) => r.address),
            data: Buffer.concat(chunks).toString("utf8"),
            user: session.user as string | undefined,
          });
          cb();
        });
      },
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const port = (server.server.address() as AddressInfo).port;
    return { port, received };
  }

  it("delivers to a real SMTP server on loopback", async () => {
    const { port, received } = await startSmtp();
    const mailer = createMailer(smtp({ EMAIL_PORT: port }), silentLog());
    await mailer.send("activation", "alice@example.com", ctx());
    await mailer.close();
    expect(received).toHaveLength(1);
    expect(received[0]!.from).toBe("noreply@example.com");
    expect(received[0]!.to).toEqual(["alice@example.com"]);
    const m = parseMessage(received[0]!.data);
    expect(m.headers.get("to")).toBe("alice@example.com");
    expect(m.parts.get("text/plain")).toContain(LINK);
    expect(m.parts.get("text/html")).toContain(LINK);
  });

  it("logs in when EMAIL_HOST_USER is set, and explains a rejected login without the password", async () => {
    const { port, received } = await startSmtp({ auth: true });
    const ok = createMailer(
      smtp({ EMAIL_PORT: port, EMAIL_HOST_USER: "mailer", EMAIL_HOST_PASSWORD: "s3cret" }),
      silentLog(),
    );
    await ok.send("confirmation", "alice@example.com", ctx());
    expect(received[0]!.user).toBe("mailer");

    const log = silentLog();
    const bad = createMailer(
      smtp({ EMAIL_PORT: port, EMAIL_HOST_USER: "mailer", EMAIL_HOST_PASSWORD: "wrong-pw" }),
      log,
    );
    const err = await bad.send("confirmation", "alice@example.com", ctx()).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/rejected the login of EMAIL_HOST_USER "mailer"/);
    expect((err as Error).message).not.toContain("wrong-pw");
    expect(JSON.stringify(log.error.mock.calls)).not.toContain("wrong-pw");
  });

  it("refuses to send in clear when EMAIL_USE_TLS is set but the server has no STARTTLS", async () => {
    const { port, received } = await startSmtp();
    const mailer = createMailer(smtp({ EMAIL_PORT: port, EMAIL_USE_TLS: true }), silentLog());
    await expect(mailer.send("confirmation", "a@example.com", ctx())).rejects.toThrow(
      /SMTP server at 127\.0\.0\.1:\d+ did not accept STARTTLS, which EMAIL_USE_TLS requires/,
    );
    expect(received).toHaveLength(0);
  });

  it("rejects with a clear message when the port is closed", async () => {
    // Grab a free port, then close it so nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const mailer = createMailer(smtp({ EMAIL_PORT: port, EMAIL_TIMEOUT: 0.5 }), silentLog());
    await expect(mailer.send("confirmation", "a@example.com", ctx())).rejects.toThrow(
      `SMTP server at 127.0.0.1:${port} refused the connection`,
    );
  });

  it("gives up after EMAIL_TIMEOUT when the server never greets", async () => {
    const sockets: Socket[] = [];
    const mute = createServer((sock) => void sockets.push(sock)); // accepts, says nothing
    await new Promise<void>((r) => mute.listen(0, "127.0.0.1", r));
    const port = (mute.address() as AddressInfo).port;
    try {
      const mailer = createMailer(smtp({ EMAIL_PORT: port, EMAIL_TIMEOUT: 0.3 }), silentLog());
      const started = Date.now();
      await expect(mailer.send("confirmation", "a@example.com", ctx())).rejects.toThrow(/did not answer in time/);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((r) => mute.close(() => r()));
    }
  });

  it("rejects EMAIL_USE_TLS together with EMAIL_USE_SSL, as Django does", () => {
    expect(() => createMailer(smtp({ EMAIL_USE_TLS: true, EMAIL_USE_SSL: true }), silentLog())).toThrow(/exclusive/);
  });
});

describe("oneLine (subjects)", () => {
  it("collapses every line break and the blanks around it into one space, and trims", async () => {
    const { oneLine } = await import("./templates.ts");
    expect(oneLine("  Reset \r\n\n  your  password \n")).toBe("Reset your  password");
    expect(oneLine("a\n \t \nb")).toBe("a b");
    expect(oneLine("\n\n")).toBe("");
  });

  it("takes linear time on a long run of blanks with no line break (a regex collapse is quadratic there)", async () => {
    const { oneLine } = await import("./templates.ts");
    const ms = (n: number) => {
      const value = `a${" ".repeat(n)}b`;
      const times = [1, 2, 3].map(() => {
        const start = performance.now();
        expect(oneLine(value)).toBe(value);
        return performance.now() - start;
      });
      return times.sort((x, y) => x - y)[1]!;
    };
    expect(ms(64_000)).toBeLessThan(64 * 4 * ms(1_000) + 100);
  });
});
