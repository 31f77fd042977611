// Backup codes: shown once (when a method is confirmed or the codes regenerated), kept as HMACs,
// each good for one use. Drawn with crypto.randomInt, which has no modulo bias.
import { randomInt } from "node:crypto";
import type { Settings } from "../../config/schema.ts";
import type { Deps } from "../deps.ts";
import { codeHash } from "./crypto.ts";

/** Longer than any code BACKUP_CODES_LENGTH allows: what is longer is no code and costs no HMAC. */
const MAX_LENGTH = 64;

/** A new set of codes, distinct, and their HMACs for the user's rows. */
export function newBackupCodes(settings: Settings, userId: number): { codes: string[]; hashes: string[] } {
  const { BACKUP_CODES_QUANTITY: quantity, BACKUP_CODES_LENGTH: length } = settings.TRENCH_AUTH;
  const alphabet = [...new Set(settings.TRENCH_AUTH.BACKUP_CODES_CHARACTERS)];
  const codes = new Set<string>();
  while (codes.size < quantity) codes.add(Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join(""));
  const list = [...codes];
  return { codes: list, hashes: list.map((c) => codeHash(settings, userId, "backup", c)) };
}

/** Spends `code` if it is one of the user's backup codes. */
export function spendBackupCode(deps: Deps, userId: number, code: string): Promise<boolean> {
  const value = code.trim();
  if (!value || value.length > MAX_LENGTH) return Promise.resolve(false);
  return deps.store.mfa.spendBackupCode(userId, codeHash(deps.settings, userId, "backup", value));
}
