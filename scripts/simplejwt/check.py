#!/usr/bin/python3
"""Verify JWTs with the real django-rest-framework-simplejwt (5.2.2).

stdin:  JSON list of {"config": {...SIMPLE_JWT...}, "kind": "access"|"refresh"|"untyped", "token": str}
        (extra fields are ignored, so test/fixtures/simplejwt/tokens.json can be piped in as-is)
stdout: JSON list, same order, of {"ok": bool, "error": str|null, "claims": obj|null}

Run with /usr/bin/python3 (Debian's python3-djangorestframework-simplejwt). See README.md.
"""
import json
import subprocess
import sys
from datetime import timedelta

LIFETIME_KEYS = ("ACCESS_TOKEN_LIFETIME", "REFRESH_TOKEN_LIFETIME")


def configure(config):
    """Configure standalone Django with SIMPLE_JWT built from `config`.

    Only ONE config per process: SimpleJWT binds its settings at import time
    (state.token_backend holds the key/algorithm/aud/iss, AccessToken.lifetime etc. are
    class attributes), so a second config in the same process would silently keep the first.
    settings.configure() raises if called twice, which guards against exactly that.
    """
    import django
    from django.conf import settings

    simple_jwt = dict(config)
    for key in LIFETIME_KEYS:  # the config carries seconds; SimpleJWT wants timedelta
        if key in simple_jwt:
            simple_jwt[key] = timedelta(seconds=simple_jwt[key])
    settings.configure(
        SECRET_KEY="not-used-simplejwt-signs-with-SIGNING_KEY",
        # No token_blacklist app: its models stay abstract, RefreshToken skips the
        # blacklist check/outstanding-token insert, and no database is needed.
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "rest_framework",
            "rest_framework_simplejwt",
        ],
        USE_TZ=True,
        LANGUAGE_CODE="en-us",  # error messages untranslated, as SimpleJWT spells them
        SIMPLE_JWT=simple_jwt,
    )
    django.setup()


def verify_all(config, items):
    """Worker side: verify every item under one config, exactly as SimpleJWT does."""
    configure(config)
    from rest_framework_simplejwt.exceptions import TokenError
    from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, UntypedToken

    classes = {"access": AccessToken, "refresh": RefreshToken, "untyped": UntypedToken}
    results = []
    for item in items:
        try:
            token = classes[item["kind"]](item["token"])
            results.append({"ok": True, "error": None, "claims": token.payload})
        except TokenError as e:
            # e.args[0] is a lazy translation string; str() renders the message.
            results.append({"ok": False, "error": str(e), "claims": None})
    return results


def run_worker(script, job):
    """Run `script --worker` in a fresh interpreter (fresh SimpleJWT settings) with `job` on stdin."""
    proc = subprocess.run(
        [sys.executable, script, "--worker"],
        input=json.dumps(job),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"{script} worker failed (exit {proc.returncode})")
    return json.loads(proc.stdout)


def main():
    if sys.argv[1:] == ["--worker"]:
        job = json.load(sys.stdin)
        json.dump(verify_all(job["config"], job["items"]), sys.stdout)
        return

    cases = json.load(sys.stdin)
    # Group by config (canonical JSON) -> one subprocess per distinct config.
    groups = {}
    for index, case in enumerate(cases):
        groups.setdefault(json.dumps(case["config"], sort_keys=True), []).append(index)
    results = [None] * len(cases)
    for indices in groups.values():
        job = {
            "config": cases[indices[0]]["config"],
            "items": [{"kind": cases[i]["kind"], "token": cases[i]["token"]} for i in indices],
        }
        for i, result in zip(indices, run_worker(__file__, job)):
            results[i] = result
    json.dump(results, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
