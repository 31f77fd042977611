import { z } from "zod";
import { idField } from "../../services/inputs.ts";
import { AuthError } from "../../errors.ts";
import { listSessions, revokeSession, revokeSessions } from "../../services/sessions.ts";
import { protectedProcedure, router } from "../init.ts";

const staffOnly = protectedProcedure.use(({ ctx, next }) => {
  if (!ctx.principal.user.isStaff) throw new AuthError("permission_denied");
  return next();
});
const forUser = z.object({ userId: idField() });

export const sessionsRouter = router({
  /** The caller's live sessions (opaque tokens and JWT sessions); `current` marks this one. */
  list: protectedProcedure.query(({ ctx }) => listSessions(ctx.deps, ctx.principal.user.id, ctx.principal)),
  /** Ends one of the caller's sessions by id ("t…" or "j…", from list). */
  revoke: protectedProcedure.input(z.object({ id: z.string().max(40) })).mutation(async ({ ctx, input }) => void (await revokeSession(ctx.deps, ctx.principal.user.id, input.id, ctx.meta))),
  /** Ends every session of the caller but this one; on the shared key, returns {auth_token}, the caller's new key. */
  revokeOthers: protectedProcedure.mutation(
    async ({ ctx }) => (await revokeSessions(ctx.deps, ctx.principal.user.id, ctx.meta, { keep: ctx.principal })) ?? undefined,
  ),
  /** Ends every session of the caller, this one included. */
  revokeAll: protectedProcedure.mutation(async ({ ctx }) => void (await revokeSessions(ctx.deps, ctx.principal.user.id, ctx.meta))),
  /** Staff: a user's sessions. */
  listFor: staffOnly.input(forUser).query(({ ctx, input }) => listSessions(ctx.deps, input.userId)),
  /** Staff: ends every session of a user. */
  revokeAllFor: staffOnly.input(forUser).mutation(async ({ ctx, input }) => void (await revokeSessions(ctx.deps, input.userId, ctx.meta, { by: ctx.principal.user.id }))),
});
