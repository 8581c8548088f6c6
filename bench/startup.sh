#!/usr/bin/env bash
# Side-by-side container start benchmark: skiff against crun, runc, podman and docker, all on the
# same busybox rootfs, all with cgroups, none with a network. Prints medians and ratios; never
# asserts a timing. Run as root on a machine where these may be installed:
#   bench/startup.sh
# Environment: RUNS (fast peers, default 40), ROUNDS (interleaved rounds they are split in; 4), SLOW_RUNS (podman, docker; 15), PAR (containers started
# at once; 50), PAR_RUNS (5), MEM_N (sleeping containers for the memory figure; 100),
# PEERS (default "skiff crun runc podman docker"), OUT (result dir; bench/results),
# KEEP_TMP=1 keeps the temp dir. See bench/README.md for what each figure means.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
RUNS=${RUNS:-40} ROUNDS=${ROUNDS:-4} SLOW_RUNS=${SLOW_RUNS:-15} PAR=${PAR:-50} PAR_RUNS=${PAR_RUNS:-5} MEM_N=${MEM_N:-100}
PEERS=${PEERS:-skiff crun runc podman docker}
OUT=${OUT:-$HERE/results}
[ "$(id -u)" = 0 ] || { echo "startup.sh: needs root" >&2; exit 1; }

# Short temp path: unix socket paths (docker, containerd, skiff) must stay under 108 bytes.
BENCH_T=$(mktemp -d /tmp/sb.XXXXXX)
export BENCH_T
# shellcheck source=lib/setup.sh
source "$HERE/lib/setup.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

has() { [[ " $PEERS " == *" $1 "* ]]; }

# ---- 1. set up --------------------------------------------------------------------------------
install_peers
mkdir -p "$OUT"
rm -f "$OUT"/*.json
export ROOTFS=$BENCH_T/rootfs
bash "$REPO/scripts/rootfs.sh" "$ROOTFS" >/dev/null
if has crun || has runc; then
  hugetlb_mount
  for kind in true sleep; do
    b=$BENCH_T/bundle-$kind; mkdir -p "$b"
    (cd "$b" && crun spec)
    if [ $kind = true ]; then args=(/bin/true); else args=(/bin/sleep 1000); fi
    python3 "$HERE/lib/oci_config.py" "$b/config.json" "$ROOTFS" "${args[@]}"
  done
  export BUNDLE_TRUE=$BENCH_T/bundle-true BUNDLE_SLEEP=$BENCH_T/bundle-sleep
  mkdir -p "$BENCH_T/state-crun" "$BENCH_T/state-runc"
fi
has podman && podman_setup
if has docker; then docker_start || { log "docker unavailable: skipping it"; PEERS=${PEERS/docker/}; }; fi
if has skiff; then skiff_build && skiff_daemon_start; fi

versions() {
  {
    echo "kernel $(uname -r), $(nproc) cpus, $(date -u +%FT%TZ)"
    has skiff && echo "skiff $(git -C "$REPO" rev-parse --short HEAD)"
    has crun && crun --version | head -1
    has runc && runc --version | head -1
    has podman && podman --version
    has docker && /usr/bin/docker -H "$DOCKER_SOCK" version --format 'docker {{.Server.Version}}'
    hyperfine --version
  } | tee "$OUT/versions.txt"
}
versions

# ---- 2. one `run --rm` of /bin/true ----------------------------------------------------------
fast=() slow=()
has skiff && fast+=(-n skiff "${SKIFF_BIN:-} --host ${SKIFF_HOST:-} run --rm --network none --rootfs $ROOTFS /bin/true")
has crun && fast+=(-n crun "crun --root $BENCH_T/state-crun run -b $BUNDLE_TRUE t\$\$")
has runc && fast+=(-n runc "runc --root $BENCH_T/state-runc run -b $BUNDLE_TRUE t\$\$")
has podman && slow+=(-n podman "podman ${PODMAN_GLOBAL:-} run --rm --network none --rootfs ${PODMAN_ROOTFS:-} /bin/true")
has docker && slow+=(-n docker "/usr/bin/docker -H ${DOCKER_SOCK:-} run --rm --network none ${DOCKER_IMAGE:-} /bin/true")
log "run --rm /bin/true"
# ROUNDS interleaved rounds, pooled by report.py: load drift on a shared VM hits every peer alike.
for ((r = 1; r <= ROUNDS; r++)); do
  [ ${#fast[@]} -eq 0 ] || hyperfine -w 2 -r $(( (RUNS + ROUNDS - 1) / ROUNDS )) \
    --export-json "$OUT/startup-fast-r$r.json" "${fast[@]}"
  [ ${#slow[@]} -eq 0 ] || hyperfine -w 1 -r $(( (SLOW_RUNS + ROUNDS - 1) / ROUNDS )) \
    --export-json "$OUT/startup-slow-r$r.json" "${slow[@]}"
done

# ---- 3. PAR containers started with -d at once ------------------------------------------------
log "$PAR containers at once"
for p in $PEERS; do
  runs=$PAR_RUNS; case $p in podman|docker) runs=$(( PAR_RUNS < 3 ? PAR_RUNS : 3 ));; esac
  hyperfine -w 1 -r "$runs" --export-json "$OUT/parallel-$p.json" \
    --prepare "$HERE/lib/peer.sh rm-all $p" --cleanup "$HERE/lib/peer.sh rm-all $p" \
    -n "$p x$PAR" "$HERE/lib/peer.sh start-many $p $PAR"
done

# ---- where skiff's time goes -----------------------------------------------------------------
if has skiff; then
  log "pieces of a start"
  hyperfine -N -w 5 -r "$RUNS" --export-json "$OUT/breakdown.json" \
    -n /bin/true "/bin/true" \
    -n "skiff --version (CLI process start)" "$SKIFF_BIN --version" \
    -n "skiff ps -q (CLI + one API round trip)" "$SKIFF_BIN --host $SKIFF_HOST ps -q" \
    -n "skiff run -d --rm (create + start, returns once exec'd)" \
       "$SKIFF_BIN --host $SKIFF_HOST run -d --rm --network none --rootfs $ROOTFS /bin/true" \
    -n "unshare -n (net namespace)" "unshare -n /bin/true" \
    -n "unshare -pmuiC --fork (other namespaces)" "unshare -pmuiC --fork /bin/true" \
    -n "unshare -pmuinC --fork (all six)" "unshare -pmuinC --fork /bin/true"
fi

# ---- 4. resident memory with MEM_N sleeping containers ----------------------------------------
mem() { python3 "$HERE/lib/procmem.py" "$@"; }
if has skiff; then
  log "memory: skiff with 1 and $MEM_N containers"
  "$HERE/lib/peer.sh" rm-all skiff
  "$HERE/lib/peer.sh" start-many skiff 1
  keeper() { pid_of_file "$SKIFF_ROOT/keeper.pid"; }
  mem "skiff, 1 container" --pid "$SKIFF_PID=skiff daemon" --pid "$(keeper)=skiff keeper" >"$OUT/mem-skiff-001.json"
  "$HERE/lib/peer.sh" rm-all skiff
  PAR_START=$(( MEM_N < 50 ? MEM_N : 50 ))
  for ((i = 0; i < MEM_N; i += PAR_START)); do "$HERE/lib/peer.sh" start-many skiff "$PAR_START" $((i + PAR_START)); done
  mem "skiff, $MEM_N containers" --pid "$SKIFF_PID=skiff daemon" --pid "$(keeper)=skiff keeper" >"$OUT/mem-skiff-$(printf %03d "$MEM_N").json"
  "$HERE/lib/peer.sh" rm-all skiff
fi
if has docker; then
  log "memory: docker with $MEM_N containers"
  for ((i = 0; i < MEM_N; i += 50)); do "$HERE/lib/peer.sh" start-many docker 50 $((i + 50)); done
  mem "docker, $MEM_N containers" --pid "$(pid_of_file "$BENCH_T/d/dockerd.pid")" \
    --pid "$(pid_of_file "$BENCH_T/d/containerd.pid")" --cmdline-contains "$BENCH_T/d/ctd.sock" \
    >"$OUT/mem-docker-$(printf %03d "$MEM_N").json"
  "$HERE/lib/peer.sh" rm-all docker
fi

# ---- report ----------------------------------------------------------------------------------
python3 "$HERE/lib/report.py" "$OUT" | tee "$OUT/summary.md"
