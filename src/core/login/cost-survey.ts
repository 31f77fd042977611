// Which kinds of password hash the database holds, so that a failed login costs what the slowest
// of them costs, whatever the account (passwords.ts explains the floor). Read at start, before the
// server answers, and again every SURVEY_EVERY_MS: once every imported user has logged in (and been
// re-hashed to argon2id) the slow kinds are gone, and so is their cost.
import type { Deps } from "../deps.ts";
import { surveyHashes } from "./passwords.ts";

const SURVEY_EVERY_MS = 5 * 60_000; // each survey re-measures every class: times from a busy spell age out

/** One stored hash of each cost class (algorithm + parameters: all but the salt and digest). */
export async function surveyLoginCosts(deps: Pick<Deps, "prisma">): Promise<void> {
  // The kinds verifyPassword checks (others cost the dummy). bcrypt keeps salt and digest in one
  // field; PBKDF2 and argon2 in two. One pass over the table, grouped: no hash leaves the database
  // but one per class.
  const rows = await deps.prisma.$queryRaw<{ sample: string }[]>`
    SELECT min(password) AS sample FROM auth_user
     WHERE password LIKE '$argon2%' OR password LIKE 'argon2$argon2%'
        OR password LIKE 'pbkdf2%' OR password LIKE 'bcrypt%'
     GROUP BY CASE WHEN password LIKE 'bcrypt%' THEN regexp_replace(password, '[$][^$]*$', '')
                   ELSE regexp_replace(password, '([$][^$]*){2}$', '') END`;
  await surveyHashes(rows.map((r) => r.sample));
}

/** Surveys now (awaited: no login is answered before the floor is known), then now and then until closed. */
export async function startLoginCostSurvey(deps: Pick<Deps, "prisma" | "log">): Promise<{ close(): Promise<void> }> {
  const failed = (then: string) => (e: unknown) =>
    deps.log.warn({ err: (e as Error).message }, `password hash survey failed; ${then}`);
  await surveyLoginCosts(deps).catch(failed("failed logins are evened out as hashes are met"));
  let running: Promise<void> | null = null;
  const timer = setInterval(() => {
    running ??= surveyLoginCosts(deps)
      .catch(failed("the last one stays in force"))
      .finally(() => (running = null));
  }, SURVEY_EVERY_MS).unref();
  return {
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}
