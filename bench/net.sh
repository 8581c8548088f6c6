#!/usr/bin/env bash
# Start cost of networking: `skiff run --rm` on the default bridge vs --network none,
# and vs `podman run --rm` / `docker run --rm` on theirs when those are installed and
# have a busybox image. Usage: bench/net.sh [SKIFF_BIN] (default: target/release/skiff).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/target/release/skiff}
work=$(mktemp -d /tmp/skiff-netbench.XXXXXX)
root=$work/root; sock=$work/s.sock
bash "$here/scripts/rootfs.sh" "$work/rootfs" >/dev/null
S=(--root "$root" --host "unix://$sock")
"$bin" "${S[@]}" daemon --cgroup-parent skiff-netbench --bridge sknb0 >"$work/daemon.log" 2>&1 &
dpid=$!
trap 'kill -TERM $dpid 2>/dev/null; wait $dpid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
cmds=("$bin ${S[*]} run --rm --rootfs $work/rootfs true"
      "$bin ${S[*]} run --rm --network none --rootfs $work/rootfs true")
if command -v podman >/dev/null && podman image exists docker.io/library/busybox 2>/dev/null; then
  cmds+=("podman run --rm docker.io/library/busybox true")
fi
if command -v docker >/dev/null && docker image inspect busybox >/dev/null 2>&1; then
  cmds+=("docker run --rm busybox true")
fi
hyperfine -N -w 3 -r "${RUNS:-30}" "${cmds[@]}"
