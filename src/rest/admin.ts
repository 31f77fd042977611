// Portcullis extension paths for staff (not Djoser's): a user's MFA reset.
import { idInPath } from "../core/inputs.ts";
import { resetMfa } from "../core/users/admin.ts";
import { AuthError } from "../errors.ts";
import type { Authed, RouteSpec } from "./drf.ts";

export const adminRoutes: RouteSpec[] = [
  {
    path: "/users/:id/reset_mfa/",
    slash: "append",
    otherwise: "authenticated",
    tag: "users",
    metadata: {
      name: "Reset Mfa",
      description: "Portcullis extension: staff turn a user's two-factor authentication off; the user is mailed.",
    },
    methods: {
      POST: {
        permission: "authenticated",
        doc: {
          summary: "Extension (staff): turn a user's MFA off (methods and backup codes; passkeys stay)",
          ok: { status: 204, description: "Reset" },
          errors: {
            403: "Not staff, a superuser's account without being one, or no recent sign-in (reauthentication_required)",
            404: "No such user",
          },
        },
        run: async (c) => {
          const id = idInPath(c.params.id);
          if (id === null) throw new AuthError("not_found");
          await resetMfa(c.deps, (c as Authed).principal, id, c.meta);
          return { status: 204 };
        },
      },
    },
  },
];
