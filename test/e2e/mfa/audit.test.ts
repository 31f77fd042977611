// Every MFA change and failure is audited, with its user and method, and no secret reaches the
// audit log: not the TOTP secret, not a code, not a backup code, not the ephemeral token. On
// PGlite and PostgreSQL.
import { describe, expect, it } from "vitest";
import { tokenAuth, useServer } from "../../helpers/fixture.ts";
import { enrolApp, firstStep, secondStep, totp } from "../../helpers/mfa.ts";
import { createStaff, DATABASES } from "../../helpers/server.ts";

const KINDS = [
  "mfa_enabled",
  "mfa_failed",
  "backup_code_used",
  "backup_codes_regenerated",
  "mfa_primary_changed",
  "reauthenticated",
  "mfa_disabled",
  "mfa_reset",
];

for (const kind of DATABASES) {
  describe(`MFA audit on ${kind}`, () => {
    const s = useServer(kind);

    it("every MFA change and failure is audited, and no secret with it", async () => {
      const secrets: string[] = [];
      const { secret, backup } = await enrolApp(s, "ada");
      secrets.push(secret, ...backup);
      const token = await firstStep(s, "ada");
      secrets.push(token, "424242");
      expect((await secondStep(s, token, "424242")).status).toBe(401);
      const done = await secondStep(s, token, backup[0]);
      const key = tokenAuth(done.json.auth_token);
      secrets.push(done.json.auth_token);
      const code = await totp(secret, 1);
      secrets.push(code);
      const regenerated = await s.request("POST", "/auth/app/codes/regenerate/", { headers: key, json: { code } });
      secrets.push(...regenerated.json.backup_codes);
      // A second method (mailed codes), made primary with its own code.
      await s.request("POST", "/auth/email/activate/", { headers: key });
      const mailed = /\b(\d{6})\b/.exec(s.mailsTo("ada@example.com", "Your verification code").at(-1)!.text)![1]!;
      const second = await s.request("POST", "/auth/email/activate/confirm/", { headers: key, json: { code: mailed } });
      secrets.push(...second.json.backup_codes); // each confirmation hands out a new set, as trench does
      await s.request("POST", "/auth/code/request/", { headers: key, json: { method: "email" } });
      const next = /\b(\d{6})\b/.exec(s.mailsTo("ada@example.com", "Your verification code").at(-1)!.text)![1]!;
      secrets.push(mailed, next);
      const primary = await s.request("POST", "/auth/mfa/change-primary-method/", {
        headers: key,
        json: { method: "email", code: next },
      });
      expect(primary.status, primary.text).toBe(204);
      const again = second.json.backup_codes[0];
      expect(regenerated.json.backup_codes).not.toContain(again);
      expect((await s.request("POST", "/auth/reauthenticate/", { headers: key, json: { code: again } })).status).toBe(
        200,
      );
      expect((await s.request("POST", "/auth/app/deactivate/", { headers: key, json: {} })).status).toBe(204);
      const root = await createStaff(s, "root", "R00t-Passw0rd!", "root@example.com");
      const staff = tokenAuth(await s.tokenLogin("root", "R00t-Passw0rd!"));
      const me = await s.me(key);
      expect((await s.request("POST", `/auth/users/${me.json.id}/reset_mfa/`, { headers: staff })).status).toBe(204);

      const { events } = await s.trpc(staff).audit.list.query({ userId: me.json.id, limit: 500 });
      for (const k of KINDS)
        expect(
          events.some((e) => e.kind === k),
          k,
        ).toBe(true);
      const enabled = events.filter((e) => e.kind === "mfa_enabled").map((e) => e.data);
      expect(enabled).toEqual([{ factor: "email" }, { factor: "app" }]); // newest first
      expect(events.find((e) => e.kind === "mfa_primary_changed")?.data).toEqual({ factor: "email" });
      expect(events.find((e) => e.kind === "mfa_reset")?.data).toEqual({ by: root.id });
      expect(events.filter((e) => e.kind === "login_succeeded").map((e) => e.data.factor)).toContain("backup");
      const stored = JSON.stringify(events);
      for (const value of secrets) expect(stored, "a secret in the audit log").not.toContain(value);
    });
  });
}
