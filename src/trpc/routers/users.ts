// Inputs are the flows' own (core's *Fields): typed for clients, checked by the flow against the
// settings in force, with the same field errors REST gives.
import { z } from "zod";
import { idField } from "../../core/inputs.ts";
import * as account from "../../core/users/account.ts";
import * as admin from "../../core/users/admin.ts";
import * as profile from "../../core/users/profile.ts";
import * as register from "../../core/users/register.ts";
import { protectedProcedure, publicProcedure, router } from "../init.ts";

const idInput = z.object({ id: idField() });

export const usersRouter = router({
  create: publicProcedure
    .input(register.createFields)
    .mutation(({ ctx, input }) => register.createUser(ctx.deps, input, ctx.meta)),
  activate: publicProcedure
    .input(register.uidTokenFields)
    .mutation(async ({ ctx, input }) => void (await register.activate(ctx.deps, input, ctx.meta))),
  resendActivation: publicProcedure
    .input(register.emailFields)
    .mutation(async ({ ctx, input }) => void (await register.resendActivation(ctx.deps, input, ctx.meta))),
  me: protectedProcedure.query(({ ctx }) => profile.publicUser(ctx.deps, ctx.principal.user)),
  updateMe: protectedProcedure
    .input(profile.updateFields)
    .mutation(({ ctx, input }) => profile.updateUser(ctx.deps, ctx.principal, ctx.principal.user, input, ctx.meta)),
  deleteMe: protectedProcedure.input(profile.deleteFields).mutation(async ({ ctx, input }) => {
    await profile.deleteUser(ctx.deps, ctx.principal, ctx.principal.user, input, ctx.meta);
  }),
  list: protectedProcedure.query(({ ctx }) => profile.listUsers(ctx.deps, ctx.principal)),
  get: protectedProcedure
    .input(idInput)
    .query(async ({ ctx, input }) =>
      profile.publicUser(ctx.deps, await profile.targetUser(ctx.deps, ctx.principal, input.id, "retrieve")),
    ),
  update: protectedProcedure.input(idInput.extend(profile.updateFields.shape)).mutation(async ({ ctx, input }) => {
    const { id, ...fields } = input;
    const target = await profile.targetUser(ctx.deps, ctx.principal, id, "update");
    return profile.updateUser(ctx.deps, ctx.principal, target, fields, ctx.meta);
  }),
  delete: protectedProcedure.input(idInput.extend(profile.deleteFields.shape)).mutation(async ({ ctx, input }) => {
    const { id, ...fields } = input;
    const target = await profile.targetUser(ctx.deps, ctx.principal, id, "destroy");
    await profile.deleteUser(ctx.deps, ctx.principal, target, fields, ctx.meta);
  }),
  /** Returns {auth_token} when the caller's shared key ended with the others: the key to use from now on. */
  setPassword: protectedProcedure
    .input(account.setPasswordFields)
    .mutation(
      async ({ ctx, input }) => (await account.setPassword(ctx.deps, ctx.principal, input, ctx.meta)) ?? undefined,
    ),
  resetPassword: publicProcedure
    .input(register.emailFields)
    .mutation(async ({ ctx, input }) => void (await account.requestReset(ctx.deps, "password_reset", input, ctx.meta))),
  resetPasswordConfirm: publicProcedure
    .input(account.resetPasswordConfirmFields)
    .mutation(async ({ ctx, input }) => void (await account.resetPasswordConfirm(ctx.deps, input, ctx.meta))),
  setUsername: protectedProcedure
    .input(account.setLoginFields)
    .mutation(async ({ ctx, input }) => void (await account.setLogin(ctx.deps, ctx.principal, input, ctx.meta))),
  resetUsername: publicProcedure
    .input(register.emailFields)
    .mutation(async ({ ctx, input }) => void (await account.requestReset(ctx.deps, "username_reset", input, ctx.meta))),
  resetUsernameConfirm: publicProcedure
    .input(account.resetLoginConfirmFields)
    .mutation(async ({ ctx, input }) => void (await account.resetLoginConfirm(ctx.deps, input, ctx.meta))),
  /** Staff: activate or deactivate a user; deactivating ends all their sessions. */
  setActive: protectedProcedure
    .input(idInput.extend({ active: z.boolean() }))
    .mutation(({ ctx, input }) => admin.setActive(ctx.deps, ctx.principal, input.id, input.active, ctx.meta)),
  /** Staff: turn a user's MFA off (methods, backup codes); the user is mailed. Needs a recent sign-in. */
  resetMfa: protectedProcedure
    .input(idInput)
    .mutation(async ({ ctx, input }) => void (await admin.resetMfa(ctx.deps, ctx.principal, input.id, ctx.meta))),
});
