#!/usr/bin/python3
"""Mint fixture tokens with the real django-rest-framework-simplejwt (5.2.2).

Writes test/fixtures/simplejwt/tokens.json (list of {name, config, kind, token, claims})
and test/fixtures/simplejwt/versions.json. Each config is minted in its own subprocess
(`mint.py --worker`) because SimpleJWT binds its settings at import time; see check.configure.

Run with /usr/bin/python3 (Debian's python3-djangorestframework-simplejwt). See README.md.
"""
import json
import os
import sys
from datetime import timedelta

sys.dont_write_bytecode = True  # importing check.py must not leave a __pycache__ in the repo
from check import configure, run_worker  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "test", "fixtures", "simplejwt")
CENTURY = 3155760000  # 100 years in seconds, so the fixtures never expire
USER_ID = 1


def pem(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


def config(algorithm, signing_key, verifying_key=None, audience=None, issuer=None):
    """A full SIMPLE_JWT settings dict (lifetimes in seconds), recorded verbatim in the fixture."""
    return {
        "ALGORITHM": algorithm,
        "SIGNING_KEY": signing_key,
        "VERIFYING_KEY": verifying_key,  # None for HS*: SimpleJWT verifies with SIGNING_KEY
        "AUDIENCE": audience,
        "ISSUER": issuer,
        "LEEWAY": 0,
        "ACCESS_TOKEN_LIFETIME": CENTURY,
        "REFRESH_TOKEN_LIFETIME": CENTURY,
        "USER_ID_CLAIM": "user_id",
        "TOKEN_TYPE_CLAIM": "token_type",
        "JTI_CLAIM": "jti",
    }


HS256_KEY = "portcullis-simplejwt-fixture-hs256-secret-0123456789abcdef"
HS512_KEY = "portcullis-simplejwt-fixture-hs512-secret-0123456789abcdef0123456789abcdef"

JOBS = [
    {"name": "hs256", "config": config("HS256", HS256_KEY), "expired": True},
    {
        "name": "hs256-aud-iss",
        "config": config("HS256", HS256_KEY, audience="portcullis-tests", issuer="https://issuer.example"),
    },
    {"name": "hs512", "config": config("HS512", HS512_KEY)},
    {"name": "rs256", "config": config("RS256", pem("rs256-private.pem"), pem("rs256-public.pem"))},
    {"name": "es256", "config": config("ES256", pem("es256-private.pem"), pem("es256-public.pem"))},
]


def mint(job):
    """Worker side: mint a refresh/access pair (plus optionally an expired access) under one config."""
    cfg = job["config"]
    configure(cfg)
    from types import SimpleNamespace

    import jwt
    from rest_framework_simplejwt.tokens import RefreshToken

    def case(suffix, kind, token):
        encoded = str(token)  # sign once (ES256 signatures are randomized)
        # Record the claims actually in the JWT (incl. aud/iss, which SimpleJWT adds at encode time).
        claims = jwt.decode(encoded, options={"verify_signature": False})
        return {"name": job["name"] + suffix, "config": cfg, "kind": kind, "token": encoded, "claims": claims}

    # What TokenObtainPairSerializer does: RefreshToken.for_user(user) -> .access_token.
    # for_user only reads user.<USER_ID_FIELD> ("id"), so a stand-in object suffices (no DB).
    refresh = RefreshToken.for_user(SimpleNamespace(id=USER_ID))
    cases = [case("-refresh", "refresh", refresh), case("-access", "access", refresh.access_token)]
    if job.get("expired"):
        expired = refresh.access_token
        expired.set_exp(lifetime=timedelta(seconds=-10))  # exp = iat - 10: already expired
        cases.append(case("-access-expired", "access", expired))
    return cases


def versions():
    from importlib.metadata import version

    packages = ["Django", "djangorestframework", "djangorestframework-simplejwt", "PyJWT", "cryptography"]
    return {p: version(p) for p in packages} | {"python": sys.version.split()[0], "python_executable": sys.executable}


def write_json(name, data):
    with open(os.path.join(FIXTURES, name), "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def main():
    if sys.argv[1:] == ["--worker"]:
        json.dump(mint(json.load(sys.stdin)), sys.stdout)
        return
    cases = [c for job in JOBS for c in run_worker(__file__, job)]
    write_json("tokens.json", cases)
    write_json("versions.json", versions())
    print(f"wrote {len(cases)} cases to {os.path.relpath(FIXTURES, ROOT)}/tokens.json", file=sys.stderr)


if __name__ == "__main__":
    main()
