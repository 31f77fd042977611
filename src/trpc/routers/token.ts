import { z } from "zod";
import { stringField } from "../../core/inputs.ts";
import { tokenLogin } from "../../core/login/verify.ts";
import { logout, logoutAllTokens } from "../../core/sessions/opaque.ts";
import { protectedProcedure, publicProcedure, router } from "../init.ts";

const loginShape = z.object({
  username: stringField().optional(),
  email: stringField().optional(),
  password: stringField(),
});

export const tokenRouter = router({
  /** Djoser's token/login: {auth_token}. */
  login: publicProcedure.input(loginShape).mutation(({ ctx, input }) => tokenLogin(ctx.deps, input, ctx.meta)),
  /** Djoser's token/logout. */
  logout: protectedProcedure.mutation(async ({ ctx }) => void (await logout(ctx.deps, ctx.principal, ctx.meta))),
  /** Every opaque token of the caller, on every device. */
  logoutAll: protectedProcedure.mutation(async ({ ctx }) => ({
    revoked: await logoutAllTokens(ctx.deps, ctx.principal, ctx.meta),
  })),
});
