#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: set up .venv, start a local Doccano on
# loopback for the integration tests, run pytest, and stop the server again.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -m "not browser"`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

export ANNOTATE_HOME=${ANNOTATE_HOME:-$PWD/.cache/annotate-home}
export ANNOTATE_NO_PROGRESS=1
server_dir=$(mktemp -d "${TMPDIR:-/tmp}/annotate-test-server.XXXXXX")
stop_server() {
    .venv/bin/annotate server stop --data-dir "$server_dir" >/dev/null 2>&1 || true
    rm -rf "$server_dir"
}
trap stop_server EXIT
port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv/bin/annotate server start --data-dir "$server_dir" --port "$port"
# The tests' session fixture uses this server instead of starting its own.
export ANNOTATE_TEST_SERVER_DIR=$server_dir

set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
exit $status
