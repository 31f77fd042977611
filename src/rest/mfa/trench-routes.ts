// django-trench's URL sets at /auth/: login/ and login/code/ (authtoken or jwt, per
// TRENCH_AUTH.CREDENTIAL), and the method views (activate, confirm, deactivate, backup codes,
// code request, config, active methods, primary method).
import * as flows from "../../core/mfa/flows.ts";
import { codeStep, mfaLoginInput, passwordStep } from "../../core/mfa/login.ts";
import type { RouteSpec, View } from "../drf.ts";
import { activeMethods, backupCodes, config, credential, details, firstStep, trenchView } from "./trench.ts";

const TAG = "mfa";
const methodParam = (c: { params: Record<string, string> }) => String(c.params.method);
const route = (path: string, name: string, methods: RouteSpec["methods"]): RouteSpec => ({
  path,
  slash: "append",
  otherwise: "authenticated",
  tag: TAG,
  metadata: { name },
  methods,
});
const authed = (doc: View["doc"], run: Parameters<typeof trenchView>[2]) => trenchView("authenticated", doc, run);
const codeBody = () => flows.codeFields;

export const mfaRoutes: RouteSpec[] = [
  {
    ...route("/login/", "MFA First Step", {
      POST: trenchView(
        "any",
        {
          summary: "Log in, first step: the credential, or {ephemeral_token, method} when MFA is on",
          body: mfaLoginInput,
          ok: { status: 200, description: "The credential, or what the second step needs", body: firstStep },
          errors: { 400: 'Wrong credentials ({"error": …}) or invalid input', 403: "Locked out (LOGIN_LOCKOUT)" },
        },
        async (c) => {
          const step = await passwordStep(c.deps, await c.data(), c.meta);
          if (step.status === "ok") return { status: 200, body: step.credential };
          const extra = step.details === null || typeof step.details === "string" ? {} : { options: step.details };
          return { status: 200, body: { ephemeral_token: step.ephemeralToken, method: step.method, ...extra } };
        },
      ),
    }),
    otherwise: "any",
  },
  {
    ...route("/login/code/", "MFA Second Step", {
      POST: trenchView(
        "any",
        {
          summary: "Log in, second step: {ephemeral_token, code} (a method's code or a backup code) → the credential",
          ok: { status: 200, description: "The credential", body: credential },
          errors: { 401: 'Invalid or expired token, or code ({"error": …})', 403: "Too many wrong codes (mfa_locked)" },
        },
        async (c) => ({ status: 200, body: await codeStep(c.deps, await c.data(), c.meta) }),
      ),
    }),
    otherwise: "any",
  },
  route("/:method/activate/", "MFA Method Activation", {
    POST: authed(
      {
        summary: "Start enrolling a method: {details} (app: the otpauth:// URI; email: a code is mailed)",
        ok: { status: 200, description: "Enrolment started", body: details },
        errors: { 400: 'Unknown or already active method ({"error": …})', 403: "No recent sign-in" },
      },
      async (c) => ({ status: 200, body: await flows.activateMethod(c.deps, c.principal, methodParam(c), c.meta) }),
    ),
  }),
  route("/:method/activate/confirm/", "MFA Method Confirm Activation", {
    POST: authed(
      {
        summary: "Confirm the enrolment with a first code: the method is on; the backup codes, once",
        body: codeBody,
        ok: { status: 200, description: "On", body: backupCodes },
        errors: { 400: 'Wrong code, unknown or already active method ({"code": […]})' },
      },
      async (c) => ({
        status: 200,
        body: await flows.confirmMethod(c.deps, c.principal, methodParam(c), await c.data(), c.meta),
      }),
    ),
  }),
  route("/:method/deactivate/", "MFA Method Deactivation", {
    POST: authed(
      {
        summary: "Turn a method off (a code, or a recent second factor)",
        body: () => flows.optionalCodeFields,
        ok: { status: 204, description: "Off" },
        errors: { 400: "Wrong code, not enabled, or the primary of several", 403: "No recent second factor" },
      },
      async (c) => {
        await flows.deactivateMethod(c.deps, c.principal, methodParam(c), await c.data(), c.meta);
        return { status: 204 };
      },
    ),
  }),
  route("/:method/codes/regenerate/", "MFA Method Backup Codes Regeneration", {
    POST: authed(
      {
        summary: "New backup codes in place of the old ones (with a code, per the settings)",
        body: () => flows.optionalCodeFields,
        ok: { status: 200, description: "The new codes", body: backupCodes },
        errors: { 400: "Wrong code, not enabled, or regeneration not allowed", 403: "No recent second factor" },
      },
      async (c) => ({
        status: 200,
        body: await flows.regenerateBackupCodes(c.deps, c.principal, methodParam(c), await c.data(), c.meta),
      }),
    ),
  }),
  route("/code/request/", "MFA Method Request Code", {
    POST: authed(
      {
        summary: "Send (email) or prepare (webauthn: request options) a code for {method} (default: the primary)",
        body: () => flows.requestCodeFields,
        ok: { status: 200, description: "Sent", body: details },
        errors: { 400: "Unknown method" },
      },
      async (c) => ({ status: 200, body: await flows.requestCode(c.deps, c.principal, await c.data()) }),
    ),
  }),
  {
    ...route("/mfa/config/", "MFA Config", {
      GET: trenchView(
        "any",
        {
          summary: "The methods offered and the code rules",
          ok: { status: 200, description: "The config", body: config },
        },
        async (c) => ({ status: 200, body: flows.mfaConfig(c.deps) }),
      ),
    }),
    otherwise: "any",
  },
  route("/mfa/user-active-methods/", "MFA List Active User Methods", {
    GET: authed(
      { summary: "The caller's active methods", ok: { status: 200, description: "The methods", body: activeMethods } },
      async (c) => ({ status: 200, body: await flows.activeMethods(c.deps, c.principal) }),
    ),
  }),
  route("/mfa/change-primary-method/", "MFA Primary Method Change", {
    POST: authed(
      {
        summary: "Make {method} primary, with its code",
        body: () => flows.changePrimaryFields,
        ok: { status: 204, description: "Changed" },
        errors: { 400: "Wrong code, or the method is not active" },
      },
      async (c) => {
        await flows.changePrimaryMethod(c.deps, c.principal, await c.data(), c.meta);
        return { status: 204 };
      },
    ),
  }),
];
