// Passkeys for typed clients: Djoser 2.3's passwordless sign-up and login, and the management of
// the caller's passkeys. Bodies are the standard WebAuthn JSON under `credential`.
import { z } from "zod";
import { idField } from "../../core/inputs.ts";
import { loginFields, loginRequest, loginRequestFields, passkeyLogin } from "../../core/passkeys/login.ts";
import * as manage from "../../core/passkeys/manage.ts";
import { signup, signupFields, signupRequest, signupRequestFields } from "../../core/passkeys/signup.ts";
import { protectedProcedure, publicProcedure, router } from "../init.ts";

const id = z.object({ id: idField() });

export const passkeysRouter = router({
  /** Creation options for a new account's first passkey, and the ukey to sign up with. */
  signupOptions: publicProcedure
    .input(signupRequestFields)
    .mutation(({ ctx, input }) => signupRequest(ctx.deps, input, ctx.meta)),
  /** The new account: {ukey, username?, email?, credential}. */
  signup: publicProcedure
    .input(signupFields.extend({ ukey: z.string().max(128) }))
    .mutation(({ ctx, input }) => signup(ctx.deps, input.ukey, input, ctx.meta)),
  /** Request options ({username}, or none for a discoverable passkey). */
  loginOptions: publicProcedure
    .input(loginRequestFields)
    .mutation(({ ctx, input }) => loginRequest(ctx.deps, input, ctx.meta)),
  /** {username?, credential} → the credential (WEBAUTHN.CREDENTIAL: {auth_token} or the JWT pair). */
  login: publicProcedure.input(loginFields).mutation(({ ctx, input }) => passkeyLogin(ctx.deps, input, ctx.meta)),
  list: protectedProcedure.query(({ ctx }) => manage.listPasskeys(ctx.deps, ctx.principal)),
  registerOptions: protectedProcedure.mutation(({ ctx }) => manage.registerOptions(ctx.deps, ctx.principal)),
  register: protectedProcedure
    .input(manage.registerFields)
    .mutation(({ ctx, input }) => manage.registerPasskey(ctx.deps, ctx.principal, input, ctx.meta)),
  rename: protectedProcedure
    .input(id.extend(manage.renameFields.shape))
    .mutation(({ ctx, input }) => manage.renamePasskey(ctx.deps, ctx.principal, input.id, input, ctx.meta)),
  delete: protectedProcedure
    .input(id)
    .mutation(async ({ ctx, input }) => void (await manage.removePasskey(ctx.deps, ctx.principal, input.id, ctx.meta))),
});
