#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests and the privileged
# end-to-end tests (real namespaces, cgroups, etcd). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
if [ "$(id -u)" -ne 0 ]; then
  echo "warning: not root: privileged tests will report 'skipped: needs root'" >&2
fi
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --workspace --locked
cargo test --workspace --locked -- --test-threads=2
