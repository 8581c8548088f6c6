#!/usr/bin/env bash
# Scheduler throughput on a simulated 10,000-node cluster with spread and
# `with` rules (crates/skiff-sched/examples/sched_bench.rs).
# No peer scheduler binary runs here; the reference is Nomad's published C1M
# figure: 1,000,000 containers on 5,000 hosts in under 5 minutes, 3,750
# placements/s (HashiCorp, "The Million Container Challenge", 2016,
# https://www.hashicorp.com/c1m). kube-scheduler: ~300 pods/s by default.
set -euo pipefail
cd "$(dirname "$0")/.."
NODES="${NODES:-10000}"
ROUNDS="${ROUNDS:-5}"
out=$(cargo run --quiet --release --locked -p skiff-sched --example sched_bench -- "$NODES" "$ROUNDS")
echo "$out"
rate=$(echo "$out" | sed -n 's/^PLACEMENTS_PER_SEC=//p')
nomad=3750
echo "skiff: ${rate} placements/s   nomad C1M (published): ${nomad} placements/s   ratio: $(awk -v a="$rate" -v b="$nomad" 'BEGIN{printf "%.1fx", a/b}')"
