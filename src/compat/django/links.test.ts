import { describe, expect, it } from "vitest";
import { checkToken, decodeUid, encodeUid, makeToken, type TokenUser } from "./links.ts";

// Expected tokens come from Debian's Django 3.2.25 (/usr/bin/python3):
//
// from datetime import datetime, timezone, timedelta
// from django.conf import settings
// settings.configure(SECRET_KEY='portcullis-test-secret-ü', PASSWORD_RESET_TIMEOUT=259200)
// from django.contrib.auth.tokens import PasswordResetTokenGenerator
// class User:
//     def __init__(self, pk, password, last_login, email):
//         self.pk, self.password, self.last_login, self.email = pk, password, last_login, email
//     def get_email_field_name(self): return 'email'
// class Gen(PasswordResetTokenGenerator):
//     def __init__(self, now): super().__init__(); self.now = now
//     def _now(self): return self.now
// now = datetime(2024, 5, 17, 12, 34, 56, 789000)
// u1 = User(42, 'pbkdf2_sha256$260000$fixedsalt123$gWXXheQgIjJF3YqKTyn+ZJT9ZGZspJj0+zD0iD0RFXo=',
//           datetime(2024, 5, 1, 8, 9, 10, 123456, tzinfo=timezone.utc), 'alice@example.com')
// u2 = User(7, '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaA', None, 'Zoë@Example.com')
// for u in (u1, u2): print(u.pk, Gen(now).make_token(u))
// t = Gen(now).make_token(u1)
// print(Gen(now + timedelta(seconds=259200)).check_token(u1, t),   # True
//       Gen(now + timedelta(seconds=259201)).check_token(u1, t))   # False
//
// → 42 c768a8-01aea89fcc348df5e568495571c831d0
//   7 c768a8-fd2b15b0c8ce9f13a921af70fce0dbd2

const SECRET = "portcullis-test-secret-ü";
const TIMEOUT = 259200;
const NOW = new Date(Date.UTC(2024, 4, 17, 12, 34, 56, 789));

const alice: TokenUser = {
  id: 42,
  password: "pbkdf2_sha256$260000$fixedsalt123$gWXXheQgIjJF3YqKTyn+ZJT9ZGZspJj0+zD0iD0RFXo=",
  lastLogin: new Date(Date.UTC(2024, 4, 1, 8, 9, 10, 123)),
  email: "alice@example.com",
};
const zoe: TokenUser = {
  id: 7,
  password: "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaA",
  lastLogin: null,
  email: "Zoë@Example.com",
};
const DJANGO_ALICE = "c768a8-01aea89fcc348df5e568495571c831d0";
const DJANGO_ZOE = "c768a8-fd2b15b0c8ce9f13a921af70fce0dbd2";

const inSeconds = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);

describe("makeToken / checkToken: Django compatibility", () => {
  it("mints exactly Django's token", () => {
    expect(makeToken("password_reset", alice, SECRET, NOW)).toBe(DJANGO_ALICE);
    expect(makeToken("password_reset", zoe, SECRET, NOW)).toBe(DJANGO_ZOE);
  });

  it("accepts Django's tokens", () => {
    expect(checkToken("password_reset", alice, DJANGO_ALICE, SECRET, TIMEOUT, NOW)).toBe(true);
    expect(checkToken("password_reset", zoe, DJANGO_ZOE, SECRET, TIMEOUT, NOW)).toBe(true);
  });

  it("expires exactly where Django does", () => {
    expect(checkToken("password_reset", alice, DJANGO_ALICE, SECRET, TIMEOUT, inSeconds(259200))).toBe(true);
    expect(checkToken("password_reset", alice, DJANGO_ALICE, SECRET, TIMEOUT, inSeconds(259201))).toBe(false);
    expect(checkToken("password_reset", alice, DJANGO_ALICE, SECRET, 60, inSeconds(3600))).toBe(false);
  });

  it("ignores milliseconds of lastLogin (Django drops microseconds)", () => {
    const same = { ...alice, lastLogin: new Date(Date.UTC(2024, 4, 1, 8, 9, 10, 999)) };
    expect(checkToken("password_reset", same, DJANGO_ALICE, SECRET, TIMEOUT, NOW)).toBe(true);
  });

  it("round-trips with the current clock by default", () => {
    expect(checkToken("password_reset", alice, makeToken("password_reset", alice, SECRET), SECRET, TIMEOUT)).toBe(true);
  });
});

describe("checkToken: invalidation", () => {
  it("rejects when the user's state changed", () => {
    expect(
      checkToken("password_reset", { ...alice, password: `${alice.password}x` }, DJANGO_ALICE, SECRET, TIMEOUT, NOW),
    ).toBe(false);
    expect(
      checkToken("password_reset", { ...alice, lastLogin: inSeconds(1) }, DJANGO_ALICE, SECRET, TIMEOUT, NOW),
    ).toBe(false);
    expect(checkToken("password_reset", { ...alice, lastLogin: null }, DJANGO_ALICE, SECRET, TIMEOUT, NOW)).toBe(false);
    expect(
      checkToken("password_reset", { ...alice, email: "alice@example.org" }, DJANGO_ALICE, SECRET, TIMEOUT, NOW),
    ).toBe(false);
    expect(checkToken("password_reset", { ...alice, id: 43 }, DJANGO_ALICE, SECRET, TIMEOUT, NOW)).toBe(false);
    expect(checkToken("password_reset", zoe, DJANGO_ALICE, SECRET, TIMEOUT, NOW)).toBe(false);
  });

  it("rejects another secret", () => {
    expect(checkToken("password_reset", alice, DJANGO_ALICE, `${SECRET}!`, TIMEOUT, NOW)).toBe(false);
  });

  it("rejects tampering with the hash or the timestamp", () => {
    const [ts, hash] = DJANGO_ALICE.split("-") as [string, string];
    const flipped = hash.slice(0, -1) + (hash.endsWith("0") ? "1" : "0");
    expect(checkToken("password_reset", alice, `${ts}-${flipped}`, SECRET, TIMEOUT, NOW)).toBe(false);
    // A fresher timestamp with the old hash: the HMAC covers the timestamp.
    const later = (parseInt(ts, 36) + 100000).toString(36);
    expect(checkToken("password_reset", alice, `${later}-${hash}`, SECRET, TIMEOUT, inSeconds(200000))).toBe(false);
    // Same number, non-canonical spellings.
    expect(checkToken("password_reset", alice, `0${ts}-${hash}`, SECRET, TIMEOUT, NOW)).toBe(false);
    expect(checkToken("password_reset", alice, `${ts.toUpperCase()}-${hash}`, SECRET, TIMEOUT, NOW)).toBe(false);
    expect(checkToken("password_reset", alice, `${ts}-${hash.toUpperCase()}`, SECRET, TIMEOUT, NOW)).toBe(false);
  });

  it("returns false on garbage without throwing", () => {
    const garbage = [
      "",
      "abc",
      "x-y",
      "-",
      "c768a8-",
      "-01aea89fcc348df5e568495571c831d0",
      `${DJANGO_ALICE}-x`,
      ` ${DJANGO_ALICE}`,
      `${DJANGO_ALICE}\n`,
      "zzzzzzzzzzzzzz-01aea89fcc348df5e568495571c831d0",
      "x".repeat(100_000),
      `${"1".repeat(100_000)}-${"a".repeat(32)}`,
    ];
    for (const token of garbage) expect(checkToken("password_reset", alice, token, SECRET, TIMEOUT, NOW)).toBe(false);
    expect(checkToken("password_reset", alice, null as unknown as string, SECRET, TIMEOUT, NOW)).toBe(false);
    expect(checkToken("password_reset", null as unknown as TokenUser, DJANGO_ALICE, SECRET, TIMEOUT, NOW)).toBe(false);
    expect(
      checkToken("password_reset", { ...alice, lastLogin: new Date(NaN) }, DJANGO_ALICE, SECRET, TIMEOUT, NOW),
    ).toBe(false);
    expect(checkToken("password_reset", alice, DJANGO_ALICE, SECRET, TIMEOUT, new Date(NaN))).toBe(false);
    expect(checkToken("password_reset", alice, DJANGO_ALICE, SECRET, Number.NaN, NOW)).toBe(false);
  });
});

describe("one purpose per link", () => {
  const PURPOSES = ["password_reset", "activation", "username_reset", "email_change"] as const;

  it("a token of one purpose fails every other purpose's check", () => {
    for (const made of PURPOSES) {
      const token = makeToken(made, alice, SECRET, NOW);
      for (const checked of PURPOSES) {
        expect(checkToken(checked, alice, token, SECRET, TIMEOUT, NOW), `${made} → ${checked}`).toBe(made === checked);
      }
    }
    // Django's activation links (Djoser uses the reset generator for both) are reset-salted: not activation links here.
    expect(checkToken("activation", alice, DJANGO_ALICE, SECRET, TIMEOUT, NOW)).toBe(false);
  });

  it("a link epoch, once set, ends the links made before it; unset, Django's hash is unchanged", () => {
    expect(makeToken("password_reset", { ...alice, linkEpoch: null }, SECRET, NOW)).toBe(DJANGO_ALICE);
    const epoch = { ...alice, linkEpoch: inSeconds(10) };
    expect(checkToken("password_reset", epoch, DJANGO_ALICE, SECRET, TIMEOUT, NOW)).toBe(false);
    const minted = makeToken("password_reset", epoch, SECRET, NOW);
    expect(checkToken("password_reset", epoch, minted, SECRET, TIMEOUT, NOW)).toBe(true);
    expect(checkToken("password_reset", { ...alice, linkEpoch: inSeconds(11) }, minted, SECRET, TIMEOUT, NOW)).toBe(
      false,
    );
  });

  it("a bound value (an email change's new address) is part of the hash", () => {
    const token = makeToken("email_change", { ...alice, bound: "new@example.com" }, SECRET, NOW);
    expect(checkToken("email_change", { ...alice, bound: "new@example.com" }, token, SECRET, TIMEOUT, NOW)).toBe(true);
    expect(checkToken("email_change", { ...alice, bound: "other@example.com" }, token, SECRET, TIMEOUT, NOW)).toBe(
      false,
    );
    expect(checkToken("email_change", alice, token, SECRET, TIMEOUT, NOW)).toBe(false);
  });
});

describe("encodeUid / decodeUid", () => {
  // urlsafe_base64_encode(force_bytes(n)) in Django: 2 → Mg, 99999999 → OTk5OTk5OTk, 2147483647 → MjE0NzQ4MzY0Nw
  it("matches Django's encoding", () => {
    expect(encodeUid(2)).toBe("Mg");
    expect(encodeUid(99999999)).toBe("OTk5OTk5OTk");
    expect(encodeUid(2147483647)).toBe("MjE0NzQ4MzY0Nw");
  });

  it("decodes valid uids", () => {
    expect(decodeUid("Mg")).toBe(2);
    expect(decodeUid("OTk5OTk5OTk")).toBe(99999999);
    expect(decodeUid("MjE0NzQ4MzY0Nw")).toBe(2147483647);
    for (const id of [1, 9, 10, 42, 123, 4096, 65535, 1000000]) expect(decodeUid(encodeUid(id))).toBe(id);
  });

  it("rejects everything else", () => {
    const bad = [
      "",
      "!!!",
      "M",
      "Mg==",
      "Mg=",
      "M!g",
      "Mh",
      " Mg",
      "Mg\n",
      encodeUid(0),
      encodeUid(-1),
      encodeUid(2147483648),
      "MDI" /* "02" */,
      "KzI" /* "+2" */,
      Buffer.from("2.5").toString("base64url"),
      Buffer.from("1e3").toString("base64url"),
      Buffer.from(" 2").toString("base64url"),
      Buffer.from("abc").toString("base64url"),
      "A".repeat(10_000),
    ];
    for (const uid of bad) expect(decodeUid(uid), uid.slice(0, 20)).toBeNull();
    expect(decodeUid(undefined as unknown as string)).toBeNull();
  });
});
