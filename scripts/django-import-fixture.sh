#!/bin/bash
# Regenerates test/fixtures/django-import/{dumpdata.json,facts.json} from the REAL Djoser 2.1 /
# Django 3.2 reference kit (/work/shared/djoser, see its README.md). Nothing here is hand-written
# data: users, hashes, authtoken keys, JWTs and the reset link all come from the reference.
#
#   scripts/django-import-fixture.sh            # writes test/fixtures/django-import/
#   DJOSER_REF=/path/to/djoser PORT=8011 OUT=/tmp/x scripts/django-import-fixture.sh
#
# Needs Debian's /usr/bin/python3 with the reference's packages (python3-djoser python3-django
# python3-djangorestframework python3-djangorestframework-simplejwt), plus the two libraries the
# extra hashers load:   apt-get install -y python3-bcrypt python3-argon2
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REF=${DJOSER_REF:-/work/shared/djoser}
OUT=${OUT:-$HERE/../test/fixtures/django-import}
PORT=${PORT:-8011}
PY=/usr/bin/python3
WORK=$(mktemp -d)
SERVER=
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# The kit is read-only: work on a copy. One change to the copy's settings, appended: SimpleJWT's
# refresh tokens live 100 years instead of 1 day, so the real refresh tokens in facts.json are
# still unexpired whenever the tests present them. Everything else is the reference as shipped.
cp -r "$REF" "$WORK/djoser"
chmod -R u+w "$WORK/djoser"
cat >>"$WORK/djoser/site/refsite/settings.py" <<'PY'

# Added by scripts/django-import-fixture.sh (fixture only): long-lived refresh tokens.
from datetime import timedelta as _timedelta
SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"] = _timedelta(days=36500)
PY

# run.sh migrates a fresh SQLite db, creates admin / Adm1n-Passw0rd! and execs runserver ($! is its pid).
"$WORK/djoser/run.sh" "$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/auth/" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$PORT/auth/" >/dev/null || { cat "$WORK/server.log" >&2; exit 1; }

STATE=$WORK/djoser/var/$PORT
$PY "$HERE/django-import-fixture.py" http --base "http://127.0.0.1:$PORT" --mail "$STATE/mail" --facts "$WORK/facts.json"
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=

# The same environment run.sh gives manage.py.
export DJOSER_REF_STATE=$STATE DJANGO_SETTINGS_MODULE=refsite.settings PYTHONPATH=$WORK/djoser/shim:$WORK/djoser/site
$PY "$HERE/django-import-fixture.py" extra-users --facts "$WORK/facts.json"
mkdir -p "$OUT"
(cd "$WORK/djoser/site" && $PY manage.py dumpdata auth.User authtoken.Token token_blacklist --indent 2) >"$OUT/dumpdata.json"
cp "$WORK/facts.json" "$OUT/facts.json"
echo "wrote $OUT/dumpdata.json and $OUT/facts.json" >&2
