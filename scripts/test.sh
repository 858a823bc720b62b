#!/usr/bin/env bash
# The whole test suite: what README.md tells people to run and what .ci/run runs.
# Everything the tests need is installed or started from here, so a fresh machine passes too.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/netbox.sh  # a real NetBox for crates/netbox's tests (about 8 min the first time)
cargo test --workspace --locked
