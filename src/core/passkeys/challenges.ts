// Where a ceremony's challenge is kept: under the hash of its purpose and a key (Djoser's ukey for
// a sign-up; for the others the challenge itself, read back from the response's clientDataJSON, so
// a client carries no extra state). Taken once; a response for another purpose finds nothing.
import type { Deps } from "../deps.ts";
import { sha256 } from "./ceremony.ts";

export type Purpose = "signup" | "login" | "register" | "mfa-enrol" | "mfa";

export async function keepChallenge(
  deps: Deps,
  purpose: Purpose,
  key: string,
  row: { challenge: string; userId?: number | null; data?: unknown },
) {
  const expiresAt = new Date(Date.now() + deps.settings.DJOSER.WEBAUTHN.CHALLENGE_TTL * 1000);
  await deps.store.passkeys.saveChallenge(sha256(`${purpose}:${key}`), {
    challenge: row.challenge,
    purpose,
    userId: row.userId ?? null,
    data: row.data ?? null,
    expiresAt,
  });
}

export const takeChallenge = (deps: Deps, purpose: Purpose, key: string) =>
  deps.store.passkeys.takeChallenge(sha256(`${purpose}:${key}`), purpose);

/** The challenge a response's clientDataJSON names (unverified: the library checks it against ours). */
export function challengeIn(clientDataJSON: string): string | null {
  try {
    const parsed = JSON.parse(Buffer.from(clientDataJSON, "base64url").toString("utf8")) as { challenge?: unknown };
    return typeof parsed.challenge === "string" && parsed.challenge.length <= 512 ? parsed.challenge : null;
  } catch {
    return null;
  }
}
