#!/usr/bin/env bash
# Time from `up` to every instance healthy, for a 20-service topology
# (bench/compose-up/compose.yaml: busybox httpd + a wget health check each),
# skiff side by side with docker compose (Debian docker-compose 1.29 on dockerd
# 20.10) and podman-compose (1.0.3 on podman 4.3), the same image everywhere:
# examples/busybox built by skiff, `skiff save` -> `docker load` / `podman load`.
#
#   skiff:  `skiff up -d -f compose.yaml` (returns once the topology is healthy;
#           the clock stops when `skiff status` also shows 20 healthy)
#   docker: `docker-compose -p cu -f compose.yaml up -d`, then `docker ps` polled until 20 say (healthy)
#   podman: `podman-compose up -d`, then each container's `podman healthcheck run`
#           polled until all 20 pass (podman schedules health checks with systemd
#           timers; there is no systemd here, so the poller is the timer)
#
# Every engine probes every INTERVAL (the compose file's healthcheck interval,
# default 1s) and, as Docker does, first one INTERVAL after the start: no engine
# can finish under INTERVAL with that file. Compose's `start_interval` (probe
# faster while `start_period` lasts, Docker Engine 25+) removes that floor, but
# Debian's docker-compose 1.29 refuses the key ("does not match any of the
# regexes") and podman-compose 1.0.3 ignores it; so two skiff columns:
#   skiff       the file plus `start_period: 30s` + `start_interval: START_INTERVAL`
#   skiff_same  exactly the file docker and podman run (Docker's first-probe floor) Rounds are interleaved (skiff, docker, podman, again);
# after each `up` the project is taken down (not timed). Prints the median per
# engine and the ratios of medians; asserts nothing about time.
#
# Run as root:  bench/compose-up.sh
# Environment: ROUNDS (3), ENGINES ("skiff skiff_same docker podman"), INTERVAL (1s),
# START_INTERVAL (100ms),
# SKIFF_BIN (a binary to use instead of the release build), KEEP_TMP=1.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
ROUNDS=${ROUNDS:-3} ENGINES=${ENGINES:-skiff skiff_same docker podman} INTERVAL=${INTERVAL:-1s}
START_INTERVAL=${START_INTERVAL:-100ms}
N=20
[ "$(id -u)" = 0 ] || { echo "compose-up.sh: needs root" >&2; exit 1; }
BENCH_T=$(mktemp -d /tmp/scu.XXXXXX)
export BENCH_T
# shellcheck source=lib/setup.sh
source "$HERE/lib/setup.sh"
has() { [[ " $ENGINES " == *" $1 "* ]]; }

PROJ=$BENCH_T/cu # the project directory: its name is the Compose project name
down_all() {
  set +e
  if has docker && [ "$DOCKER_UP" = 1 ]; then
    (cd "$PROJ" && docker-compose -p cu -f compose.yaml down -v -t 1) >/dev/null 2>&1
  fi
  if has podman && [ -n "${PODMAN_GLOBAL:-}" ]; then
    (cd "$PROJ" && podman-compose -p cu -f compose.yaml --podman-args "$PODMAN_GLOBAL" down -t 1) >/dev/null 2>&1
  fi
  if [ -n "$SKIFF_PID" ]; then
    "$SKIFF_BIN" --host "$SKIFF_HOST" down -v "$PROJ" >/dev/null 2>&1
    "$SKIFF_BIN" --host "$SKIFF_HOST" down -v "$SPROJ" >/dev/null 2>&1
  fi
}
trap 'down_all; cleanup' EXIT
trap 'exit 130' INT TERM

install_peers
missing=()
has docker && ! command -v docker-compose >/dev/null && missing+=(docker-compose)
has podman && ! command -v podman-compose >/dev/null && missing+=(podman-compose)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

SPROJ=$BENCH_T/start-interval/cu # skiff's file with start_interval: same project name
mkdir -p "$PROJ" "$SPROJ"
sed "s/interval: 1s/interval: $INTERVAL/" "$HERE/compose-up/compose.yaml" >"$PROJ/compose.yaml"
sed "s/^\( *\)interval: 1s/\1interval: $INTERVAL\n\1start_period: 30s\n\1start_interval: $START_INTERVAL/" \
  "$HERE/compose-up/compose.yaml" >"$SPROJ/compose.yaml"
export ROOTFS=$BENCH_T/rootfs
bash "$REPO/scripts/rootfs.sh" "$ROOTFS" >/dev/null

# The image, built once by skiff (a skiff daemon is needed for the build anyway).
if [ -z "${SKIFF_BIN:-}" ]; then skiff_build; fi
export SKIFF_BIN
skiff_daemon_start
S() { "$SKIFF_BIN" --host "$SKIFF_HOST" "$@"; }
IMG=skiff-bench/busybox
cp -a "$REPO/examples/busybox" "$BENCH_T/ctx"
install -m 0755 /bin/busybox "$BENCH_T/ctx/busybox"
S build -q -t $IMG "$BENCH_T/ctx" >/dev/null 2>&1 || S build -t $IMG "$BENCH_T/ctx" >/dev/null
S save -o "$BENCH_T/img.tar" $IMG

if has docker; then
  # Compose makes a bridge network per project: addresses from the test range only.
  export DOCKERD_ARGS="--default-address-pool base=198.19.128.0/18,size=24"
  if docker_start; then
    export DOCKER_HOST=$DOCKER_SOCK COMPOSE_INTERACTIVE_NO_CLI=1
    /usr/bin/docker load -i "$BENCH_T/img.tar" >/dev/null
  else
    log "docker skipped"; ENGINES=${ENGINES/docker/}
  fi
fi
if has podman; then
  podman_setup
  cat >>"$CONTAINERS_CONF" <<CONF
[network]
default_subnet = "198.19.192.0/24"
default_subnet_pools = [{"base" = "198.19.193.0/24", "size" = 24}, {"base" = "198.19.194.0/23", "size" = 24}]
CONF
  export PODMAN_GLOBAL="$PODMAN_GLOBAL --runtime runc" # crun refuses this hybrid cgroup layout
  # shellcheck disable=SC2086
  podman $PODMAN_GLOBAL load -i "$BENCH_T/img.tar" >/dev/null 2>&1
fi

now_ms() { echo $(($(date +%s%N) / 1000000)); }

skiff_up_in() {
  S up -d "$1" >/dev/null 2>&1
  until [ "$(S status cu 2>/dev/null | grep -c '(healthy)')" -ge $N ]; do sleep 0.02; done
}
up_skiff() { skiff_up_in "$SPROJ"; }
down_skiff() { S down -v "$SPROJ" >/dev/null; }
up_skiff_same() { skiff_up_in "$PROJ"; }
down_skiff_same() { S down -v "$PROJ" >/dev/null; }

up_docker() {
  (cd "$PROJ" && docker-compose -p cu -f compose.yaml up -d >/dev/null 2>&1)
  until [ "$(/usr/bin/docker ps --filter label=com.docker.compose.project=cu \
             --format '{{.Status}}' | grep -c '(healthy)')" -ge $N ]; do sleep 0.02; done
}
down_docker() { (cd "$PROJ" && docker-compose -p cu -f compose.yaml down -v -t 1 >/dev/null 2>&1); }

P() { podman $PODMAN_GLOBAL "$@"; } # word-split on purpose
up_podman() {
  (cd "$PROJ" && podman-compose -p cu -f compose.yaml --podman-args "$PODMAN_GLOBAL" up -d >/dev/null 2>&1)
  local ids pending
  ids=$(P ps -q --filter label=io.podman.compose.project=cu)
  [ "$(wc -w <<<"$ids")" -ge $N ] || { log "podman: only $(wc -w <<<"$ids") containers"; return 1; }
  pending=$ids
  while [ -n "$pending" ]; do
    sleep "${INTERVAL%s}" # the timer podman would have set
    local next=""
    for id in $pending; do P healthcheck run "$id" >/dev/null 2>&1 || next+=" $id"; done
    pending=$next
  done
}
down_podman() { (cd "$PROJ" && podman-compose -p cu -f compose.yaml --podman-args "$PODMAN_GLOBAL" down -t 1 >/dev/null 2>&1); P rm -f -a -t 0 >/dev/null 2>&1 || true; }

declare -A times
log "engines: $ENGINES; $ROUNDS rounds of $N services, health interval $INTERVAL (skiff: start_interval $START_INTERVAL)"
echo "skiff $(git -C "$REPO" rev-parse --short HEAD), $(docker-compose version --short 2>/dev/null || true) docker-compose," \
  "podman-compose $(podman-compose version 2>/dev/null | awk '/podman-compose/ {print $NF; exit}'), kernel $(uname -r), $(nproc) cpus"
for r in $(seq "$ROUNDS"); do
  for e in $ENGINES; do
    t0=$(now_ms)
    if ! "up_$e"; then log "$e: up failed in round $r"; exit 1; fi
    dt=$(($(now_ms) - t0))
    times[$e]+="$dt "
    printf '  round %d %-10s %6d ms\n' "$r" "$e" "$dt"
    "down_$e"
  done
done

median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo
echo "| engine | median ms (up -> $N healthy) | runs (ms) |"
echo "|---|---|---|"
for e in $ENGINES; do echo "| $e | $(median "${times[$e]}") | ${times[$e]}|"; done
for base in skiff skiff_same; do
  has $base || continue
  s=$(median "${times[$base]}")
  for e in $ENGINES; do
    [[ "$e" == skiff* ]] && continue
    printf '%s/%s: %.1fx\n' "$e" "$base" "$(python3 -c "print($(median "${times[$e]}")/$s)")"
  done
done
