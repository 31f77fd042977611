import { z } from "zod";
import { idField } from "../../core/inputs.ts";
import {
  listSessions,
  listSessionsFor,
  revokeSession,
  revokeSessions,
  revokeSessionsFor,
} from "../../core/sessions/list.ts";
import { protectedProcedure, router } from "../init.ts";

const forUser = z.object({ userId: idField() });

export const sessionsRouter = router({
  /** The caller's live sessions (opaque tokens and JWT sessions); `current` marks this one. */
  list: protectedProcedure.query(({ ctx }) => listSessions(ctx.deps, ctx.principal.user.id, ctx.principal)),
  /** Ends one of the caller's sessions by id ("t…" or "j…", from list). */
  revoke: protectedProcedure
    .input(z.object({ id: z.string().max(40) }))
    .mutation(
      async ({ ctx, input }) => void (await revokeSession(ctx.deps, ctx.principal.user.id, input.id, ctx.meta)),
    ),
  /** Ends every session of the caller but this one; on the shared key, returns {auth_token}, the caller's new key. */
  revokeOthers: protectedProcedure.mutation(
    async ({ ctx }) =>
      (await revokeSessions(ctx.deps, ctx.principal.user.id, ctx.meta, { keep: ctx.principal })) ?? undefined,
  ),
  /** Ends every session of the caller, this one included. */
  revokeAll: protectedProcedure.mutation(
    async ({ ctx }) => void (await revokeSessions(ctx.deps, ctx.principal.user.id, ctx.meta)),
  ),
  /** Staff: a user's sessions (not a superuser's, unless a superuser asks). */
  listFor: protectedProcedure
    .input(forUser)
    .query(({ ctx, input }) => listSessionsFor(ctx.deps, ctx.principal, input.userId)),
  /** Staff: ends every session of a user (not a superuser's, unless a superuser asks). */
  revokeAllFor: protectedProcedure.input(forUser).mutation(async ({ ctx, input }) => {
    await revokeSessionsFor(ctx.deps, ctx.principal, input.userId, ctx.meta);
  }),
});
