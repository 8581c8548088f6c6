#!/usr/bin/env bash
# `run --rm` with a named volume mounted: skiff against podman and docker, side by side, on the
# same busybox rootfs, none with a network. Prints medians, the peers' ratios to skiff, and
# skiff's own cost of the volume (with vs without -v). Never asserts a timing. Run as root:
#   bench/volumes.sh
# Environment: RUNS (skiff, default 40), SLOW_RUNS (podman, docker; 15), PEERS (default
# "skiff podman docker"), OUT (result dir; bench/results), KEEP_TMP=1 keeps the temp dir.
# Set-up and cleanup are startup.sh's (bench/lib/setup.sh; see bench/README.md).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
RUNS=${RUNS:-40} SLOW_RUNS=${SLOW_RUNS:-15}
PEERS=${PEERS:-skiff podman docker}
OUT=${OUT:-$HERE/results}
[ "$(id -u)" = 0 ] || { echo "volumes.sh: needs root" >&2; exit 1; }

BENCH_T=$(mktemp -d /tmp/sb.XXXXXX)
export BENCH_T
# shellcheck source=lib/setup.sh
source "$HERE/lib/setup.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM
has() { [[ " $PEERS " == *" $1 "* ]]; }

install_peers
mkdir -p "$OUT"
rm -f "$OUT"/volumes-*.json
export ROOTFS=$BENCH_T/rootfs
bash "$REPO/scripts/rootfs.sh" "$ROOTFS" >/dev/null
# podman's crun refuses this hybrid cgroup layout unless hugetlb is also mounted as v1 (setup.sh).
has podman && hugetlb_mount
has podman && podman_setup
if has docker; then docker_start || { log "docker unavailable: skipping it"; PEERS=${PEERS/docker/}; }; fi
if has skiff; then skiff_build && skiff_daemon_start; fi

S="${SKIFF_BIN:-} --host ${SKIFF_HOST:-}"
P="podman ${PODMAN_GLOBAL:-}"
D="/usr/bin/docker -H ${DOCKER_SOCK:-}"
# The volume exists before the runs (first-use creation is measured by nobody).
has skiff && $S volume create benchvol >/dev/null
has podman && $P volume create benchvol >/dev/null
has docker && $D volume create benchvol >/dev/null

cmds=()
has skiff && cmds+=(-n "skiff -v" "$S run --rm --network none -v benchvol:/data --rootfs $ROOTFS /bin/true")
has skiff && cmds+=(-n "skiff (no volume)" "$S run --rm --network none --rootfs $ROOTFS /bin/true")
[ ${#cmds[@]} -eq 0 ] || hyperfine -w 3 -r "$RUNS" --export-json "$OUT/volumes-skiff.json" "${cmds[@]}"
slow=()
has podman && slow+=(-n "podman -v" "$P run --rm --network none -v benchvol:/data --rootfs ${PODMAN_ROOTFS:-} /bin/true")
has docker && slow+=(-n "docker -v" "$D run --rm --network none -v benchvol:/data ${DOCKER_IMAGE:-} /bin/true")
[ ${#slow[@]} -eq 0 ] || hyperfine -w 1 -r "$SLOW_RUNS" --export-json "$OUT/volumes-slow.json" "${slow[@]}"

python3 - "$OUT" <<'PY'
import glob, json, statistics, sys
res = {}
for path in glob.glob(sys.argv[1] + "/volumes-*.json"):
    for r in json.load(open(path))["results"]:
        res[r["command"]] = statistics.median(r["times"]) * 1000
base = res.get("skiff -v")
print("| command | median ms | ratio to skiff -v |")
print("|---|---|---|")
for name in ["skiff -v", "skiff (no volume)", "podman -v", "docker -v"]:
    if name in res:
        ratio = f"{res[name] / base:.2f}x" if base else "-"
        print(f"| {name} | {res[name]:.1f} | {ratio} |")
PY
