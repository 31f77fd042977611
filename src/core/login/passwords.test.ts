import { describe, expect, it } from "vitest";
import { isVerifiableHash } from "../../compat/django/hashers.ts";
import { dummyVerify, hashPassword, verifyPassword } from "./passwords.ts";

const PASSWORD = "Kq7!vLp2#Zx9";

// Generated with Debian's Django 3.2.25:
// /usr/bin/python3 -c "
// from django.conf import settings; settings.configure()
// from django.contrib.auth.hashers import make_password
// print(make_password('Kq7!vLp2#Zx9', salt='fixedsalt123', hasher='pbkdf2_sha256'))"
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
// Django's Argon2PasswordHasher form, "argon2" + a PHC string. Computed with @node-rs/argon2 at
// Django 3.2's parameters (m=102400, t=2, p=8) and salt 'fixedsaltfixedsalt1234', but with a
// 32-byte digest: the real hasher's is 16 bytes (DJANGO_REAL_ARGON2ID below), so this one is
// "a valid argon2id string in Django's wrapping", not Django's own output.
const DJANGO_ARGON2ID =
  "argon2$argon2id$v=19$m=102400,t=2,p=8$Zml4ZWRzYWx0Zml4ZWRzYWx0MTIzNA$/yTnvT+Wbk+Li/x3BvEkw8SmljXt7PLzGW08q+tFD2A";
// Older Django defaulted to argon2i; same inputs, m=512, t=2, p=2.
const DJANGO_ARGON2I =
  "argon2$argon2i$v=19$m=512,t=2,p=2$Zml4ZWRzYWx0Zml4ZWRzYWx0MTIzNA$6NgqJNlZioEOroZ9TspYvcSa5EccHSb2Xrqvpt1MZog";
// Made by the REAL Django 3.2.25 with python3-bcrypt 3.2.2 and python3-argon2 (argon2-cffi 21.1):
//   apt-get install -y python3-bcrypt python3-argon2
//   /usr/bin/python3 -c "
//   from django.conf import settings
//   settings.configure(PASSWORD_HASHERS=['django.contrib.auth.hashers.BCryptSHA256PasswordHasher',
//       'django.contrib.auth.hashers.BCryptPasswordHasher', 'django.contrib.auth.hashers.Argon2PasswordHasher'])
//   import bcrypt
//   from django.contrib.auth.hashers import (make_password, BCryptSHA256PasswordHasher, BCryptPasswordHasher,
//       Argon2PasswordHasher)
//   class Fast(BCryptSHA256PasswordHasher): rounds = 4
//   class FastPlain(BCryptPasswordHasher): rounds = 4
//   class Fast2a(BCryptPasswordHasher):
//       rounds = 5
//       def salt(self): return bcrypt.gensalt(5, prefix=b'2a')
//   LONG = 'x' * 72 + '-tail-one'
//   print(make_password('Kq7!vLp2#Zx9', hasher='bcrypt_sha256'))
//   print(make_password('Kq7!vLp2#Zx9', hasher='bcrypt'))
//   print(Fast().encode('pässwörd ✓ 🔑', Fast().salt()))
//   print(FastPlain().encode(LONG, FastPlain().salt()))
//   print(Fast().encode(LONG, Fast().salt()))
//   print(Fast2a().encode('Kq7!vLp2#Zx9', Fast2a().salt()))
//   print(Argon2PasswordHasher().encode('Kq7!vLp2#Zx9', 'fixedsaltfixedsalt1234'))
//   print(make_password('Kq7!vLp2#Zx9', hasher='argon2'))"
// bcrypt salts are random (Django passes bcrypt.gensalt()), so each run prints other strings.
const DJANGO_BCRYPT_SHA256 = "bcrypt_sha256$$2b$12$EY/mSkiD1LK1xsnEPI3njeSUqMNWsanmEKtQ0OxbcXWPgqTy3n8ly";
const DJANGO_BCRYPT = "bcrypt$$2b$12$ObIhdzxvZ4jmmiu4Z.K6P.Or8Smvfsg2UaeZBFDoUspAJi.P9NFBW";
const DJANGO_FAST_BCRYPT_SHA256_UNICODE = "bcrypt_sha256$$2b$04$Wuu5FM5IW.OSbrbW6ulnzODXSAhb9hhyVhISCGpRmroCNbQNYOmfK";
const LONG = `${"x".repeat(72)}-tail-one`;
const DJANGO_FAST_BCRYPT_LONG = "bcrypt$$2b$04$ItyVhaPGnjJ30NH0lS2g/.C3TeMlwZdGdrvZiTOZgvZSMhYMq3B2u";
const DJANGO_FAST_BCRYPT_SHA256_LONG = "bcrypt_sha256$$2b$04$yDKEJMdLvxjGijJE.jY51eS5n6JPrMwftb3fqDNgsB8AjMycIxtC2";
const DJANGO_FAST_BCRYPT_2A = "bcrypt$$2a$05$Rbq5FyNa/3qQ9OHmNqeqcucAjXYXg5ShTZRSBUA8VF6IuKD5Uqnt2";
const DJANGO_REAL_ARGON2ID =
  "argon2$argon2id$v=19$m=102400,t=2,p=8$Zml4ZWRzYWx0Zml4ZWRzYWx0MTIzNA$IZLFdg8W9yZOU7MF1cg1VA";
const DJANGO_REAL_ARGON2ID_RANDOM_SALT =
  "argon2$argon2id$v=19$m=102400,t=2,p=8$MnJUdTBkelFTSmttRWRUb0dIdDN3eQ$IWgb9zpZLyGd9fzgLxB4eQ";
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

describe("verifyPassword (Django bcrypt, hashes made by the real Django)", () => {
  it("accepts bcrypt_sha256 (Django 3.2's format, cost 12) and asks for a rehash", async () => {
    await expect(verifyPassword(PASSWORD, DJANGO_BCRYPT_SHA256)).resolves.toEqual({ ok: true, needsRehash: true });
    await expect(verifyPassword("Kq7!vLp2#Zx8", DJANGO_BCRYPT_SHA256)).resolves.toEqual({
      ok: false,
      needsRehash: false,
    });
  });

  it("accepts plain bcrypt (cost 12) and asks for a rehash", async () => {
    await expect(verifyPassword(PASSWORD, DJANGO_BCRYPT)).resolves.toEqual({ ok: true, needsRehash: true });
    await expect(verifyPassword("", DJANGO_BCRYPT)).resolves.toEqual({ ok: false, needsRehash: false });
  });

  it("hashes the UTF-8 bytes of non-ASCII passwords", async () => {
    await expect(verifyPassword("pässwörd ✓ 🔑", DJANGO_FAST_BCRYPT_SHA256_UNICODE)).resolves.toEqual({
      ok: true,
      needsRehash: true,
    });
    expect((await verifyPassword("passwörd ✓ 🔑", DJANGO_FAST_BCRYPT_SHA256_UNICODE)).ok).toBe(false);
  });

  it("truncates at 72 bytes for plain bcrypt, as Django does, but not for bcrypt_sha256", async () => {
    expect((await verifyPassword(LONG, DJANGO_FAST_BCRYPT_LONG)).ok).toBe(true);
    expect((await verifyPassword(`${"x".repeat(72)}-anything`, DJANGO_FAST_BCRYPT_LONG)).ok).toBe(true);
    expect((await verifyPassword("x".repeat(71), DJANGO_FAST_BCRYPT_LONG)).ok).toBe(false);
    expect((await verifyPassword(LONG, DJANGO_FAST_BCRYPT_SHA256_LONG)).ok).toBe(true);
    expect((await verifyPassword(`${"x".repeat(72)}-anything`, DJANGO_FAST_BCRYPT_SHA256_LONG)).ok).toBe(false);
  });

  it("accepts the $2a$ and $2y$ variants (the same algorithm for short passwords)", async () => {
    expect((await verifyPassword(PASSWORD, DJANGO_FAST_BCRYPT_2A)).ok).toBe(true);
    // python-bcrypt (so Django) verifies a $2y$ spelling of a $2b$ hash.
    expect((await verifyPassword(PASSWORD, DJANGO_BCRYPT.replace("$2b$", "$2y$"))).ok).toBe(true);
  });

  it("does not let bcrypt and bcrypt_sha256 be swapped", async () => {
    const bare = DJANGO_FAST_BCRYPT_SHA256_UNICODE.slice("bcrypt_sha256$".length);
    expect((await verifyPassword("pässwörd ✓ 🔑", `bcrypt$${bare}`)).ok).toBe(false);
    expect((await verifyPassword(LONG, `bcrypt_sha256$${DJANGO_FAST_BCRYPT_LONG.slice("bcrypt$".length)}`)).ok).toBe(
      false,
    );
  });

  it("refuses a password with a NUL byte for plain bcrypt (python-bcrypt raises on it)", async () => {
    expect((await verifyPassword(`${PASSWORD}\0`, DJANGO_BCRYPT)).ok).toBe(false);
  });

  it("refuses, without the work, costs outside 4..16", async () => {
    const started = Date.now();
    for (const cost of ["03", "17", "31"]) {
      await expect(verifyPassword(PASSWORD, DJANGO_BCRYPT.replace("$12$", `$${cost}$`))).resolves.toEqual({
        ok: false,
        needsRehash: false,
      });
    }
    // Cost 31 would take days. (Each refusal still waits out the slowest kind of hash met so far,
    // cost 12 bcrypt here, so that refusals take the time a real check takes: passwords.ts.)
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("accepts argon2id hashes made by the real Argon2PasswordHasher (16-byte digest)", async () => {
    await expect(verifyPassword(PASSWORD, DJANGO_REAL_ARGON2ID)).resolves.toEqual({ ok: true, needsRehash: true });
    await expect(verifyPassword(PASSWORD, DJANGO_REAL_ARGON2ID_RANDOM_SALT)).resolves.toEqual({
      ok: true,
      needsRehash: true,
    });
    await expect(verifyPassword("wrong", DJANGO_REAL_ARGON2ID_RANDOM_SALT)).resolves.toEqual({
      ok: false,
      needsRehash: false,
    });
  });
});

describe("isVerifiableHash", () => {
  it("knows the stored forms verifyPassword checks, and nothing else", async () => {
    for (const h of [
      DJANGO_PBKDF2_SHA256,
      DJANGO_PBKDF2_SHA1,
      DJANGO_ARGON2I,
      DJANGO_REAL_ARGON2ID,
      DJANGO_BCRYPT,
      DJANGO_BCRYPT_SHA256,
      await hashPassword(PASSWORD),
    ]) {
      expect(isVerifiableHash(h), h).toBe(true);
    }
    // Django's unusable password, its md5/sha1/crypt/unsalted hashers, and garbage.
    for (const h of [
      DJANGO_UNUSABLE,
      "md5$salt$0123456789abcdef0123456789abcdef",
      "sha1$salt$da39a3ee5e6b4b0d3255bfef95601890afd80709",
      "crypt$$ab1234567890",
      "unsalted_md5$$0123",
      "",
      "bcrypt$",
      "plaintext",
    ]) {
      expect(isVerifiableHash(h), h).toBe(false);
    }
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
    "bcrypt$",
    "bcrypt_sha256$",
    "bcrypt$$2b$",
    "bcrypt$$2b$04$",
    "bcrypt_sha256$2b$04$Wuu5FM5IW.OSbrbW6ulnzODXSAhb9hhyVhISCGpRmroCNbQNYOmfK", // one "$" short
    DJANGO_FAST_BCRYPT_LONG.slice(0, -1),
    `${DJANGO_FAST_BCRYPT_LONG}A`,
    DJANGO_FAST_BCRYPT_LONG.replace("$2b$", "$2x$"),
    DJANGO_FAST_BCRYPT_LONG.replace("$2b$", "$2$"),
    DJANGO_FAST_BCRYPT_LONG.replace("$04$", "$4$"),
    DJANGO_FAST_BCRYPT_LONG.replace("ItyV", "It!V"),
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
    await expect(verifyPassword(PASSWORD, null as unknown as string)).resolves.toEqual({
      ok: false,
      needsRehash: false,
    });
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
