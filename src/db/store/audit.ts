// audit_event: one row per authentication event. Text a client chose is cut to its column.
import type { Prisma } from "../../generated/prisma/client.ts";
import { type Db, LIMITS, type Origin, origin } from "./base.ts";

export type AuditFilter = { userId?: number; kind?: string; from?: Date; to?: Date; before?: number };

export function auditStore({ prisma }: Db) {
  return {
    async record(kind: string, userId: number | null, from: Origin | null, data: { login?: string }) {
      const where = from ? origin(from) : { ip: "", userAgent: "" };
      const login = data.login?.slice(0, LIMITS.login);
      await prisma.auditEvent.create({
        data: { kind, userId, ...where, data: { ...data, login } as Prisma.InputJsonValue },
      });
    },
    /** Newest first, at most `take` events. */
    list: (f: AuditFilter, take: number) =>
      prisma.auditEvent.findMany({
        where: {
          ...(f.userId !== undefined ? { userId: f.userId } : {}),
          ...(f.kind ? { kind: f.kind } : {}),
          ...(f.from || f.to ? { at: { ...(f.from ? { gte: f.from } : {}), ...(f.to ? { lt: f.to } : {}) } } : {}),
          ...(f.before !== undefined ? { id: { lt: f.before } } : {}),
        },
        orderBy: { id: "desc" },
        take,
      }),
    /** Events older than `days` days. */
    flush: (days: number) =>
      prisma.$executeRaw`DELETE FROM audit_event WHERE at < now() - make_interval(days => ${days}::int)`,
  };
}
