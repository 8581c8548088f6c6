#!/usr/bin/env bash
# Images side by side: skiff against podman on the same image and the same Containerfile.
#   1. `build` of examples/busybox, cold (--no-cache) and cached (an unchanged rebuild);
#   2. `run --rm IMAGE true` of that image, loaded into both (skiff save -> podman load).
# Prints hyperfine's medians and the podman/skiff ratio; asserts nothing about time.
# Run as root:  bench/images.sh      Environment: RUNS (default 20), BUILD_RUNS (default 5),
# SKIFF_BIN (use this binary instead of building the release one), KEEP_TMP=1.
# Podman runs with runc: crun refuses this hybrid cgroup layout (shared/PEERS.md).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
RUNS=${RUNS:-20} BUILD_RUNS=${BUILD_RUNS:-5}
PEERS="skiff podman"
[ "$(id -u)" = 0 ] || { echo "images.sh: needs root" >&2; exit 1; }
BENCH_T=$(mktemp -d /tmp/sbi.XXXXXX)
export BENCH_T
# shellcheck source=lib/setup.sh
source "$HERE/lib/setup.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

install_peers
export ROOTFS=$BENCH_T/rootfs
bash "$REPO/scripts/rootfs.sh" "$ROOTFS" >/dev/null
podman_setup
export PODMAN_GLOBAL="$PODMAN_GLOBAL --runtime runc"
if [ -z "${SKIFF_BIN:-}" ]; then skiff_build; fi
export SKIFF_BIN
skiff_daemon_start
S="$SKIFF_BIN --host $SKIFF_HOST"
P="podman $PODMAN_GLOBAL"
export CONTAINERS_CONF=$BENCH_T/podman/containers.conf

CTX=$BENCH_T/ctx
cp -a "$REPO/examples/busybox" "$CTX"
install -m 0755 /bin/busybox "$CTX/busybox"
IMG=bench/busybox

log "versions"
echo "skiff $(git -C "$REPO" rev-parse --short HEAD), $($P --version), kernel $(uname -r), $(nproc) cpus"

median() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(" ".join("%.1f" % (x["median"]*1000) for x in r))' "$1"; }
compare() { # NAME RUNS SKIFF_CMD PODMAN_CMD
  local name=$1 runs=$2
  hyperfine -N --style basic --runs "$runs" --warmup 1 --export-json "$BENCH_T/$name.json" \
    -n skiff "$3" -n podman "$4" >/dev/null 2>&1 || hyperfine --runs "$runs" --warmup 1 \
    --export-json "$BENCH_T/$name.json" -n skiff "$3" -n podman "$4" >/dev/null
  read -r s p < <(median "$BENCH_T/$name.json")
  printf '%-22s skiff %8s ms   podman %8s ms   podman/skiff %5.2fx\n' "$name" "$s" "$p" \
    "$(python3 -c "print($p/$s)")"
}

log "build, cold (--no-cache) and cached"
compare "build cold" "$BUILD_RUNS" "$S build --no-cache -t $IMG $CTX" \
  "$P build --no-cache --format docker -t $IMG $CTX"
$S build -t $IMG "$CTX" >/dev/null
$P build --format docker -t $IMG "$CTX" >/dev/null 2>&1
compare "build cached" "$BUILD_RUNS" "$S build -t $IMG $CTX" "$P build --format docker -t $IMG $CTX"

log "run --rm IMAGE true (the same image in both: skiff save | podman load)"
$S save -o "$BENCH_T/img.tar" $IMG
$P rmi -f localhost/$IMG >/dev/null 2>&1 || true
$P load -i "$BENCH_T/img.tar" >/dev/null 2>&1
compare "run --rm IMAGE true" "$RUNS" "$S run --rm $IMG true" "$P run --rm --network none localhost/$IMG true"
