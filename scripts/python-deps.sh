#!/usr/bin/env bash
# Third-party gNMI clients for fabric-sim's interop tests (crates/sim/tests/interop.rs):
# pygnmi and gnmi-py in a venv at .venv-interop, built with the machine's python3.
# Idempotent: a venv that already has the pinned versions is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-interop
# grpcio and protobuf pinned too: both clients import generated code that
# breaks across protobuf majors.
PINS=(pygnmi==0.8.15 gnmi-py==0.7.1 grpcio==1.85.1 protobuf==7.36.2)

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "${PINS[@]}" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    try:
        if version(name) != want:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
then
    # Each client in its own interpreter: both register gnmi_ext.proto in
    # protobuf's default pool, so one process cannot import both (the tests
    # never do). gnmi-py's generated code predates protobuf 4 and loads only
    # with the pure-Python protobuf runtime; the tests set the same variable.
    if "$VENV/bin/python" -c 'import pygnmi.client' >/dev/null 2>&1 \
        && PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python "$VENV/bin/python" -c 'import gnmi' >/dev/null 2>&1; then
        exit 0
    fi
fi

python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
"$VENV/bin/python" -c 'import pygnmi.client' >/dev/null
PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python "$VENV/bin/python" -c 'import gnmi' >/dev/null
echo "interop clients installed in $VENV: ${PINS[*]}"
