import type { RevokedTokens } from "../../core/dto.ts";
import { loginFields, tokenLogin } from "../../core/login/verify.ts";
import { logout, logoutAllTokens } from "../../core/sessions/opaque.ts";
import { protectedProcedure, publicProcedure, router } from "../init.ts";

export const tokenRouter = router({
  /** Djoser's token/login: {auth_token}. */
  login: publicProcedure.input(loginFields).mutation(({ ctx, input }) => tokenLogin(ctx.deps, input, ctx.meta)),
  /** Djoser's token/logout. */
  logout: protectedProcedure.mutation(async ({ ctx }) => void (await logout(ctx.deps, ctx.principal, ctx.meta))),
  /** Every opaque token of the caller, on every device. */
  logoutAll: protectedProcedure.mutation(
    async ({ ctx }): Promise<RevokedTokens> => ({ revoked: await logoutAllTokens(ctx.deps, ctx.principal, ctx.meta) }),
  ),
});
