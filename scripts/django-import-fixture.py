#!/usr/bin/python3
"""Drives the REAL Djoser reference server to produce test/fixtures/django-import/.

Called by scripts/django-import-fixture.sh (read that first); Python 3 standard library only for
the HTTP part, Debian's Django 3.2 (+ python3-bcrypt, python3-argon2) for the `extra-users` part.

  django-import-fixture.py http --base URL --mail DIR --facts FILE
      register / activate / log in / rotate a JWT / request a password reset over HTTP, exactly
      as a client of the reference does; writes what a client holds afterwards to FILE.
  django-import-fixture.py extra-users --facts FILE
      (inside the reference's Django settings) adds users whose passwords are hashed with the
      other hashers Django ships, deletes one user (an id gap), and completes FILE.
"""
import argparse
import json
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

# Plaintext passwords of the users the fixture creates. They pass Django's four validators.
PASSWORDS = {
    "admin": "Adm1n-Passw0rd!",  # created by the reference's run.sh
    "alice": "Wq8#rTz!pLm2-alice",
    "bob": "Hy6$kQw@nVb3-bob",
    "carol": "Zc4%uEr^tYo7-carol",
    "temp": "Tm9&pLo*iKu8-temp",
    # extra-users (hashers other than Django 3.2's default pbkdf2_sha256):
    "dave": "Dv5!pbkdf2-sha1-Qx",
    "erin": "pässwörd-✓-Argon2-Er",
    "frank": "Grüße-bcrypt_sha256-🔑-Fr",
    "grace": "Gr7@plain-bcrypt-Ws",
    "mallory": "Ml3#md5-unknown-to-portcullis",
}
EXTRA = [
    # username, Django hasher class, what it demonstrates
    ("dave", "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher", "pbkdf2_sha1"),
    ("erin", "django.contrib.auth.hashers.Argon2PasswordHasher", "argon2"),
    ("frank", "django.contrib.auth.hashers.BCryptSHA256PasswordHasher", "bcrypt_sha256"),
    ("grace", "django.contrib.auth.hashers.BCryptPasswordHasher", "bcrypt"),
    ("mallory", "django.contrib.auth.hashers.MD5PasswordHasher", "md5"),
]


def call(base, method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Token {token}")
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(req, data) as res:
            raw = res.read()
            return res.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, json.loads(raw) if raw else None


def expect(result, status, what):
    if result[0] != status:
        sys.exit(f"{what}: expected {status}, got {result[0]} {result[1]}")
    return result[1]


def mail_link(mail_dir, to, pattern):
    """The last link matching `pattern` in a message to `to` (Django's file backend: one file per
    connection, messages separated by a line of 79 dashes)."""
    found = None
    for f in sorted(Path(mail_dir).glob("*.log")):
        for message in f.read_text().split("-" * 79):
            if re.search(rf"^To: {re.escape(to)}$", message, re.M):
                m = re.findall(pattern, message)
                if m:
                    found = m[-1]
    if not found:
        sys.exit(f"no mail to {to} matching {pattern}")
    return found


def http(args):
    base, mail = args.base, args.mail
    users = {"admin": {"username": "admin", "email": "admin@example.com"}}
    for name in ["alice", "bob", "carol", "temp"]:
        pw = PASSWORDS[name]
        body = {"username": name, "email": f"{name}@example.com", "password": pw, "re_password": pw}
        created = expect(call(base, "POST", "/auth/users/", body), 201, f"register {name}")
        users[name] = {"username": name, "email": f"{name}@example.com", "id": created["id"]}
    # alice and carol follow their activation links; bob and temp never do (inactive).
    for name in ["alice", "carol"]:
        uid, token = mail_link(mail, f"{name}@example.com", r"/activate/([^/\s\"]+)/([^/\s\"<]+)")
        expect(call(base, "POST", "/auth/users/activation/", {"uid": uid, "token": token}), 204, f"activate {name}")
    refused = call(base, "POST", "/auth/token/login/", {"username": "bob", "password": PASSWORDS["bob"]})
    expect(refused, 400, "inactive bob's login is refused")
    # Token logins (DRF authtoken keys, as the clients hold them; these also set last_login).
    for name in ["admin", "alice", "carol"]:
        got = expect(call(base, "POST", "/auth/token/login/", {"username": name, "password": PASSWORDS[name]}), 200, f"token login {name}")
        users[name]["auth_token"] = got["auth_token"]
        me = expect(call(base, "GET", "/auth/users/me/", token=got["auth_token"]), 200, f"me {name}")
        users[name]["id"] = me["id"]
    # A JWT pair for alice, rotated once: the first refresh token is blacklisted (ROTATE_REFRESH_TOKENS
    # + BLACKLIST_AFTER_ROTATION in the reference settings).
    pair = expect(call(base, "POST", "/auth/jwt/create/", {"username": "alice", "password": PASSWORDS["alice"]}), 200, "jwt create")
    rotated = expect(call(base, "POST", "/auth/jwt/refresh/", {"refresh": pair["refresh"]}), 200, "jwt refresh")
    again = call(base, "POST", "/auth/jwt/refresh/", {"refresh": pair["refresh"]})
    expect(again, 401, "the rotated refresh token is blacklisted")
    # carol asks for a password reset; the link is the last thing that happens to her account here
    # (a later login would change last_login, which the link's hash covers).
    expect(call(base, "POST", "/auth/users/reset_password/", {"email": "carol@example.com"}), 204, "reset_password")
    uid, token = mail_link(mail, "carol@example.com", r"/password/reset/confirm/([^/\s\"]+)/([^/\s\"<]+)")
    facts = {
        "users": users,
        "jwt": {"username": "alice", "blacklisted_refresh": pair["refresh"], "refresh": rotated["refresh"], "blacklisted_answer": again[1]},
        "reset": {"username": "carol", "uid": uid, "token": token},
    }
    Path(args.facts).write_text(json.dumps(facts, indent=2, ensure_ascii=False) + "\n")


def extra_users(args):
    import django

    django.setup()
    from importlib.metadata import version

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test.utils import override_settings

    User = get_user_model()
    facts = json.loads(Path(args.facts).read_text())
    users = facts["users"]
    for name, hasher, algorithm in EXTRA:
        # make_password uses the first of PASSWORD_HASHERS: the real Django hasher makes the hash.
        with override_settings(PASSWORD_HASHERS=[hasher]):
            u = User.objects.create_user(name, f"{name}@example.com", PASSWORDS[name], first_name=name.title(), last_name="Extra")
        assert u.password.startswith(algorithm + "$"), u.password
        users[name] = {"username": name, "email": f"{name}@example.com", "id": u.pk}
    sso = User.objects.create_user("sso", "sso@example.com", None)  # set_unusable_password: "!…"
    users["sso"] = {"username": "sso", "email": "sso@example.com", "id": sso.pk}
    User.objects.filter(username="temp").delete()  # an id gap: ids are kept, not renumbered
    del users["temp"]
    for name, row in users.items():
        u = User.objects.get(username=name)
        row.update(
            id=u.pk,
            password=PASSWORDS.get(name) if u.has_usable_password() else None,
            algorithm=u.password.split("$", 1)[0] if u.has_usable_password() else "unusable",
            is_active=u.is_active,
            is_staff=u.is_staff,
            is_superuser=u.is_superuser,
        )
    facts["users"] = sorted(users.values(), key=lambda r: r["id"])
    out = {
        "about": "What the clients of the Djoser reference hold, next to dumpdata.json. Made by scripts/django-import-fixture.sh; see README.md.",
        "secret_key": settings.SECRET_KEY,
        "versions": {p: version(p) for p in ["Django", "djoser", "djangorestframework", "djangorestframework-simplejwt", "bcrypt", "argon2-cffi"]},
        "simple_jwt": {"REFRESH_TOKEN_LIFETIME_days": settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].days, "ROTATE_REFRESH_TOKENS": True, "BLACKLIST_AFTER_ROTATION": True},
        **facts,
    }
    Path(args.facts).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("http")
    h.add_argument("--base", required=True)
    h.add_argument("--mail", required=True)
    h.add_argument("--facts", required=True)
    e = sub.add_parser("extra-users")
    e.add_argument("--facts", required=True)
    args = p.parse_args()
    {"http": http, "extra-users": extra_users}[args.cmd](args)


if __name__ == "__main__":
    main()
