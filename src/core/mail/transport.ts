// Outgoing email with Django's three backends: console (print), file (one .eml per
// message) and smtp. Rendering lives in mail-templates.ts.
import { randomBytes } from "node:crypto";
import { mkdir, open, rename, unlink } from "node:fs/promises";
import path from "node:path";
import nodemailer from "nodemailer";
import {
  isMailKind,
  LINK_KINDS,
  type MailContext,
  type MailKind,
  oneLine,
  render,
  templateLoader,
  templateVars,
} from "./templates.ts";

export type { MailContext, MailKind } from "./templates.ts";

export type MailSettings = {
  EMAIL_BACKEND: "console" | "file" | "smtp";
  EMAIL_FILE_PATH: string; // folder for the file backend
  EMAIL_HOST: string;
  EMAIL_PORT: number;
  EMAIL_HOST_USER: string;
  EMAIL_HOST_PASSWORD: string;
  EMAIL_USE_TLS: boolean; // STARTTLS (Django's meaning)
  EMAIL_USE_SSL: boolean; // implicit TLS
  EMAIL_TIMEOUT: number | null; // seconds
  DEFAULT_FROM_EMAIL: string;
  EMAIL_TEMPLATES_DIR: string | null;
};

export type MailLog = {
  info: (obj: object, msg?: string) => void;
  warn: (obj: object, msg?: string) => void;
  error: (obj: object, msg?: string) => void;
};

export type Mailer = {
  send(kind: MailKind, to: string, ctx: MailContext): Promise<void>;
  close(): Promise<void>;
};

type Message = { from: string; to: string; subject: string; text: string; html: string };
// Hands a composed message to its destination and returns the Message-ID.
type Deliver = (msg: Message) => Promise<string>;

export function createMailer(settings: MailSettings, log: MailLog): Mailer {
  const load = templateLoader(settings.EMAIL_TEMPLATES_DIR);
  const warned = new Set<string>();
  const { deliver, close } = createTransport(settings);

  async function compose(kind: MailKind, to: string, ctx: MailContext): Promise<Message> {
    if (LINK_KINDS.has(kind) && !ctx.url) throw new Error(`${kind} email needs ctx.url to build its link`);
    const { templates, files } = await load(kind);
    const vars = templateVars(ctx);
    const part = (name: "subject" | "text" | "html", html: boolean) =>
      render(templates[name], vars, html, (placeholder) => {
        const file = files[name] ?? `built-in ${kind} ${name}`;
        const key = `${file}\0${placeholder}`;
        if (warned.has(key)) return;
        warned.add(key);
        log.warn({ kind, file, placeholder }, "unknown placeholder in email template, rendered as empty");
      });
    return {
      from: settings.DEFAULT_FROM_EMAIL,
      to,
      subject: oneLine(part("subject", false)),
      text: part("text", false),
      html: part("html", true),
    };
  }

  return {
    async send(kind, to, ctx) {
      // Logs name kind, recipient and Message-ID only: the link carries a token.
      if (!isMailKind(kind)) throw new Error(`unknown email kind ${JSON.stringify(kind)}`);
      try {
        const messageId = await deliver(await compose(kind, to, ctx));
        log.info({ kind, to, messageId }, "email sent");
      } catch (err) {
        log.error({ kind, to, err: (err as Error).message }, "email not sent");
        throw err;
      }
    },
    close,
  };
}

function createTransport(settings: MailSettings): { deliver: Deliver; close: () => Promise<void> } {
  switch (settings.EMAIL_BACKEND) {
    case "console":
      return consoleBackend();
    case "file":
      return streamBackend((raw) => writeAtomically(settings.EMAIL_FILE_PATH, raw));
    case "smtp":
      return smtpBackend(settings);
    default:
      throw new Error(`unknown EMAIL_BACKEND ${JSON.stringify(settings.EMAIL_BACKEND)}`);
  }
}

function streamBackend(sink: (raw: string) => Promise<void>) {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "unix" });
  return {
    async deliver(msg: Message) {
      const info = await transport.sendMail(msg);
      await sink(info.message.toString());
      return info.messageId;
    },
    async close() {
      transport.close();
    },
  };
}

/**
 * Prints each message for a person to read: its headers, then the text part as written. The MIME
 * form would quote-print the text, wrapping a long link at 76 columns with "=" at each break, and
 * a developer copying an activation link would copy a broken one (the file backend keeps MIME).
 */
function consoleBackend() {
  const transport = nodemailer.createTransport({ jsonTransport: true });
  return {
    async deliver(msg: Message) {
      const { messageId } = await transport.sendMail(msg);
      const headers = [`From: ${msg.from}`, `To: ${msg.to}`, `Subject: ${msg.subject}`, `Message-ID: ${messageId}`];
      const note = "(an HTML part is sent too; EMAIL_BACKEND=file writes the whole message)";
      // One write per message so concurrent sends don't interleave; Django's separator.
      process.stdout.write(`${headers.join("\n")}\n\n${msg.text.trimEnd()}\n\n${note}\n${"-".repeat(79)}\n`);
      return messageId;
    },
    async close() {
      transport.close();
    },
  };
}

/** Writes `<timestamp>-<random>.eml` via a hidden temp file + fsync + rename, so a reader
 * (a test polling the folder, a mail viewer) never sees a partial message. */
async function writeAtomically(dir: string, raw: string): Promise<void> {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").replace(".", "-").slice(0, 19);
  const name = `${stamp}-${randomBytes(4).toString("hex")}.eml`;
  const tmp = path.join(dir, `.${name}.tmp`);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 }); // owner-only: its listing dates every mail sent
    // 0600: messages hold live activation/reset tokens.
    const fh = await open(tmp, "wx", 0o600);
    try {
      await fh.writeFile(raw);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path.join(dir, name));
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw new Error(`cannot write email to ${dir}: ${(err as Error).message}`, { cause: err });
  }
}

function smtpBackend(s: MailSettings) {
  if (s.EMAIL_USE_TLS && s.EMAIL_USE_SSL) {
    // Same rule as Django: they are different protocols on different ports.
    throw new Error("EMAIL_USE_TLS and EMAIL_USE_SSL are mutually exclusive, set only one");
  }
  const ms = s.EMAIL_TIMEOUT === null ? undefined : Math.round(s.EMAIL_TIMEOUT * 1000);
  const transport = nodemailer.createTransport({
    host: s.EMAIL_HOST,
    port: s.EMAIL_PORT,
    secure: s.EMAIL_USE_SSL,
    requireTLS: s.EMAIL_USE_TLS,
    // Django never upgrades unless EMAIL_USE_TLS is set; match it rather than nodemailer's
    // opportunistic STARTTLS, which fails on servers with self-signed certificates.
    ignoreTLS: !s.EMAIL_USE_TLS && !s.EMAIL_USE_SSL,
    auth: s.EMAIL_HOST_USER ? { user: s.EMAIL_HOST_USER, pass: s.EMAIL_HOST_PASSWORD } : undefined,
    connectionTimeout: ms,
    greetingTimeout: ms,
    socketTimeout: ms,
    dnsTimeout: ms,
  });
  return {
    async deliver(msg: Message) {
      try {
        return (await transport.sendMail(msg)).messageId;
      } catch (err) {
        throw new Error(describeSmtpError(err as SmtpError, s), { cause: err });
      }
    },
    async close() {
      transport.close();
    },
  };
}

type SmtpError = Error & { code?: string; originalCode?: string; response?: string; responseCode?: number };

/** Turns nodemailer's error codes into a sentence an operator can act on. */
export function describeSmtpError(err: SmtpError, s: MailSettings): string {
  const at = `SMTP server at ${s.EMAIL_HOST}:${s.EMAIL_PORT}`;
  const reply = `: ${(err.response ?? err.message).trim()}`;
  const low = err.originalCode ?? err.code;
  if (low === "ECONNREFUSED") return `${at} refused the connection`;
  if (low === "EHOSTUNREACH" || low === "ENETUNREACH") return `${at} is unreachable (${low})`;
  if (err.code === "ETLS" && s.EMAIL_USE_TLS)
    return `${at} did not accept STARTTLS, which EMAIL_USE_TLS requires${reply}`;
  if (/SSL routines|wrong version number/i.test(err.message)) {
    // Typically EMAIL_USE_SSL against a plain/STARTTLS port (587, 25) or the reverse.
    return (
      `${at}: TLS handshake failed; ` +
      `EMAIL_USE_SSL is for implicit-TLS ports (usually 465), EMAIL_USE_TLS for STARTTLS (usually 587)${reply}`
    );
  }
  switch (err.code) {
    case "EDNS":
      return `cannot resolve SMTP host ${s.EMAIL_HOST}${reply}`;
    case "ETIMEDOUT":
      return `${at} did not answer in time (EMAIL_TIMEOUT ${s.EMAIL_TIMEOUT ?? "default"}s)`;
    case "EAUTH":
      return `${at} rejected the login of EMAIL_HOST_USER ${JSON.stringify(s.EMAIL_HOST_USER)}${reply}`;
    case "ENOAUTH":
      return `${at} needs a login but EMAIL_HOST_USER is empty`;
    case "ETLS":
      return `${at}: TLS failed (check EMAIL_USE_TLS/EMAIL_USE_SSL and the port)${reply}`;
    case "EENVELOPE":
      return `${at} refused the sender or recipient${reply}`;
    case "EMESSAGE":
      return `${at} refused the message${reply}`;
    case "ECONNECTION":
    case "ESOCKET":
      return `${at}: connection failed${reply}`;
    default:
      return `sending via ${at} failed${reply}`;
  }
}
