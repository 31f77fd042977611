// The WebAuthn ceremonies through @simplewebauthn/server: options in the standard JSON shapes,
// responses verified against DJOSER.WEBAUTHN (RP_ID, ORIGIN, one or several), and the challenges
// kept server-side, single use and expiring. What a browser sends is bounded and shape-checked
// before the library sees it: a malformed body is a 400, never a 500.
import { createHash, randomBytes } from "node:crypto";
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { z } from "zod";
import type { Deps } from "../deps.ts";

const b64url = z
  .string()
  .max(4096)
  .regex(/^[A-Za-z0-9_-]*={0,2}$/, "Not base64url.");
// The standard JSON (@simplewebauthn/browser, PublicKeyCredential.toJSON()).
export const registrationJson = z.object({
  id: b64url.max(1400),
  rawId: b64url.max(1400),
  type: z.literal("public-key"),
  response: z.object({
    clientDataJSON: b64url,
    attestationObject: b64url.max(16_384),
    transports: z.array(z.string().max(32)).max(8).optional(),
  }),
  clientExtensionResults: z.record(z.string(), z.unknown()).optional(),
  authenticatorAttachment: z.string().max(32).optional(),
});
export const assertionJson = z.object({
  id: b64url.max(1400),
  rawId: b64url.max(1400),
  type: z.literal("public-key"),
  response: z.object({
    clientDataJSON: b64url,
    authenticatorData: b64url,
    signature: b64url,
    userHandle: b64url.max(128).nullish(),
  }),
  clientExtensionResults: z.record(z.string(), z.unknown()).optional(),
  authenticatorAttachment: z.string().max(32).optional(),
});
export type RegistrationJson = z.output<typeof registrationJson>;
export type AssertionJson = z.output<typeof assertionJson>;

/**
 * Djoser 2.3's own field names (py_webauthn 0.4: attObj, clientData, authData, signature as hex),
 * mapped to the standard ones: an old client keeps working at the cost of a few lines.
 */
export function standardFields(body: Record<string, unknown>): Record<string, unknown> {
  if (body.response || (!body.attObj && !body.authData)) return body;
  const hex = (v: unknown) => (typeof v === "string" && /^[0-9a-f]*$/i.test(v) ? Buffer.from(v, "hex") : null);
  const signature = hex(body.signature)?.toString("base64url") ?? body.signature;
  const response = body.attObj
    ? { clientDataJSON: body.clientData, attestationObject: body.attObj }
    : { clientDataJSON: body.clientData, authenticatorData: body.authData, signature, userHandle: body.userHandle };
  return { id: body.id, rawId: body.rawId ?? body.id, type: body.type ?? "public-key", response };
}

export const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");
/** A random base64url string of about `length` characters. */
export const randomKey = (length: number) => randomBytes(Math.ceil((length * 3) / 4)).toString("base64url");

const config = (deps: Deps) => deps.settings.DJOSER.WEBAUTHN;
const origins = (deps: Deps) => {
  const o = config(deps).ORIGIN;
  return Array.isArray(o) ? o : [o];
};
const challengeOf = (deps: Deps) => randomBytes(config(deps).CHALLENGE_LENGTH);
const TIMEOUT_MS = (deps: Deps) => config(deps).CHALLENGE_TTL * 1000;

export async function creationOptions(
  deps: Deps,
  user: { handle: string; name: string; displayName: string },
  exclude: { credentialId: string; transports: string }[],
) {
  const c = config(deps);
  // Spread into plain data: what a procedure answers is plain JSON, not the library's types.
  return {
    ...(await generateRegistrationOptions({
      rpName: c.RP_NAME,
      rpID: c.RP_ID,
      userName: user.name,
      userDisplayName: user.displayName,
      userID: Buffer.from(user.handle, "base64url"),
      challenge: challengeOf(deps),
      timeout: TIMEOUT_MS(deps),
      attestationType: "none",
      excludeCredentials: exclude.map((p) => ({ id: p.credentialId, transports: splitTransports(p.transports) })),
      authenticatorSelection: { residentKey: "preferred", userVerification: c.USER_VERIFICATION },
    })),
  };
}

export async function requestOptions(deps: Deps, allow: { credentialId: string; transports: string }[]) {
  const c = config(deps);
  return {
    ...(await generateAuthenticationOptions({
      rpID: c.RP_ID,
      challenge: challengeOf(deps),
      timeout: TIMEOUT_MS(deps),
      userVerification: c.USER_VERIFICATION,
      allowCredentials: allow.map((p) => ({ id: p.credentialId, transports: splitTransports(p.transports) })),
    })),
  };
}

const splitTransports = (t: string) => (t ? t.split(" ") : undefined) as never;

/** The new credential, or null when the response does not verify (any reason: it is the client's). */
export async function verifyCreation(deps: Deps, response: RegistrationJson, challenge: string) {
  const c = config(deps);
  const result = await verifyRegistrationResponse({
    response: response as never,
    expectedChallenge: challenge,
    expectedOrigin: origins(deps),
    expectedRPID: c.RP_ID,
    requireUserVerification: c.USER_VERIFICATION === "required",
  }).catch(() => null);
  if (!result?.verified) return null;
  const info = result.registrationInfo;
  return {
    credentialId: info.credential.id,
    publicKey: new Uint8Array(info.credential.publicKey),
    counter: BigInt(info.credential.counter),
    transports: (response.response.transports ?? []).join(" ").slice(0, 128),
    deviceType: info.credentialDeviceType,
    backedUp: info.credentialBackedUp,
    aaguid: info.aaguid,
    userVerified: info.userVerified,
  };
}

/** The assertion's outcome for this stored passkey, or null when it does not verify. */
export async function verifyAssertion(
  deps: Deps,
  response: AssertionJson,
  challenge: string,
  passkey: { credentialId: string; publicKey: Uint8Array; counter: bigint; transports: string },
) {
  const c = config(deps);
  const result = await verifyAuthenticationResponse({
    response: response as never,
    expectedChallenge: challenge,
    expectedOrigin: origins(deps),
    expectedRPID: c.RP_ID,
    requireUserVerification: c.USER_VERIFICATION === "required",
    credential: {
      id: passkey.credentialId,
      publicKey: new Uint8Array(passkey.publicKey),
      counter: Number(passkey.counter),
      transports: splitTransports(passkey.transports),
    },
  }).catch(() => null);
  return result?.verified ? result.authenticationInfo : null;
}
