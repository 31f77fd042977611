// What an attacker holding the password tries against the second step: guessing codes across many
// ephemeral tokens (the per-user code lockout), an expired token, one token or one code spent by
// two requests at once. On PGlite and PostgreSQL.
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { tokenAuth, useServer } from "../../helpers/fixture.ts";
import { enrolApp, firstStep, secondStep, totp } from "../../helpers/mfa.ts";
import { DATABASES } from "../../helpers/server.ts";

const LOCKED = {
  detail: "Too many wrong codes for this account: reset the password, or ask staff to reset two-factor.",
};

for (const kind of DATABASES) {
  describe(`second-step attacks on ${kind}`, () => {
    const s = useServer(kind, {
      TRENCH_AUTH_EPHEMERAL_TOKEN_TTL: "2",
      LOGIN_LOCKOUT: '{"FREE_FAILURES":2,"BASE_DELAY":1,"MAX_DELAY":1,"MAX_FAILURES":4}',
    });

    it("wrong codes count per user across tokens: waits, then a lock even the right code meets", async () => {
      const { secret } = await enrolApp(s, "vic");
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await secondStep(s, await firstStep(s, "vic"), String(100000 + i));
        statuses.push(res.status);
        if (res.status === 429) await sleep(1100);
      }
      expect(statuses.filter((st) => st === 401).length).toBeLessThanOrEqual(4);
      const locked = await secondStep(s, await firstStep(s, "vic"), await totp(secret, 1));
      expect(locked.status, locked.text).toBe(403);
      expect(locked.json).toEqual(LOCKED);
      const events = await s.trpc(tokenAuth(await adminKey())).audit.list.query({ kind: "mfa_failed" });
      expect(events.events.length).toBeGreaterThanOrEqual(4);
      for (const e of events.events) expect(JSON.stringify(e.data)).not.toMatch(/10000\d/);
    });

    it("an ephemeral token stops working after TRENCH_AUTH_EPHEMERAL_TOKEN_TTL", async () => {
      const { secret } = await enrolApp(s, "wes");
      const token = await firstStep(s, "wes");
      await sleep(2200);
      const late = await secondStep(s, token, await totp(secret, 1));
      expect(late.status).toBe(401);
      expect(late.json).toEqual({ error: "Invalid or expired token." });
    });

    it("one token with good codes sent twice at once, or one code on two tokens: one credential", async () => {
      const { secret, backup } = await enrolApp(s, "xia");
      const token = await firstStep(s, "xia");
      const both = await Promise.all([secondStep(s, token, backup[0]), secondStep(s, token, backup[1])]);
      expect(both.map((r) => r.status).sort()).toEqual([200, 401]);
      const code = await totp(secret, 1);
      const [a, b] = [await firstStep(s, "xia"), await firstStep(s, "xia")];
      const racing = await Promise.all([secondStep(s, a, code), secondStep(s, b, code)]);
      expect(racing.map((r) => r.status).sort()).toEqual([200, 401]);
    });

    let admin: string | undefined;
    async function adminKey() {
      if (admin) return admin;
      const { createStaff } = await import("../../helpers/server.ts");
      await createStaff(s, "boss", "B0ss-Passw0rd!", "boss@example.com");
      admin = await s.tokenLogin("boss", "B0ss-Passw0rd!");
      return admin;
    }
  });
}
