// A real SMTP server on 127.0.0.1 (smtp-server, no TLS) that keeps what it receives, for the
// tests of mail over SMTP. `delayMs` holds each message's answer back, as a slow server would.
import { SMTPServer } from "smtp-server";
import { parseMessage } from "./mail.ts";

export type Received = { from: string; to: string[]; subject: string; raw: string };
export type Inbox = {
  port: number;
  received: Received[];
  /** The next message not yet returned, waiting for it if need be. */
  next(): Promise<Received>;
  /** Waits until `count` messages with `subject` reached `to` (fails after `ms`). */
  waitFor(to: string, subject: string, count: number, ms?: number): Promise<Received[]>;
  close(): Promise<void>;
};

export async function startInbox(opts: { port?: number; delayMs?: number } = {}): Promise<Inbox> {
  const received: Received[] = [];
  const unread: Received[] = [];
  const waiters: ((m: Received) => void)[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        setTimeout(() => {
          const mail = {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            to: session.envelope.rcptTo.map((r) => r.address),
            subject: parseMessage(raw).headers.get("subject") ?? "",
            raw,
          };
          received.push(mail);
          const waiter = waiters.shift();
          if (waiter) waiter(mail);
          else unread.push(mail);
          callback();
        }, opts.delayMs ?? 0);
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.server.address() as { port: number }).port,
    received,
    next: () => new Promise<Received>((resolve) => (unread.length ? resolve(unread.shift()!) : waiters.push(resolve))),
    async waitFor(to, subject, count, ms = 40_000) {
      const mine = () => received.filter((m) => m.to.includes(to) && m.subject === subject);
      for (const end = Date.now() + ms; mine().length < count; await new Promise((r) => setTimeout(r, 100))) {
        if (Date.now() > end) throw new Error(`${mine().length}/${count} "${subject}" mails reached ${to} in ${ms} ms`);
      }
      return mine();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
