// Re-checks of the caller's own password (set_password, set_<login>, a changed email under
// EMAIL_CHANGE_REQUIRES_PASSWORD, deleting a user): whoever holds a stolen token must not get a
// password oracle out of them. Each goes through the login throttle (by address and by user), a
// lockout of its own per user (lockout.ts: waits, then a lock a password reset lifts), and the
// request's one password check; every wrong password is audited.
import { audit } from "../audit.ts";
import type { Deps, Principal, RequestMeta, User } from "../deps.ts";
import { oneCheckAtATime, spendPasswordCheck } from "./hash-queue.ts";
import { claimPasswordCheck } from "./lockout.ts";
import { verifyPassword } from "./passwords.ts";
import { accountKey } from "./throttle.ts";

/** The key that keeps a user's password checks one at a time: their login name, as logins use. */
export const checkKey = (deps: Deps, user: User) =>
  accountKey(String(user[deps.settings.DJOSER.LOGIN_FIELD] ?? `#${user.id}`));

/** Whether `password` is the caller's; throws 429 / 403 (throttled, waiting, locked) instead of checking. */
export async function checkCurrentPassword(
  deps: Deps,
  principal: Principal,
  password: string,
  meta: RequestMeta,
): Promise<boolean> {
  const { user } = principal;
  await deps.throttle("login", [`ip:${meta.ip}`, `user:${user.id}`]);
  spendPasswordCheck(meta);
  return oneCheckAtATime(checkKey(deps, user), async () => {
    const attempt = await claimPasswordCheck(deps, user.id);
    const { ok } = await verifyPassword(password, user.password).catch(async (e: unknown) => {
      await attempt.abandoned();
      throw e;
    });
    if (ok) {
      await attempt.succeeded();
      return true;
    }
    const { failures, events } = await attempt.failed();
    await audit(deps, "password_check_failed", meta, user.id, { failures });
    for (const event of events) await audit(deps, "lockout", meta, user.id, event);
    return false;
  });
}
