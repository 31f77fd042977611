// Djoser's UserViewSet: /auth/users/, /auth/users/me/, /auth/users/{id}/, activation,
// resend_activation, and the password and login-name actions (set_username is set_email when
// USERNAME_FIELD is email, as Djoser names them after it).
import type { Settings } from "../config/schema.ts";
import type { Principal } from "../core/deps.ts";
import { form, idInPath } from "../core/inputs.ts";
import * as account from "../core/users/account.ts";
import * as profile from "../core/users/profile.ts";
import * as register from "../core/users/register.ts";
import type { Authed, Call, Reply, RouteSpec, View } from "./drf.ts";
import { type Answer, user, userList } from "./openapi.ts";

const userActions = {
  POST: {
    email: { type: "email", required: false, read_only: false, label: "Email address", max_length: 254 },
    id: { type: "integer", required: false, read_only: true, label: "ID" },
    username: {
      type: "string",
      required: false,
      read_only: true,
      label: "Username",
      help_text: "Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only.",
    },
  },
};
const meta = (name: string) => ({ name, description: "", actions: userActions });
// DRF's SimpleMetadata lists the actions among {PUT, POST} the view allows: a detail view (GET, PUT,
// PATCH, DELETE) describes PUT, with the same user serializer fields.
const detailMeta = { name: "User Instance", description: "", actions: { PUT: userActions.POST } };
type Doc = View["doc"];
const authed = (doc: Doc, run: (call: Authed) => Promise<Reply>): View => ({
  permission: "authenticated",
  doc,
  run: (c: Call) => run(c as Authed),
});
const anyone = (doc: Doc, run: (call: Call) => Promise<Reply>): View => ({ permission: "any", doc, run });
const noContent = { status: 204 };
const done = (description: string): Answer => ({ status: 204, description });
const theUser: Answer = { status: 200, description: "The user", body: user };
const locked = "Too many wrong current passwords (LOGIN_LOCKOUT)";
/** A detail view's errors of its own: /me/ is always the caller; /{id}/ may be someone else. */
const detailErrors = (someone: boolean) =>
  someone
    ? {
        read: { 404: "No such user, or (HIDE_USERS) someone else's account" },
        write: {
          403: `Someone else's account, without the right to change it (staff; a superuser for staff); ${locked}`,
          404: "No such user, or (HIDE_USERS) someone else's account",
        },
      }
    : { read: {}, write: { 403: locked } };
/** The errors of a mailed uid and token. */
const link = "Invalid input; an invalid or stale uid or token (in the field errors)";

const target = (c: Authed, action: profile.UserAction) =>
  profile.targetUser(c.deps, c.principal, idInPath(c.params.id), action);

/** GET/PUT/PATCH/DELETE on one user: /me/ or /{id}/. */
function detail(
  resolve: (c: Authed, action: profile.UserAction) => Promise<Principal["user"]>,
  someone: boolean,
): RouteSpec["methods"] {
  const errors = detailErrors(someone);
  const update: Doc = {
    summary: "Update the user (only email is writable)",
    body: profile.updateInput,
    ok: theUser,
    errors: errors.write,
  };
  return {
    GET: authed({ summary: "Read the user", ok: theUser, errors: errors.read }, async (c) => ({
      status: 200,
      body: profile.publicUser(c.deps, await resolve(c, "retrieve")),
    })),
    PUT: authed(update, async (c) => ({
      status: 200,
      body: await profile.updateUser(c.deps, c.principal, await resolve(c, "update"), await c.data(), c.meta),
    })),
    PATCH: authed(update, async (c) => ({
      status: 200,
      body: await profile.updateUser(c.deps, c.principal, await resolve(c, "update"), await c.data(), c.meta),
    })),
    DELETE: authed(
      {
        summary: "Delete the user; needs the caller's current_password",
        body: () => profile.deleteInput,
        ok: done("Deleted"),
        errors: errors.write,
      },
      async (c) => {
        await profile.deleteUser(c.deps, c.principal, await resolve(c, "destroy"), await c.data(), c.meta);
        return noContent;
      },
    ),
  };
}

/** A POST-only action of the viewset: /users/<name>/, DRF's metadata, 204 on success. */
function action(path: string, name: string, view: View): RouteSpec {
  return {
    path,
    slash: "append",
    otherwise: "authenticated",
    tag: "users",
    metadata: meta(name),
    methods: { POST: view },
  };
}

const accountRoutes = (login: Settings["USERNAME_FIELD"]): RouteSpec[] => [
  action(
    "/users/set_password/",
    "Set password",
    authed(
      {
        summary: "Change the password: {new_password, current_password}",
        body: (d) => form(account.setPasswordShape(d)),
        ok: done("Changed"),
        errors: { 403: locked },
      },
      async (c) => {
        await account.setPassword(c.deps, c.principal, await c.data(), c.meta);
        return noContent;
      },
    ),
  ),
  action(
    "/users/reset_password/",
    "Reset password",
    anyone(
      {
        summary: "Mail a password reset link (204 whether or not the email is known)",
        body: () => form(account.emailShape),
        ok: done("Mailed, if the email is known"),
        errors: { 400: "Invalid input; with PASSWORD_RESET_SHOW_EMAIL_NOT_FOUND, a list: the email is unknown" },
      },
      async (c) => {
        await account.requestReset(c.deps, "password_reset", await c.data(), c.meta);
        return noContent;
      },
    ),
  ),
  action(
    "/users/reset_password_confirm/",
    "Reset password confirm",
    anyone(
      {
        summary: "Set a new password with the mailed uid and token",
        body: (d) => form(account.resetPasswordConfirmShape(d)),
        ok: done("The password is set"),
        errors: { 400: link },
      },
      async (c) => {
        await account.resetPasswordConfirm(c.deps, await c.data(), c.meta);
        return noContent;
      },
    ),
  ),
  action(
    `/users/set_${login}/`,
    "Set username",
    authed(
      {
        summary: `Change the ${login}: {new_${login}, current_password}`,
        body: (d) => form(account.setLoginShape(d)),
        ok: done("Changed"),
        errors: { 403: locked },
      },
      async (c) => {
        await account.setLogin(c.deps, c.principal, await c.data(), c.meta);
        return noContent;
      },
    ),
  ),
  action(
    `/users/reset_${login}/`,
    "Reset username",
    anyone(
      {
        summary: `Mail a ${login} reset link (204 whether or not the email is known)`,
        body: () => form(account.emailShape),
        ok: done("Mailed, if the email is known"),
        errors: { 400: "Invalid input; with USERNAME_RESET_SHOW_EMAIL_NOT_FOUND, a list: the email is unknown" },
      },
      async (c) => {
        await account.requestReset(c.deps, "username_reset", await c.data(), c.meta);
        return noContent;
      },
    ),
  ),
  action(
    `/users/reset_${login}_confirm/`,
    "Reset username confirm",
    anyone(
      {
        summary: `Set a new ${login} with the mailed uid and token`,
        body: (d) => form(account.resetLoginConfirmShape(d)),
        ok: done(`The ${login} is set`),
        errors: { 400: link },
      },
      async (c) => {
        await account.resetLoginConfirm(c.deps, await c.data(), c.meta);
        return noContent;
      },
    ),
  ),
];

export const userRoutes = (settings: Settings): RouteSpec[] => [
  {
    path: "/users/",
    slash: "append",
    otherwise: "authenticated",
    tag: "users",
    metadata: meta("User List"),
    methods: {
      GET: authed(
        {
          summary: "List users (only yourself unless staff, with HIDE_USERS)",
          ok: { status: 200, description: "The users", body: userList },
        },
        async (c) => ({
          status: 200,
          body: await profile.listUsers(c.deps, c.principal),
        }),
      ),
      POST: anyone(
        { summary: "Register", body: register.createInput, ok: { status: 201, description: "Created", body: user } },
        async (c) => ({
          status: 201,
          body: await register.createUser(c.deps, await c.data(), c.meta),
        }),
      ),
    },
  },
  {
    path: "/users/me/",
    slash: "append",
    otherwise: "authenticated",
    tag: "users",
    metadata: detailMeta,
    methods: detail(async (c) => c.principal.user, false),
  },
  {
    path: "/users/activation/",
    slash: "append",
    otherwise: "authenticated",
    tag: "users",
    metadata: meta("Activation"),
    methods: {
      POST: anyone(
        {
          summary: "Activate, or confirm an email change, with the mailed uid and token",
          body: () => register.uidTokenInput,
          ok: done("Activated, or the new email confirmed"),
          errors: {
            400: link,
            403: "Stale token (already used), or activation not in use (SEND_ACTIVATION_EMAIL off)",
          },
        },
        async (c) => {
          await register.activate(c.deps, await c.data(), c.meta);
          return noContent;
        },
      ),
    },
  },
  {
    path: "/users/resend_activation/",
    slash: "append",
    otherwise: "authenticated",
    tag: "users",
    metadata: meta("Resend activation"),
    methods: {
      POST: anyone(
        {
          summary: "Mail the activation link again",
          body: () => register.emailInput,
          ok: done("Mailed"),
          errors: { 400: "Invalid input; an empty body: no inactive account has this email" },
        },
        async (c) => {
          await register.resendActivation(c.deps, await c.data(), c.meta);
          return noContent;
        },
      ),
    },
  },
  ...accountRoutes(settings.USERNAME_FIELD),
  {
    path: "/users/:id/",
    slash: "append",
    otherwise: "authenticated",
    tag: "users",
    metadata: detailMeta,
    methods: detail(target, true),
  },
];
