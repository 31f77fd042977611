// "webauthn": the user's passkeys as a second factor, next to TOTP and mailed codes. Enrolment
// registers a passkey; a login's second step (or an action) is an assertion against a challenge
// bound to that login's ephemeral token, so a challenge issued for one login serves no other.
import type { MethodHandler } from "../mfa/method.ts";
import { assertionJson, requestOptions, standardFields, verifyAssertion } from "./ceremony.ts";
import { challengeIn, keepChallenge, takeChallenge } from "./challenges.ts";
import { addPasskey, newPasskeyOptions } from "./manage.ts";

export const webauthnMethod: MethodHandler = {
  name: "webauthn",
  enrol: (deps, user) => newPasskeyOptions(deps, user, "mfa-enrol"),
  async dispatch(deps, user, _row, bindTo) {
    const options = await requestOptions(deps, await deps.store.passkeys.listOf(user.id));
    await keepChallenge(deps, "mfa", options.challenge, {
      challenge: options.challenge,
      userId: user.id,
      data: { bindTo },
    });
    return options;
  },
  async verify(deps, user, _row, proof, purpose) {
    if (typeof proof !== "object") return false;
    if (purpose.kind === "confirm") {
      return addPasskey(deps, user, proof, "mfa-enrol").then(
        () => true,
        () => false,
      );
    }
    const parsed = assertionJson.safeParse(standardFields(proof));
    if (!parsed.success) return false;
    const challenge = challengeIn(parsed.data.response.clientDataJSON);
    const pending = challenge ? await takeChallenge(deps, "mfa", challenge) : null;
    const bindTo = purpose.kind === "login" ? purpose.bindTo : null;
    if (!pending || pending.userId !== user.id || (pending.data as { bindTo: string | null }).bindTo !== bindTo)
      return false;
    const passkey = await deps.store.passkeys.byCredentialId(parsed.data.id);
    if (passkey?.userId !== user.id) return false;
    const verified = await verifyAssertion(deps, parsed.data, pending.challenge, passkey);
    if (!verified) return false;
    await deps.store.passkeys.used(
      passkey.id,
      verified.newCounter,
      verified.credentialDeviceType,
      verified.credentialBackedUp,
    );
    return true;
  },
};
