// Second factors (django-trench's views as procedures): enrol, confirm, turn off, backup codes,
// codes on request, the primary method.
import { z } from "zod";
import * as flows from "../../core/mfa/flows.ts";
import { protectedProcedure, publicProcedure, router } from "../init.ts";

const method = z.object({ method: z.string().max(32) });

export const mfaRouter = router({
  /** The methods offered and the code rules. */
  config: publicProcedure.query(({ ctx }) => flows.mfaConfig(ctx.deps)),
  /** The caller's active methods, [{name, is_primary}]. */
  activeMethods: protectedProcedure.query(({ ctx }) => flows.activeMethods(ctx.deps, ctx.principal)),
  /** Start enrolling: {details} (app: the otpauth:// URI; email: a code is mailed). Needs a recent sign-in. */
  activate: protectedProcedure
    .input(method)
    .mutation(({ ctx, input }) => flows.activateMethod(ctx.deps, ctx.principal, input.method, ctx.meta)),
  /** The first code turns the method on: {backup_codes}, shown this once. */
  confirm: protectedProcedure
    .input(method.extend(flows.codeFields.shape))
    .mutation(({ ctx, input }) => flows.confirmMethod(ctx.deps, ctx.principal, input.method, input, ctx.meta)),
  /** Turn a method off: its code, or a recent second factor. */
  deactivate: protectedProcedure
    .input(method.extend(flows.optionalCodeFields.shape))
    .mutation(
      async ({ ctx, input }) =>
        void (await flows.deactivateMethod(ctx.deps, ctx.principal, input.method, input, ctx.meta)),
    ),
  /** New backup codes in place of the old ones. */
  regenerateBackupCodes: protectedProcedure
    .input(method.extend(flows.optionalCodeFields.shape))
    .mutation(({ ctx, input }) => flows.regenerateBackupCodes(ctx.deps, ctx.principal, input.method, input, ctx.meta)),
  /** Mail a code (email) or get request options (webauthn) for {method} (default: the primary). */
  requestCode: protectedProcedure
    .input(flows.requestCodeFields)
    .mutation(({ ctx, input }) => flows.requestCode(ctx.deps, ctx.principal, input)),
  /** Make {method} primary, with its code. */
  changePrimary: protectedProcedure
    .input(flows.changePrimaryFields)
    .mutation(
      async ({ ctx, input }) => void (await flows.changePrimaryMethod(ctx.deps, ctx.principal, input, ctx.meta)),
    ),
});
