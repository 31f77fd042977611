import { z } from "zod";
import { AUDIT_KINDS, listAudit } from "../../core/audit.ts";
import { idField } from "../../core/inputs.ts";
import { protectedProcedure, router } from "../init.ts";

const query = z.object({
  userId: idField().optional(),
  kind: z.enum(AUDIT_KINDS).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  cursor: idField().optional(),
  limit: z.number().int().min(1).max(500).optional(),
});

export const auditRouter = router({
  /** Staff: authentication events, newest first, filtered by user, kind and time; paginated by cursor. */
  list: protectedProcedure.input(query).query(({ ctx, input }) =>
    listAudit(ctx.deps, ctx.principal, {
      ...input,
      from: input.from ? new Date(input.from) : undefined,
      to: input.to ? new Date(input.to) : undefined,
    }),
  ),
});
