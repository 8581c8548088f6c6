#!/usr/bin/env bash
# One peer's container operations for the benchmark, driven by the environment startup.sh exports.
# usage: peer.sh start-many PEER N [TOTAL]  start N `sleep 1000` containers at once (xargs -P N) and
#                                    return when all are running: exit 1 unless TOTAL (default N) run
#        peer.sh count PEER          print how many of the peer's containers are running
#        peer.sh rm-all PEER         remove every container of the peer (force)
set -euo pipefail
: "${BENCH_T:?run through bench/startup.sh}"

skiff() { "$SKIFF_BIN" --host "$SKIFF_HOST" "$@"; }
ocirt() { "$1" --root "$BENCH_T/state-$1" "${@:2}"; }
podman_() { podman $PODMAN_GLOBAL "$@"; }
docker_() { /usr/bin/docker -H "$DOCKER_SOCK" "$@"; }

count() { # PEER -> number of running containers
  case $1 in
    skiff) skiff ps -q | grep -c . || true ;;
    crun|runc) ocirt "$1" list 2>/dev/null | awk 'NR > 1 && $3 == "running"' | grep -c . || true ;;
    podman) podman_ ps -q | grep -c . || true ;;
    docker) docker_ ps -q | grep -c . || true ;;
  esac
}

rm_all() { # PEER
  local ids
  case $1 in
    skiff) ids=$(skiff ps -aq 2>/dev/null || true)
           [ -z "$ids" ] || printf '%s\n' $ids | xargs -P 16 -n 8 "$SKIFF_BIN" --host "$SKIFF_HOST" rm -f >/dev/null ;;
    crun|runc) ids=$(ocirt "$1" list -q 2>/dev/null || true)
           [ -z "$ids" ] || printf '%s\n' $ids | xargs -P 16 -I{} "$1" --root "$BENCH_T/state-$1" delete -f {} ;;
    podman) podman_ rm -f -a -t 0 >/dev/null ;;
    docker) ids=$(docker_ ps -aq)
           [ -z "$ids" ] || docker_ rm -f $ids >/dev/null ;;
  esac
}

cmd=${1:?usage: peer.sh start-many|count|rm-all PEER [N]}
peer=${2:?peer}
case $cmd in
  start-many)
    n=${3:?N} total=${4:-$3}
    # xargs runs the peer's own CLI directly: no shell per container.
    seq $((total - n + 1)) "$total" | case $peer in
      skiff) xargs -P "$n" -I{} "$SKIFF_BIN" --host "$SKIFF_HOST" run -d --network none \
               --rootfs "$ROOTFS" /bin/sleep 1000 ;;
      crun|runc) xargs -P "$n" -I{} "$peer" --root "$BENCH_T/state-$peer" run --detach \
               -b "$BUNDLE_SLEEP" m{} ;;
      podman) xargs -P "$n" -I{} podman $PODMAN_GLOBAL run -d --network none \
               --rootfs "$PODMAN_ROOTFS" /bin/sleep 1000 ;;
      docker) xargs -P "$n" -I{} /usr/bin/docker -H "$DOCKER_SOCK" run -d --network none \
               "$DOCKER_IMAGE" /bin/sleep 1000 ;;
      *) echo "unknown peer $peer" >&2; exit 2 ;;
    esac >/dev/null
    got=$(count "$peer")
    [ "$got" -eq "$total" ] || { echo "$peer: $got of $total running" >&2; exit 1; } ;;
  count) count "$peer" ;;
  rm-all) rm_all "$peer" ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
