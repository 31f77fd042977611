import { z } from "zod";
import { emailField, form, idField, passwordField, stringField, usernameField } from "../../core/inputs.ts";
import * as account from "../../core/users/account.ts";
import * as admin from "../../core/users/admin.ts";
import * as profile from "../../core/users/profile.ts";
import * as register from "../../core/users/register.ts";
import { protectedProcedure, publicProcedure, router } from "../init.ts";

// Static shapes for typed clients; the services re-check them against the settings in force
// (e.g. re_password only when USER_CREATE_PASSWORD_RETYPE, username only when USERNAME_FIELD=username).
const createShape = form({
  username: usernameField().optional(),
  email: z.string().optional(),
  password: passwordField(),
  re_password: z.string().optional(),
});
const idInput = z.object({ id: idField() });
// The account flows: static shapes for typed clients (retype fields and the login field's name
// depend on settings); the services check required fields with Djoser's messages.
const text = () => stringField().optional();
const passwordChange = { new_password: text(), re_new_password: text() };
const loginChange = { new_username: text(), re_new_username: text(), new_email: text(), re_new_email: text() };
const link = { uid: text(), token: text() };
const emailOnly = z.object({ email: text() });

export const usersRouter = router({
  create: publicProcedure
    .input(createShape)
    .mutation(({ ctx, input }) => register.createUser(ctx.deps, input, ctx.meta)),
  activate: publicProcedure
    .input(register.uidTokenInput)
    .mutation(async ({ ctx, input }) => void (await register.activate(ctx.deps, input, ctx.meta))),
  resendActivation: publicProcedure
    .input(form({ email: emailField() }))
    .mutation(async ({ ctx, input }) => void (await register.resendActivation(ctx.deps, input, ctx.meta))),
  me: protectedProcedure.query(({ ctx }) => profile.publicUser(ctx.deps, ctx.principal.user)),
  updateMe: protectedProcedure
    .input(form({ email: emailField({ allowBlank: true }).optional(), current_password: stringField().optional() }))
    .mutation(({ ctx, input }) => profile.updateUser(ctx.deps, ctx.principal, ctx.principal.user, input, ctx.meta)),
  deleteMe: protectedProcedure.input(form({ current_password: passwordField() })).mutation(async ({ ctx, input }) => {
    await profile.deleteUser(ctx.deps, ctx.principal, ctx.principal.user, input, ctx.meta);
  }),
  list: protectedProcedure.query(({ ctx }) => profile.listUsers(ctx.deps, ctx.principal)),
  get: protectedProcedure
    .input(idInput)
    .query(async ({ ctx, input }) =>
      profile.publicUser(ctx.deps, await profile.targetUser(ctx.deps, ctx.principal, input.id, "retrieve")),
    ),
  update: protectedProcedure
    .input(
      idInput.extend({
        email: emailField({ allowBlank: true }).optional(),
        current_password: stringField().optional(),
      }),
    )
    .mutation(async ({ ctx, input }) =>
      profile.updateUser(
        ctx.deps,
        ctx.principal,
        await profile.targetUser(ctx.deps, ctx.principal, input.id, "update"),
        { email: input.email, current_password: input.current_password },
        ctx.meta,
      ),
    ),
  delete: protectedProcedure
    .input(idInput.extend({ current_password: passwordField() }))
    .mutation(async ({ ctx, input }) => {
      const target = await profile.targetUser(ctx.deps, ctx.principal, input.id, "destroy");
      await profile.deleteUser(ctx.deps, ctx.principal, target, input, ctx.meta);
    }),
  /** Returns {auth_token} when the caller's shared key ended with the others: the key to use from now on. */
  setPassword: protectedProcedure
    .input(z.object({ ...passwordChange, current_password: text() }))
    .mutation(
      async ({ ctx, input }) => (await account.setPassword(ctx.deps, ctx.principal, input, ctx.meta)) ?? undefined,
    ),
  resetPassword: publicProcedure
    .input(emailOnly)
    .mutation(async ({ ctx, input }) => void (await account.requestReset(ctx.deps, "password_reset", input, ctx.meta))),
  resetPasswordConfirm: publicProcedure
    .input(z.object({ ...link, ...passwordChange }))
    .mutation(async ({ ctx, input }) => void (await account.resetPasswordConfirm(ctx.deps, input, ctx.meta))),
  setUsername: protectedProcedure
    .input(z.object({ ...loginChange, current_password: text() }))
    .mutation(async ({ ctx, input }) => void (await account.setLogin(ctx.deps, ctx.principal, input, ctx.meta))),
  resetUsername: publicProcedure
    .input(emailOnly)
    .mutation(async ({ ctx, input }) => void (await account.requestReset(ctx.deps, "username_reset", input, ctx.meta))),
  resetUsernameConfirm: publicProcedure
    .input(z.object({ ...link, ...loginChange }))
    .mutation(async ({ ctx, input }) => void (await account.resetLoginConfirm(ctx.deps, input, ctx.meta))),
  /** Staff: activate or deactivate a user; deactivating ends all their sessions. */
  setActive: protectedProcedure
    .input(idInput.extend({ active: z.boolean() }))
    .mutation(({ ctx, input }) => admin.setActive(ctx.deps, ctx.principal, input.id, input.active, ctx.meta)),
});
