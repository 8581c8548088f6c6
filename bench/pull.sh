#!/usr/bin/env bash
# Pull benchmark: `skiff pull` against `podman pull --tls-verify=false` (and docker, if PEERS has
# it) of the same ~100 MB, 4-layer image from a local docker-registry on 127.0.0.1, each run into a
# fresh store. Prints medians and the ratio; never asserts a timing. Run as root:
#   bench/pull.sh
# Environment: RUNS (default 10), PEERS (default "skiff podman"; add docker), OUT (bench/results),
# KEEP_TMP=1 keeps the temp dir.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
RUNS=${RUNS:-10}
PEERS=${PEERS:-skiff podman}
OUT=${OUT:-$HERE/results}
[ "$(id -u)" = 0 ] || { echo "pull.sh: needs root" >&2; exit 1; }
BENCH_T=$(mktemp -d /tmp/sp.XXXXXX)
export BENCH_T
# shellcheck source=lib/setup.sh
source "$HERE/lib/setup.sh"
REG_PID=
bench_cleanup() {
  [ -n "$REG_PID" ] && stop_pid "$REG_PID"
  cleanup
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
has() { [[ " $PEERS " == *" $1 "* ]]; }

install_peers
command -v docker-registry >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null
}
mkdir -p "$OUT"

# ---- the registry and the image -----------------------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$BENCH_T/registry.yml" <<YML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $BENCH_T/registry
http:
  addr: 127.0.0.1:$PORT
YML
docker-registry serve "$BENCH_T/registry.yml" >"$BENCH_T/registry.log" 2>&1 &
REG_PID=$!
wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" || { log "registry did not come up"; exit 1; }
REF=127.0.0.1:$PORT/bench/pull:1
export ROOTFS=$BENCH_T/rootfs
bash "$REPO/scripts/rootfs.sh" "$ROOTFS" >/dev/null
python3 "$HERE/lib/make_image.py" "$BENCH_T/image.tar" "$REF" "$ROOTFS"
podman_setup
# podman pushes the image (gzip layers, as any registry image has them): neutral ground.
# shellcheck disable=SC2086
podman $PODMAN_GLOBAL load -q -i "$BENCH_T/image.tar" >/dev/null
# shellcheck disable=SC2086
podman $PODMAN_GLOBAL push -q --tls-verify=false "$REF"
# shellcheck disable=SC2086
podman $PODMAN_GLOBAL rmi -a -f >/dev/null
du -sh "$BENCH_T/registry" | sed 's/^/registry storage: /' >&2

# ---- the peers ----------------------------------------------------------------------------------
cmds=()
if has skiff; then
  skiff_build && skiff_daemon_start
  cmds+=(--prepare "rm -rf $SKIFF_ROOT/images"
    -n skiff "$SKIFF_BIN --host $SKIFF_HOST --root $SKIFF_ROOT pull -q $REF")
fi
if has podman; then
  # shellcheck disable=SC2086
  cmds+=(--prepare "podman $PODMAN_GLOBAL rmi -a -f"
    -n podman "podman $PODMAN_GLOBAL pull -q --tls-verify=false $REF")
fi
if has docker; then
  if docker_start; then
    cmds+=(--prepare "/usr/bin/docker -H $DOCKER_SOCK rmi -f $REF"
      -n docker "/usr/bin/docker -H $DOCKER_SOCK pull -q $REF")
  else
    log "docker unavailable: skipping it"
  fi
fi
{
  echo "kernel $(uname -r), $(nproc) cpus, $(date -u +%FT%TZ)"
  has skiff && echo "skiff $(git -C "$REPO" rev-parse --short HEAD)"
  has podman && podman --version
  docker-registry --version
  hyperfine --version
} | tee "$OUT/pull-versions.txt"
hyperfine -N --runs "$RUNS" --warmup 1 "${cmds[@]}" --export-json "$OUT/pull.json" >&2

python3 - "$OUT/pull.json" <<'PY'
import json, statistics, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
med = {k: statistics.median(v["times"]) * 1000 for k, v in res.items()}
print("| peer | median ms | min ms | peer/skiff |")
print("|---|---:|---:|---:|")
for k, v in res.items():
    ratio = f"{med[k] / med['skiff']:.2f}" if "skiff" in med else "-"
    print(f"| {k} | {med[k]:.0f} | {min(v['times']) * 1000:.0f} | {ratio} |")
PY
