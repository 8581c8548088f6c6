#!/usr/bin/env bash
# Networking benchmarks, skiff side by side with podman (and docker when its daemon runs):
#   1. start cost: `run --rm true` on the default bridge (skiff: also --network none)
#   2. TCP throughput (busybox dd | nc, 2 GiB) and RTT (busybox ping, 50 x 0.1 s):
#      host loopback, container to container over the bridge, host -> published port.
# Usage: bench/net.sh [SKIFF_BIN] (default: the release binary of scripts/build-release.sh).
# Everything stays on loopback and 198.18.0.0/15; podman gets an image imported from the
# same busybox rootfs (no registry).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$("$here/scripts/build-release.sh")}
work=$(mktemp -d /tmp/skiff-netbench.XXXXXX)
root=$work/root; sock=$work/s.sock; rfs=$work/rootfs
bash "$here/scripts/rootfs.sh" "$rfs" >/dev/null
S=(--root "$root" --host "unix://$sock")
sk() { "$bin" "${S[@]}" "$@"; }
"$bin" "${S[@]}" daemon --cgroup-parent skiff-netbench --bridge sknb0 >"$work/daemon.log" 2>&1 &
dpid=$!
cleanup() {
  sk rm -f nbsrv nbsrv2 >/dev/null 2>&1 || true
  if [ -n "${podman:-}" ]; then
    podman rm -f nbsrv >/dev/null 2>&1 || true
    podman rmi localhost/skiff-bench-busybox >/dev/null 2>&1 || true
  fi
  kill -TERM $dpid 2>/dev/null; wait $dpid 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
podman=""
# This host's hard open-files limit is 20000: podman's default ulimits must fit under it.
cat > "$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
CONF
export CONTAINERS_CONF=$work/containers.conf
if command -v podman >/dev/null; then
  tar -C "$rfs" -c . | podman import -q - localhost/skiff-bench-busybox >/dev/null && podman=1
fi
RUNS=${RUNS:-30}
echo "== start cost: run --rm true"
cmds=("$bin ${S[*]} run --rm --rootfs $rfs true" "$bin ${S[*]} run --rm --network none --rootfs $rfs true")
[ -n "$podman" ] && cmds+=("podman run --rm localhost/skiff-bench-busybox true")
hyperfine -N -w 3 -r "$RUNS" "${cmds[@]}"

# The TCP tool: a static example binary copied into the rootfs (busybox nc is too limited).
host=$(rustc -vV | sed -n 's/^host: //p')
(cd "$here" && RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C relocation-model=static" \
  cargo build --release --locked -q -p skiff-net --example tcpbench --target "$host")
tb=$here/target/$host/release/examples/tcpbench
cp "$tb" "$rfs/bin/tcpbench"
MIB=${MIB:-2048}; N=${N:-20000}
echo "== TCP throughput (${MIB} MiB, 1 MiB writes) and round trip (${N} x 1 byte, TCP_NODELAY)"
"$tb" serve 47001 & lp=$!
sleep 0.2
echo "host loopback:          $("$tb" send 127.0.0.1:47001 "$MIB")  rtt $("$tb" rtt 127.0.0.1:47001 "$N")"
kill $lp
sk run -d --name nbsrv -p 127.0.0.1:47002:5001 --rootfs "$rfs" tcpbench serve 5001 >/dev/null
sleep 0.3
echo "skiff c2c bridge:       $(sk run --rm --rootfs "$rfs" tcpbench send nbsrv:5001 "$MIB")  rtt $(sk run --rm --rootfs "$rfs" tcpbench rtt nbsrv:5001 "$N")"
echo "skiff published (DNAT): $("$tb" send 127.0.0.1:47002 "$MIB")  rtt $("$tb" rtt 127.0.0.1:47002 "$N")"
ip=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([c["endpoints"][0]["ip"] for c in d["containers"].values()][0])' "$root/net/state.json")
"$tb" proxy 47003 "$ip:5001" & pp=$!
sleep 0.2
echo "userland proxy:         $("$tb" send 127.0.0.1:47003 "$MIB")  rtt $("$tb" rtt 127.0.0.1:47003 "$N")"
kill $pp
if [ -n "$podman" ]; then
  cp "$tb" "$work/tcpbench"
  podman run -d --name nbsrv -p 127.0.0.1:47004:5001 -v "$work/tcpbench:/bin/tcpbench:ro" localhost/skiff-bench-busybox tcpbench serve 5001 >/dev/null
  pip=$(podman inspect -f '{{.NetworkSettings.IPAddress}}' nbsrv)
  sleep 0.5
  echo "podman c2c bridge:      $(podman run --rm -v "$work/tcpbench:/bin/tcpbench:ro" localhost/skiff-bench-busybox tcpbench send "$pip:5001" "$MIB")  rtt $(podman run --rm -v "$work/tcpbench:/bin/tcpbench:ro" localhost/skiff-bench-busybox tcpbench rtt "$pip:5001" "$N")"
  echo "podman published:       $("$tb" send 127.0.0.1:47004 "$MIB")  rtt $("$tb" rtt 127.0.0.1:47004 "$N")"
fi
