// Which kinds of password hash the database holds, so that a failed login costs what the slowest
// of them costs, whatever the account (passwords.ts explains the floor). Read at start, before the
// server answers, and again every SURVEY_EVERY_MS: once every imported user has logged in (and been
// re-hashed to argon2id) the slow kinds are gone, and so is their cost.
import type { Deps } from "../deps.ts";
import { surveyHashes } from "./passwords.ts";

const SURVEY_EVERY_MS = 5 * 60_000; // each survey re-measures every class: times from a busy spell age out

/** One stored hash of each cost class (algorithm + parameters: all but the salt and digest). */
export async function surveyLoginCosts(deps: Pick<Deps, "store">): Promise<void> {
  // Hashes of kinds verifyPassword does not check cost the dummy: the store samples the others.
  await surveyHashes(await deps.store.users.hashSamples());
}

/** Surveys now (awaited: no login is answered before the floor is known), then now and then until closed. */
export async function startLoginCostSurvey(deps: Pick<Deps, "store" | "log">): Promise<{ close(): Promise<void> }> {
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
