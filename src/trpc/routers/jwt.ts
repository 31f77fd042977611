import { z } from "zod";
import { charField, form, stringField } from "../../core/inputs.ts";
import { createTokens, logoutAllSessions, logoutRefresh, refreshTokens, verifyToken } from "../../core/sessions/jwt.ts";
import { protectedProcedure, publicProcedure, router } from "../init.ts";

// Static shapes for typed clients; createTokens re-checks the login field against USERNAME_FIELD.
const createShape = z.object({
  username: stringField().optional(),
  email: stringField().optional(),
  password: stringField(),
});
const refreshShape = form({ refresh: charField() });

export const jwtRouter = router({
  /** SimpleJWT's jwt/create: {refresh, access}. */
  create: publicProcedure.input(createShape).mutation(({ ctx, input }) => createTokens(ctx.deps, input, ctx.meta)),
  /** SimpleJWT's jwt/refresh: {access}, plus {refresh} under ROTATE_REFRESH_TOKENS. */
  refresh: publicProcedure.input(refreshShape).mutation(({ ctx, input }) => refreshTokens(ctx.deps, input, ctx.meta)),
  /** SimpleJWT's jwt/verify: {} when valid. */
  verify: publicProcedure
    .input(form({ token: charField() }))
    .mutation(({ ctx, input }) => verifyToken(ctx.deps, input)),
  /** Ends the session of a refresh token (its refresh and access tokens). */
  logout: publicProcedure
    .input(refreshShape)
    .mutation(async ({ ctx, input }) => void (await logoutRefresh(ctx.deps, input, ctx.meta))),
  /** Ends every JWT session of the caller. */
  logoutAll: protectedProcedure.mutation(({ ctx }) => logoutAllSessions(ctx.deps, ctx.principal.user.id, ctx.meta)),
});
