// mail_outbox: mails waiting for delivery. Rows are claimed with SKIP LOCKED, so several
// instances never send one twice at once; a claimed row comes back after its lease if its
// instance died.
import type { Prisma } from "../../generated/prisma/client.ts";
import { type Db, LIMITS } from "./base.ts";

export type OutboxRow = { id: number; kind: string; userId: number; data: unknown; attempts: number };

export function outboxStore({ prisma }: Db) {
  return {
    async add(kind: string, userId: number, data: Prisma.InputJsonValue) {
      await prisma.mailOutbox.create({ data: { kind, userId, data } });
    },
    /** Up to `batch` rows that are due, each leased for `lease` (a PostgreSQL interval) and counted as an attempt. */
    claim: (batch: number, lease: string) => prisma.$queryRaw<OutboxRow[]>`
      UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = now() + ${lease}::interval
      WHERE id IN (
        SELECT id FROM mail_outbox WHERE next_attempt_at <= now() ORDER BY id LIMIT ${batch} FOR UPDATE SKIP LOCKED
      )
      RETURNING id, kind, user_id AS "userId", data, attempts`,
    async retryAt(id: number, at: Date, error: string) {
      await prisma.mailOutbox.update({
        where: { id },
        data: { nextAttemptAt: at, lastError: error.slice(0, LIMITS.mailError) },
      });
    },
    async drop(id: number) {
      await prisma.mailOutbox.deleteMany({ where: { id } });
    },
    /** How many mails wait, and since when the oldest (null: none). */
    async depth(): Promise<{ waiting: number; oldest: Date | null }> {
      const { _count, _min } = await prisma.mailOutbox.aggregate({ _count: { _all: true }, _min: { created: true } });
      return { waiting: _count._all, oldest: _min.created };
    },
  };
}
