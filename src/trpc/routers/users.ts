import { z } from "zod";
import { charField, emailField, form, passwordField, usernameField } from "../../services/inputs.ts";
import * as users from "../../services/users.ts";
import { protectedProcedure, publicProcedure, router } from "../init.ts";

// Static shapes for typed clients; the services re-check them against the settings in force
// (e.g. re_password only when USER_CREATE_PASSWORD_RETYPE, username only when USERNAME_FIELD=username).
const createShape = form({ username: usernameField().optional(), email: z.string().optional(), password: passwordField(), re_password: z.string().optional() });
const idInput = z.object({ id: z.number().int().positive() });

export const usersRouter = router({
  create: publicProcedure.input(createShape).mutation(({ ctx, input }) => users.createUser(ctx.deps, input)),
  activate: publicProcedure.input(users.uidTokenInput).mutation(async ({ ctx, input }) => void (await users.activate(ctx.deps, input))),
  resendActivation: publicProcedure.input(form({ email: emailField() })).mutation(async ({ ctx, input }) => void (await users.resendActivation(ctx.deps, input))),
  me: protectedProcedure.query(({ ctx }) => users.publicUser(ctx.deps, ctx.principal.user)),
  updateMe: protectedProcedure.input(form({ email: emailField({ allowBlank: true }).optional() })).mutation(({ ctx, input }) => users.updateUser(ctx.deps, ctx.principal.user, input)),
  deleteMe: protectedProcedure.input(form({ current_password: charField() })).mutation(async ({ ctx, input }) => {
    await users.deleteUser(ctx.deps, ctx.principal, ctx.principal.user, input);
  }),
  list: protectedProcedure.query(({ ctx }) => users.listUsers(ctx.deps, ctx.principal)),
  get: protectedProcedure.input(idInput).query(async ({ ctx, input }) => users.publicUser(ctx.deps, await users.targetUser(ctx.deps, ctx.principal, input.id, "retrieve"))),
  update: protectedProcedure
    .input(idInput.extend({ email: emailField({ allowBlank: true }).optional() }))
    .mutation(async ({ ctx, input }) => users.updateUser(ctx.deps, await users.targetUser(ctx.deps, ctx.principal, input.id, "update"), { email: input.email })),
  delete: protectedProcedure.input(idInput.extend({ current_password: charField() })).mutation(async ({ ctx, input }) => {
    const target = await users.targetUser(ctx.deps, ctx.principal, input.id, "destroy");
    await users.deleteUser(ctx.deps, ctx.principal, target, input);
  }),
});
