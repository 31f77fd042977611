import { describe, expect, it } from "vitest";
import { dummyVerify, hashPassword, verifyPassword } from "../../src/services/passwords.ts";

const PASSWORD = "Kq7!vLp2#Zx9";

// Generated with Debian's Django 3.2.25:
// /usr/bin/python3 -c "from django.conf import settings; settings.configure(); from django.contrib.auth.hashers import make_password; print(make_password('Kq7!vLp2#Zx9', salt='fixedsalt123', hasher='pbkdf2_sha256'))"
const DJANGO_PBKDF2_SHA256 = "pbkdf2_sha256$260000$fixedsalt123$gWXXheQgIjJF3YqKTyn+ZJT9ZGZspJj0+zD0iD0RFXo=";
// Same with hasher='pbkdf2_sha1'.
const DJANGO_PBKDF2_SHA1 = "pbkdf2_sha1$260000$fixedsalt123$KtByGhWa+T8mV1gspc4ne4tXNYw=";
// Low-iteration variants:
// /usr/bin/python3 -c "
// from django.conf import settings; settings.configure()
// from django.contrib.auth.hashers import PBKDF2PasswordHasher, PBKDF2SHA1PasswordHasher
// class Fast(PBKDF2PasswordHasher): iterations = 1000
// class FastSha1(PBKDF2SHA1PasswordHasher): iterations = 1000
// print(Fast().encode('Kq7!vLp2#Zx9', 'fixedsalt123'))
// print(Fast().encode('pässwörd ✓ 🔑', 'fixedsalt123'))
// print(FastSha1().encode('Kq7!vLp2#Zx9', 'fixedsalt123'))"
const DJANGO_FAST_SHA256 = "pbkdf2_sha256$1000$fixedsalt123$WaQ5GX+0nM/Ma2Kxo6x2j8jacFIv5Q9kH2E4lJDLJdI=";
const DJANGO_FAST_UNICODE = "pbkdf2_sha256$1000$fixedsalt123$vC1yJAG71sguFtDTzr+CPHJVgwQdZSaTSdyzCEiw/v8=";
const DJANGO_FAST_SHA1 = "pbkdf2_sha1$1000$fixedsalt123$xaOpaIi9p8Vyuq6eWhboHDUxyGA=";
// Django's Argon2PasswordHasher form: "argon2" + PHC string, at Django 3.2's
// parameters (m=102400, t=2, p=8) with a 22-character ASCII salt, as
// Argon2PasswordHasher().encode(PASSWORD, 'fixedsaltfixedsalt1234') produces.
// argon2-cffi isn't installed here, so this one was computed with
// @node-rs/argon2 at those exact inputs (argon2 is deterministic given them).
const DJANGO_ARGON2ID =
  "argon2$argon2id$v=19$m=102400,t=2,p=8$Zml4ZWRzYWx0Zml4ZWRzYWx0MTIzNA$/yTnvT+Wbk+Li/x3BvEkw8SmljXt7PLzGW08q+tFD2A";
// Older Django defaulted to argon2i; same inputs, m=512, t=2, p=2.
const DJANGO_ARGON2I =
  "argon2$argon2i$v=19$m=512,t=2,p=2$Zml4ZWRzYWx0Zml4ZWRzYWx0MTIzNA$6NgqJNlZioEOroZ9TspYvcSa5EccHSb2Xrqvpt1MZog";
// make_password(None) — Django's unusable password.
const DJANGO_UNUSABLE = "!JdZX3wHEjOs372co5eOB6lEhcKUcY5sX9V5fFviP";

describe("hashPassword / verifyPassword (argon2id)", () => {
  it("produces a PHC argon2id string at OWASP parameters with a fresh salt", async () => {
    const a = await hashPassword(PASSWORD);
    const b = await hashPassword(PASSWORD);
    expect(a).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(b);
  });

  it("round-trips and needs no rehash", async () => {
    const stored = await hashPassword(PASSWORD);
    await expect(verifyPassword(PASSWORD, stored)).resolves.toEqual({ ok: true, needsRehash: false });
  });

  it("rejects a wrong password", async () => {
    const stored = await hashPassword(PASSWORD);
    await expect(verifyPassword("Kq7!vLp2#Zx8", stored)).resolves.toEqual({ ok: false, needsRehash: false });
    await expect(verifyPassword("", stored)).resolves.toEqual({ ok: false, needsRehash: false });
  });

  it("handles non-ASCII passwords", async () => {
    const stored = await hashPassword("pässwörd ✓ 🔑");
    expect((await verifyPassword("pässwörd ✓ 🔑", stored)).ok).toBe(true);
    expect((await verifyPassword("passwort ✓ 🔑", stored)).ok).toBe(false);
  });
});

describe("verifyPassword (Django hashes)", () => {
  it("accepts Django's default pbkdf2_sha256 and asks for a rehash", async () => {
    await expect(verifyPassword(PASSWORD, DJANGO_PBKDF2_SHA256)).resolves.toEqual({ ok: true, needsRehash: true });
    await expect(verifyPassword("wrong", DJANGO_PBKDF2_SHA256)).resolves.toEqual({ ok: false, needsRehash: false });
  });

  it("accepts pbkdf2_sha1", async () => {
    await expect(verifyPassword(PASSWORD, DJANGO_PBKDF2_SHA1)).resolves.toEqual({ ok: true, needsRehash: true });
    await expect(verifyPassword(PASSWORD, DJANGO_FAST_SHA1)).resolves.toEqual({ ok: true, needsRehash: true });
    await expect(verifyPassword("wrong", DJANGO_FAST_SHA1)).resolves.toEqual({ ok: false, needsRehash: false });
  });

  it("accepts low-iteration and non-ASCII pbkdf2 hashes", async () => {
    expect((await verifyPassword(PASSWORD, DJANGO_FAST_SHA256)).ok).toBe(true);
    expect((await verifyPassword("pässwörd ✓ 🔑", DJANGO_FAST_UNICODE)).ok).toBe(true);
    expect((await verifyPassword("passwörd ✓ 🔑", DJANGO_FAST_UNICODE)).ok).toBe(false);
  });

  it("does not let the algorithm name be swapped", async () => {
    const swapped = DJANGO_FAST_SHA1.replace("pbkdf2_sha1", "pbkdf2_sha256");
    expect((await verifyPassword(PASSWORD, swapped)).ok).toBe(false);
  });

  it("accepts Django's argon2$argon2id form and asks for a rehash (Django's parameters)", async () => {
    await expect(verifyPassword(PASSWORD, DJANGO_ARGON2ID)).resolves.toEqual({ ok: true, needsRehash: true });
    await expect(verifyPassword("wrong", DJANGO_ARGON2ID)).resolves.toEqual({ ok: false, needsRehash: false });
    // The bare PHC part works too.
    expect((await verifyPassword(PASSWORD, DJANGO_ARGON2ID.slice("argon2".length))).ok).toBe(true);
  });

  it("accepts argon2i and asks for a rehash", async () => {
    await expect(verifyPassword(PASSWORD, DJANGO_ARGON2I)).resolves.toEqual({ ok: true, needsRehash: true });
  });
});

describe("verifyPassword (unusable and malformed)", () => {
  const malformed = [
    "",
    DJANGO_UNUSABLE,
    "!",
    "plaintext",
    "md5$salt$abc",
    "argon2",
    "argon2$",
    "argon2$argon2id$",
    "$argon2id$",
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ",
    "$argon2id$v=19$m=19456,t=2,p=1$!!!$AAAA",
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$AAAA",
    "pbkdf2_sha256$",
    "pbkdf2_sha256$abc$salt$hash",
    "pbkdf2_sha256$0$salt$hash",
    "pbkdf2_sha256$-1$salt$hash",
    "pbkdf2_sha256$1000$$hash",
    "pbkdf2_sha256$1000$salt$",
    "pbkdf2_sha256$1000$salt$hash$extra",
    "pbkdf2_sha256$99999999$salt$hash",
    DJANGO_FAST_SHA256.slice(0, -1),
  ];
  it.each(malformed)("%j → ok:false without throwing", async (stored) => {
    await expect(verifyPassword(PASSWORD, stored)).resolves.toEqual({ ok: false, needsRehash: false });
  });

  it("refuses, without attempting, a stored hash that asks for absurd memory", async () => {
    // m = 2^32-1 KiB: the native library would try to allocate ~4 TiB.
    const huge =
      "$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$cTi+Nzxd+wqjlSV8FhuSCbK1AXPKIaMAohtAviVAxvI";
    await expect(verifyPassword(PASSWORD, huge)).resolves.toEqual({ ok: false, needsRehash: false });
  });

  it("tolerates non-string input from untyped callers", async () => {
    await expect(verifyPassword(PASSWORD, null as unknown as string)).resolves.toEqual({ ok: false, needsRehash: false });
    await expect(verifyPassword(undefined as unknown as string, DJANGO_FAST_SHA256)).resolves.toEqual({
      ok: false,
      needsRehash: false,
    });
  });
});

describe("dummyVerify", () => {
  it("always resolves false, for any input", async () => {
    await expect(dummyVerify(PASSWORD)).resolves.toBe(false);
    await expect(dummyVerify("")).resolves.toBe(false);
  });
});
