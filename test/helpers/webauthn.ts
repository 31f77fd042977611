// A software authenticator for the fast passkey tests: ES256 keys from node:crypto, attestation
// "none", and the standard JSON a browser's PublicKeyCredential.toJSON() produces. It builds the
// bytes by hand (a few CBOR types, the authenticator data layout of WebAuthn §6.1), so a test can
// also bend them: another origin, a stale counter, a wrong RP ID.
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";

type Cbor = number | string | Uint8Array | CborMap | { [key: string]: Cbor };
interface CborMap extends Map<number | string, Cbor> {}

function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 256) return Buffer.from([(major << 5) | 24, n]);
  if (n < 65536) return Buffer.from([(major << 5) | 25, n >> 8, n & 255]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}

/** CBOR (RFC 8949) of the few types WebAuthn's structures use. */
function cbor(v: Cbor): Buffer {
  if (typeof v === "number") return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (typeof v === "string") return Buffer.concat([head(3, Buffer.byteLength(v)), Buffer.from(v)]);
  if (v instanceof Uint8Array) return Buffer.concat([head(2, v.length), Buffer.from(v)]);
  const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([k, x]) => [cbor(k), cbor(x)])]);
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64url");
const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest();

type Stored = { id: Buffer; key: KeyObject; userHandle: string; counter: number };
export type Bend = { origin?: string; rpId?: string; counter?: number; type?: string };

export class SoftAuthenticator {
  readonly credentials: Stored[] = [];
  constructor(
    readonly origin: string,
    readonly rpId = "localhost",
    readonly userVerified = true,
  ) {}

  private flags(extra: number) {
    return 0x01 | (this.userVerified ? 0x04 : 0) | extra; // user present (+ verified)
  }

  private clientData(type: string, challenge: string, bend: Bend) {
    return Buffer.from(JSON.stringify({ type, challenge, origin: bend.origin ?? this.origin, crossOrigin: false }));
  }

  /** navigator.credentials.create(): a new ES256 credential for options.user.id. */
  create(options: { challenge: string; user: { id: string } }, bend: Bend = {}) {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = publicKey.export({ format: "jwk" });
    const cose = new Map<number, Cbor>([
      [1, 2], // kty: EC2
      [3, -7], // alg: ES256
      [-1, 1], // crv: P-256
      [-2, Buffer.from(jwk.x!, "base64url")],
      [-3, Buffer.from(jwk.y!, "base64url")],
    ]);
    const id = randomBytes(32);
    const counter = bend.counter ?? 0;
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    const authData = Buffer.concat([
      sha256(bend.rpId ?? this.rpId),
      Buffer.from([this.flags(0x40)]), // attested credential data included
      count,
      Buffer.alloc(16), // AAGUID: none
      Buffer.from([id.length >> 8, id.length & 255]),
      id,
      cbor(cose),
    ]);
    this.credentials.push({ id, key: privateKey, userHandle: options.user.id, counter });
    const attestationObject = cbor({ fmt: "none", attStmt: {}, authData });
    return {
      id: b64(id),
      rawId: b64(id),
      type: "public-key",
      response: {
        clientDataJSON: b64(this.clientData(bend.type ?? "webauthn.create", options.challenge, bend)),
        attestationObject: b64(attestationObject),
        transports: ["internal"],
      },
      clientExtensionResults: {},
    };
  }

  /** navigator.credentials.get(): an assertion by the newest credential (or the one given). */
  get(options: { challenge: string }, bend: Bend = {}, credential = this.credentials.at(-1)!) {
    credential.counter = bend.counter ?? credential.counter + 1;
    const count = Buffer.alloc(4);
    count.writeUInt32BE(credential.counter);
    const authData = Buffer.concat([sha256(bend.rpId ?? this.rpId), Buffer.from([this.flags(0)]), count]);
    const clientDataJSON = this.clientData(bend.type ?? "webauthn.get", options.challenge, bend);
    const signature = sign("sha256", Buffer.concat([authData, sha256(clientDataJSON)]), credential.key);
    return {
      id: b64(credential.id),
      rawId: b64(credential.id),
      type: "public-key",
      response: {
        clientDataJSON: b64(clientDataJSON),
        authenticatorData: b64(authData),
        signature: b64(signature),
        userHandle: credential.userHandle,
      },
      clientExtensionResults: {},
    };
  }
}
