#!/usr/bin/env bash
# Service registry benchmark, through the registry API (skiff-registry), side
# by side with raw etcd-client in the same run:
#   registration -> typed watcher notified p50/p99 (embedded redb, etcd, raw etcd floor),
#   registrations/s on the embedded store (single and batched),
#   fan-out to 1,000 watchers of one service.
# Usage: bench/registry.sh [SAMPLES]   (needs the etcd binary: apt-get install etcd-server)
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release --locked -p skiff-registry --example registry_bench -- "${1:-1000}"
