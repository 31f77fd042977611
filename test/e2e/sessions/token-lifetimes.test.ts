// Opaque-token lifetimes (django-rest-knox's names): TOKEN_TTL ends a key by age, TOKEN_IDLE_TTL
// by disuse, TOKEN_LIMIT_PER_USER caps a user's per-device keys (the oldest go). An expired key is
// answered as DRF answers an unknown one, also while the auth cache holds it, and an expired
// shared key never comes back at the next login. Through REST and tRPC, on PGlite and PostgreSQL.
import { describe, expect, it } from "vitest";
import { PW, useServer } from "../../helpers/fixture.ts";
import { DATABASES, type TestServer } from "../../helpers/server.ts";
import { failure, trpcClient } from "../../helpers/trpc.ts";

const FAST = { ARGON2: JSON.stringify({ MEMORY_COST: 1024, TIME_COST: 1, PARALLELISM: 1 }) };
const INVALID_TOKEN = { detail: "Invalid token." };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The key works (200) or is refused as DRF refuses an unknown key, by REST and by tRPC. */
async function expectKey(s: TestServer, key: string, works: boolean) {
  const res = await s.request("GET", "/auth/users/me/", { headers: { authorization: `Token ${key}` } });
  expect([res.status, works ? 200 : res.json], `Token ${key.slice(0, 8)}…`).toEqual(
    works ? [200, 200] : [401, INVALID_TOKEN],
  );
  const me = trpcClient(s, { authorization: `Token ${key}` }).users.me.query();
  if (works) expect(await me).toMatchObject({ id: expect.any(Number) });
  else expect((await failure(me)).message).toBe("Invalid token.");
}

describe.each(DATABASES)("opaque-token lifetimes on %s", (kind) => {
  const perDevice = useServer(kind, {
    ...FAST,
    DJOSER_TOKEN_MODE: "per_device",
    DJOSER_TOKEN_TTL: "2",
    DJOSER_TOKEN_LIMIT_PER_USER: "2",
  });
  const shared = useServer(kind, { ...FAST, DJOSER_TOKEN_TTL: "2" });
  const idle = useServer(kind, { ...FAST, DJOSER_TOKEN_MODE: "per_device", DJOSER_TOKEN_IDLE_TTL: "300" });

  it(
    "a per-device key past TOKEN_TTL is refused (401 Invalid token.), " + "also right after the auth cache kept it",
    async () => {
      await perDevice.signUp("aging");
      const key = await perDevice.tokenLogin("aging");
      await expectKey(perDevice, key, true); // cached now (on PGlite the cache is on)
      await sleep(2_200);
      await expectKey(perDevice, key, false);
      await expectKey(perDevice, await perDevice.tokenLogin("aging"), true);
    },
  );

  it(
    "the shared key past TOKEN_TTL is refused, " + "and the next login hands out a new key, not the expired one",
    async () => {
      await shared.signUp("sharedaging");
      const key = await shared.tokenLogin("sharedaging");
      expect(await shared.tokenLogin("sharedaging")).toBe(key); // Djoser's one key, before it expires
      await expectKey(shared, key, true);
      await sleep(2_200);
      const next = await trpcClient(shared).token.login.mutate({ username: "sharedaging", password: PW });
      expect(next.auth_token).not.toBe(key);
      await expectKey(shared, key, false);
      await expectKey(shared, next.auth_token, true);
    },
  );

  it("an expired shared key refused at its next use takes its seed along: the next login gets a new key", async () => {
    await shared.signUp("sharedidle");
    const key = await shared.tokenLogin("sharedidle");
    await sleep(2_200);
    await expectKey(shared, key, false);
    expect(await shared.tokenLogin("sharedidle")).not.toBe(key);
  });

  it("TOKEN_IDLE_TTL: a key unused that long is refused; one used lately lives though it is older", async () => {
    const id = await idle.signUp("dozing");
    const [dozing, busy] = [await idle.tokenLogin("dozing"), await idle.tokenLogin("dozing")];
    const rows = await idle.deps.prisma.authToken.findMany({ where: { userId: id }, orderBy: { id: "asc" } });
    const longAgo = new Date(Date.now() - 400_000);
    await idle.deps.prisma.authToken.update({
      where: { id: rows[0]!.id },
      data: { created: longAgo, lastUsedAt: longAgo },
    });
    await idle.deps.prisma.authToken.update({
      where: { id: rows[1]!.id },
      data: { created: longAgo, lastUsedAt: new Date() },
    });
    await expectKey(idle, dozing, false);
    await expectKey(idle, busy, true);
  });

  it(
    "TOKEN_LIMIT_PER_USER: a login beyond the limit revokes the oldest key; " + "the sessions list shows the rest",
    async () => {
      await perDevice.signUp("crowded");
      const keys = [await perDevice.tokenLogin("crowded"), await perDevice.tokenLogin("crowded")];
      await expectKey(perDevice, keys[0]!, true);
      keys.push((await trpcClient(perDevice).token.login.mutate({ username: "crowded", password: PW })).auth_token);
      await expectKey(perDevice, keys[0]!, false);
      await expectKey(perDevice, keys[1]!, true);
      await expectKey(perDevice, keys[2]!, true);
      const sessions = await trpcClient(perDevice, { authorization: `Token ${keys[2]}` }).sessions.list.query();
      expect(sessions.map((s) => s.kind)).toEqual(["token", "token"]);
    },
  );
});
