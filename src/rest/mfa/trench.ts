// What makes a view answer like django-trench's: its own errors as {"error": "<message>"} (a
// serializer's stay DRF's field errors), and its bodies for the OpenAPI document.
import { z } from "zod";
import { AuthError, type ErrorCode } from "../../errors.ts";
import type { Authed, Call, Reply, View } from "../drf.ts";

// The errors trench renders through its ErrorResponse: {"error": str(cause)}.
const TRENCH_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "invalid_credentials",
  "invalid_token",
  "invalid_code",
  "mfa_method_does_not_exist",
  "method_already_active",
  "not_enabled",
  "deactivation_of_primary",
  "new_primary_method_inactive",
  "backup_codes_regeneration_disabled",
]);

/** A view whose own errors come out in trench's shape. */
export function trenchView(permission: View["permission"], doc: View["doc"], run: (c: Authed) => Promise<Reply>): View {
  return {
    permission,
    doc,
    run: async (c: Call) => {
      try {
        return await run(c as Authed);
      } catch (e) {
        if (e instanceof AuthError && !e.fields && TRENCH_ERRORS.has(e.code))
          return { status: e.status, body: { error: e.message } };
        throw e;
      }
    },
  };
}

export const details = z.object({ details: z.unknown().describe("What to do next: a URI, a notice, options") });
export const backupCodes = z.object({ backup_codes: z.array(z.string()).describe("Shown this once") });
export const config = z.object({
  methods: z.array(z.string()),
  confirm_disable_with_code: z.boolean(),
  confirm_regeneration_with_code: z.boolean(),
  allow_backup_codes_regeneration: z.boolean(),
});
export const activeMethods = z.array(z.object({ name: z.string(), is_primary: z.boolean() }));
export const firstStep = z.union([
  z.object({ ephemeral_token: z.string(), method: z.string() }).describe("MFA on: send a code to login/code/"),
  z.object({ auth_token: z.string() }),
  z.object({ refresh: z.string(), access: z.string() }),
]);
export const credential = z.union([
  z.object({ auth_token: z.string() }),
  z.object({ refresh: z.string(), access: z.string() }),
]);
