#!/usr/bin/env bash
# Registry change -> routed traffic through the real daemon path (issue 6): a private `skiff daemon` on
# the embedded store runs `skiff lb` for service `bench`; keep-alive clients load it; each round starts a
# new host-network httpd instance (registered once its TCP check passes) and times from the registry's
# Add to the first response that instance sends through the lb. Prints p50/p99/max and the ratio to the
# peers' documented floors (Traefik's 2 s provider throttle, kube-proxy's >= 1 s sync). Needs root.
#   bench/lb.sh            (ROUNDS=40 CLIENTS=8 by default)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
ROUNDS=${ROUNDS:-40} CLIENTS=${CLIENTS:-8}
log() { echo "lb.sh: $*" >&2; }

log "building skiff and the lb_route_latency example (release)"
(cd "$REPO" && cargo build --release --locked -p skiff --bin skiff --example lb_route_latency >&2)
BIN=${CARGO_TARGET_DIR:-$REPO/target}/release
T=$(mktemp -d /tmp/lbb.XXXXXX)
ROOT=$T/state SOCK=$T/skiff.sock
DPID=""
cleanup() {
  if [ -n "$DPID" ]; then
    "$BIN/skiff" --root "$ROOT" --host "unix://$SOCK" rm -f base >/dev/null 2>&1 || true
    kill "$DPID" 2>/dev/null || true
    wait "$DPID" 2>/dev/null || true
  fi
  rm -rf "$T"
}
trap cleanup EXIT
bash "$REPO/scripts/rootfs.sh" "$T/rootfs" >/dev/null
"$BIN/skiff" --root "$ROOT" --host "unix://$SOCK" daemon --cgroup-parent "skiff-lbbench-$$" \
  --bridge "sklb$((RANDOM % 1000))" --node bench >"$T/daemon.log" 2>&1 &
DPID=$!
for _ in $(seq 1 300); do [ -S "$SOCK" ] && break; sleep 0.1; done
"$BIN/examples/lb_route_latency" --skiff "$BIN/skiff" --socket "$SOCK" --root "$ROOT" \
  --rootfs "$T/rootfs" --rounds "$ROUNDS" --clients "$CLIENTS"
