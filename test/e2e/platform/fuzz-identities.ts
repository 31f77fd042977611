// The fuzz suite's live identities: the accounts it sends requests as, with their credentials, kept
// alive while the fuzzer logs them out, deactivates, renames and deletes them.

import { encodeUid, makeToken } from "../../../src/compat/django/links.ts";
import type { User } from "../../../src/core/deps.ts";
import { hashPassword } from "../../../src/core/login/passwords.ts";
import { startSession } from "../../../src/core/sessions/jwt.ts";
import { newClaims, sign } from "../../../src/core/sessions/jwt-claims.ts";
import { issueToken } from "../../../src/core/sessions/opaque.ts";
import { authenticate } from "../../../src/http/authenticate.ts";
import type { Endpoint } from "../../helpers/fuzz/endpoints.ts";
import type { Role } from "../../helpers/fuzz/requests.ts";
import type { Ref, Resolver } from "../../helpers/fuzz/values.ts";
import type { TestServer } from "../../helpers/server.ts";

const PW = "Fz-Passw0rd!9";

// ── Live identities ───────────────────────────────────────────────────────────────────────────

/**
 * A user and a staff account per endpoint, each with live credentials, so one endpoint's logouts
 * do not starve another. The fuzzer logs them out, deactivates, renames and deletes them: a 401 to
 * a live credential makes the owner check it, and a dead one is re-minted (the account recreated if
 * need be), without a password round trip.
 */
type Identity = {
  role: Role;
  user: User;
  opaque: string;
  access: string;
  refresh: string;
  staleRefresh: string;
  expiredAccess: string;
  linkToken: string;
  sessionIds: string[];
  gen: number;
  ready: Promise<void>;
  probedAt: number;
};

let s: TestServer;
let hash: string;
let made = 0;
const identities = new Map<string, Identity>();
const META = { ip: "127.0.0.1", userAgent: "fuzz-setup" };

/** Hands the identities the server they live on; their accounts' password, PW, is hashed once here. */
export async function identitiesOn(server: TestServer) {
  s = server;
  hash = await hashPassword(PW);
}

async function mint(id: Identity) {
  const { prisma, settings, keys } = s.deps;
  const staff = id.role === "staff";
  const found = await prisma.user.findUnique({ where: { id: id.user.id } });
  const user = found
    ? await prisma.user.update({ where: { id: found.id }, data: { password: hash, isActive: true } })
    : await prisma.user.create({
        data: {
          username: `fz${++made}${id.role}`,
          email: `fz${made}@fuzz.example`,
          password: hash,
          isActive: true,
          isStaff: staff,
          isSuperuser: staff,
        },
      });
  for (let attempt = 0; ; attempt++) {
    const opaque = await issueToken(s.deps, user, META);
    const pair = await startSession(s.deps, user, META);
    // A password change in this same second can date a fresh JWT before the user's cut-off.
    const live = await Promise.all([
      authenticate(s.deps, { authorization: `Token ${opaque}` }),
      authenticate(s.deps, { authorization: `Bearer ${pair.access}` }),
    ]).then(
      () => true,
      () => false,
    );
    if (!live && attempt < 3) {
      await new Promise((r) => setTimeout(r, 1_100));
      continue;
    }
    const token = await prisma.authToken.findFirst({ where: { userId: user.id }, orderBy: { id: "desc" } });
    const sid = JSON.parse(Buffer.from(pair.refresh.split(".")[1]!, "base64url").toString()).sid as string;
    const expired = {
      ...newClaims(settings.SIMPLE_JWT, "access", user.id, { sid }),
      exp: Math.floor(Date.now() / 1000) - 3_600,
    };
    Object.assign(id, {
      user,
      opaque,
      access: pair.access,
      staleRefresh: id.refresh || pair.refresh,
      refresh: pair.refresh,
      expiredAccess: sign(keys, settings.SIMPLE_JWT, expired),
      linkToken: makeToken("password_reset", user, settings.SECRET_KEY),
      sessionIds: [`t${token?.id ?? 0}`, `j${sid}`],
      gen: id.gen + 1,
    });
    return;
  }
}

export const heal = (id: Identity) => (id.ready = id.ready.then(() => mint(id)));

/** After a 401 to a live credential: is it still live? (At most every 100 ms per identity.) */
export async function probe(id: Identity, gen: number) {
  if (gen !== id.gen || Date.now() - id.probedAt < 100) return;
  id.probedAt = Date.now();
  const live = await Promise.all([
    authenticate(s.deps, { authorization: `Token ${id.opaque}` }),
    authenticate(s.deps, { authorization: `Bearer ${id.access}` }),
  ]).then(
    () => true,
    () => false,
  );
  if (!live && gen === id.gen) await heal(id);
}

export async function identityFor(ep: Endpoint, role: Role): Promise<Identity> {
  const key = `${ep.adapter} ${ep.name} ${role}`;
  let id = identities.get(key);
  if (!id) {
    id = {
      role,
      user: { id: 0 } as User,
      opaque: "",
      access: "",
      refresh: "",
      staleRefresh: "",
      expiredAccess: "",
      linkToken: "",
      sessionIds: [],
      gen: 0,
      ready: Promise.resolve(),
      probedAt: 0,
    };
    identities.set(key, id);
    heal(id);
  }
  await id.ready;
  return id;
}

/** Fills in the Refs of a request from the identity sending it; `used` records which it needed. */
export function resolver(id: Identity, seed: number, used: Set<string>): Resolver {
  return (ref: Ref) => {
    used.add(ref.name);
    switch (ref.name) {
      case "password":
        return PW;
      case "username":
        return id.user.username ?? "";
      case "email":
        return id.user.email;
      case "userId":
        return id.user.id;
      case "otherId":
        return [...identities.values()][seed % identities.size]!.user.id;
      case "uid":
        return encodeUid(id.user.id);
      case "sessionId":
        return id.sessionIds[seed % 2] ?? "t0";
      default:
        return id[ref.name as "opaque" | "access" | "refresh" | "staleRefresh" | "expiredAccess" | "linkToken"];
    }
  };
}
