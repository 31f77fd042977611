// Delivers queued mails (mail_outbox). Each instance drains the queue when a mail is queued and
// every POLL_MS; rows are claimed with SKIP LOCKED, so several instances never send one twice at
// once. A failed delivery is retried with backoff for as long as it takes (SMTP down loses
// nothing); a crash mid-delivery leaves the row to be claimed again after its lease.
import type { Deps, Outbox } from "../deps.ts";

export type { Outbox };

import { type MailExtra, mailContext, recipient } from "./queue.ts";
import { isMailKind } from "./templates.ts";

const POLL_MS = 15_000;
const BATCH = 20;
const LEASE = "5 minutes"; // a claimed row is retried after this if its instance died
const MAX_BACKOFF_S = 3600;

type Row = { id: number; kind: string; userId: number; data: MailExtra | null; attempts: number };

export function startOutbox(deps: Omit<Deps, "outbox">): Outbox {
  const { store, log } = deps;
  let running: Promise<void> | null = null;
  let again = false;
  let closed = false;
  let failing = false; // one error line per outage of the database

  const claim = () => store.outbox.claim(BATCH, LEASE) as Promise<Row[]>;

  async function deliver(row: Row) {
    const user = await store.users.byId(row.userId);
    // No address any more (an email change confirmed or replaced before its link went out): dropped.
    const to = user && isMailKind(row.kind) ? recipient(row.kind, user, row.data ?? {}) : null;
    if (!user || !to || !isMailKind(row.kind)) {
      await store.outbox.drop(row.id);
      return;
    }
    try {
      await deps.mailer.send(row.kind, to, mailContext(deps, row.kind, user, row.data ?? {}));
    } catch (e) {
      const wait = Math.min(MAX_BACKOFF_S, 5 * 2 ** (row.attempts - 1));
      await store.outbox.retryAt(row.id, new Date(Date.now() + wait * 1000), (e as Error).message);
      log.warn(
        { kind: row.kind, userId: row.userId, attempts: row.attempts, retryInSeconds: wait },
        "mail queued for another attempt",
      );
      return;
    }
    await store.outbox.drop(row.id);
  }

  async function drain() {
    try {
      for (let batch = await claim(); batch.length && !closed; batch = await claim()) {
        for (const row of batch) await deliver(row);
      }
      failing = false;
    } catch (e) {
      if (!failing) log.error({ err: (e as Error).message }, "mail outbox: database unavailable; queued mails wait");
      failing = true;
    }
  }

  function kick() {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = drain().finally(() => {
      running = null;
      if (again) {
        again = false;
        kick();
      }
    });
  }

  const timer = setInterval(kick, POLL_MS).unref();
  kick(); // mails left by an earlier run
  return {
    kick,
    async idle() {
      while (running) await running;
    },
    async close() {
      closed = true;
      clearInterval(timer);
      while (running) await running;
    },
  };
}
