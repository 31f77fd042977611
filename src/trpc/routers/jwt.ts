import {
  createTokens,
  jwtCreateFields,
  logoutAllSessions,
  logoutRefresh,
  refreshFields,
  refreshTokens,
  verifyFields,
  verifyToken,
} from "../../core/sessions/jwt.ts";
import { protectedProcedure, publicProcedure, router } from "../init.ts";

export const jwtRouter = router({
  /** SimpleJWT's jwt/create: {refresh, access}. */
  create: publicProcedure.input(jwtCreateFields).mutation(({ ctx, input }) => createTokens(ctx.deps, input, ctx.meta)),
  /** SimpleJWT's jwt/refresh: {access}, plus {refresh} under ROTATE_REFRESH_TOKENS. */
  refresh: publicProcedure.input(refreshFields).mutation(({ ctx, input }) => refreshTokens(ctx.deps, input, ctx.meta)),
  /** SimpleJWT's jwt/verify: {} when valid. */
  verify: publicProcedure.input(verifyFields).mutation(({ ctx, input }) => verifyToken(ctx.deps, input)),
  /** Ends the session of a refresh token (its refresh and access tokens). */
  logout: publicProcedure
    .input(refreshFields)
    .mutation(async ({ ctx, input }) => void (await logoutRefresh(ctx.deps, input, ctx.meta))),
  /** Ends every JWT session of the caller. */
  logoutAll: protectedProcedure.mutation(({ ctx }) => logoutAllSessions(ctx.deps, ctx.principal.user.id, ctx.meta)),
});
