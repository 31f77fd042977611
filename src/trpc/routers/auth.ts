// Sign-in for typed clients, one flow whatever the account: auth.login answers the credential, or
// says a second factor is needed ({status: "mfa_required", ephemeralToken, methods}); auth.loginCode
// completes it. auth.reauthenticate renews the caller's sign-in for sensitive actions.
import { reauthenticate, reauthenticateFields } from "../../core/login/reauthenticate.ts";
import { codeLoginFields, codeStep, mfaLoginFields, passwordStep } from "../../core/mfa/login.ts";
import { protectedProcedure, publicProcedure, router } from "../init.ts";

export const authRouter = router({
  /** The password: {status: "ok", credential} or {status: "mfa_required", ephemeralToken, method, methods, details}. */
  login: publicProcedure
    .input(mfaLoginFields)
    .mutation(({ ctx, input }) => passwordStep(ctx.deps, input, ctx.meta, input.credential)),
  /** The ephemeral token and a code (or a backup code, or a passkey assertion): the credential. */
  loginCode: publicProcedure.input(codeLoginFields).mutation(({ ctx, input }) => codeStep(ctx.deps, input, ctx.meta)),
  /** Prove a factor again ({password}, or {code} with MFA on): sensitive actions go through for a while. */
  reauthenticate: protectedProcedure
    .input(reauthenticateFields)
    .mutation(({ ctx, input }) => reauthenticate(ctx.deps, ctx.principal, input, ctx.meta)),
});
