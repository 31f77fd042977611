// The audit log: one row per authentication event, read by staff (tRPC audit.list).
//
// What may go in `data` is closed by type: ids, reasons, counts, the method and the login name
// that was tried. Passwords, tokens, keys, links and hashes have no field to travel in.
import { AuthError } from "../errors.ts";
import type { Deps, Principal, RequestMeta } from "./deps.ts";
import type { AuditData, AuditKind, AuditPage } from "./dto.ts";

export type { AuditData, AuditKind };

export const AUDIT_KINDS = [
  "login_succeeded",
  "login_failed",
  "logout",
  "logout_all",
  "token_refreshed",
  "refresh_reuse_detected",
  "activation",
  "password_changed",
  "password_reset_requested",
  "password_reset_confirmed",
  "username_changed",
  "username_reset_requested",
  "username_reset_confirmed",
  "email_changed",
  "lockout",
  "password_check_failed",
  "session_revoked",
  "mfa_enabled",
  "mfa_disabled",
  "mfa_failed",
  "mfa_primary_changed",
  "mfa_reset",
  "backup_code_used",
  "backup_codes_regenerated",
  "passkey_added",
  "passkey_removed",
  "passkey_renamed",
  "reauthenticated",
  "social_linked",
  "social_unlinked",
] as const satisfies readonly AuditKind[];
// Every kind is listed: a kind added to AuditKind without a place here fails to compile.
const everyKindListed: Exclude<AuditKind, (typeof AUDIT_KINDS)[number]> extends never ? true : never = true;
void everyKindListed;

/**
 * Records one event. Awaited, so an event is never silently lost while the request succeeds; a
 * failure to write it is logged and does not turn a done change into an error.
 */
export async function audit(
  deps: Deps,
  kind: AuditKind,
  meta: RequestMeta | null,
  userId: number | null,
  data: AuditData = {},
): Promise<void> {
  deps.metrics.event(kind);
  try {
    await deps.store.audit.record(kind, userId, meta, data);
  } catch (e) {
    deps.log.error({ kind, userId, err: (e as Error).message }, "audit event not recorded");
  }
}

/**
 * A login attempt. The login name is kept only when it names an account: a name that matches none
 * may be a password typed into the wrong field, and must not be stored.
 */
export function auditLogin(
  deps: Deps,
  meta: RequestMeta,
  method: "token" | "jwt",
  accountId: number | null,
  ok: boolean,
  login: string | undefined,
): Promise<void> {
  return audit(deps, ok ? "login_succeeded" : "login_failed", meta, accountId, {
    method,
    ...(accountId !== null && login ? { login } : {}),
  });
}

export type AuditQuery = { userId?: number; kind?: AuditKind; from?: Date; to?: Date; cursor?: number; limit?: number };

/** Staff only: newest first, keyset-paginated by id (`nextCursor` → the next page's `cursor`). */
export async function listAudit(deps: Deps, principal: Principal, q: AuditQuery): Promise<AuditPage> {
  if (!principal.user.isStaff) throw new AuthError("permission_denied");
  const limit = Math.min(Math.max(q.limit ?? 50, 1), 500);
  const filter = { userId: q.userId, kind: q.kind, from: q.from, to: q.to, before: q.cursor };
  const rows = await deps.store.audit.list(filter, limit + 1);
  const page = rows.slice(0, limit);
  return {
    events: page.map((e) => ({
      id: e.id,
      at: e.at.toISOString(),
      kind: e.kind as AuditKind,
      userId: e.userId,
      ip: e.ip,
      userAgent: e.userAgent,
      data: (e.data ?? {}) as AuditData,
    })),
    nextCursor: rows.length > limit ? page.at(-1)!.id : null,
  };
}
