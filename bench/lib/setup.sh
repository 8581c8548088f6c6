# Setting up and tearing down the peers for bench/startup.sh (sourced; needs BENCH_T, REPO, HERE).
# Everything is created under $BENCH_T, every daemon is ended by the PID we recorded, and the
# hugetlb v1 mount is undone only if we made it.

log() { printf '== %s\n' "$*" >&2; }

# Parent cgroups docker and podman create and leave behind; removed at exit if they were not
# there before the run (rmdir only succeeds on empty groups, so nobody else's group can go).
PARENT_CGROUPS_BEFORE=$(ls -d /sys/fs/cgroup/*/docker /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/docker \
  /sys/fs/cgroup/libpod_parent 2>/dev/null || true)
remove_new_parent_cgroups() {
  local d
  for d in /sys/fs/cgroup/*/docker /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/docker /sys/fs/cgroup/libpod_parent; do
    [ -d "$d" ] || continue
    grep -qxF "$d" <<<"$PARENT_CGROUPS_BEFORE" && continue
    find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
}

install_peers() {
  local missing=() pkg bin
  for pair in crun:crun runc:runc podman:podman docker.io:dockerd hyperfine:hyperfine busybox-static:busybox; do
    pkg=${pair%%:*}; bin=${pair#*:}
    command -v "$bin" >/dev/null 2>&1 || [ -x "/bin/$bin" ] || missing+=("$pkg")
  done
  [ -x /usr/bin/docker ] || missing+=(docker.io)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# crun and runc refuse to start on this hybrid layout unless hugetlb is also mounted as v1.
HUGETLB_MOUNTED=0 HUGETLB_MKDIR=0
hugetlb_mount() {
  if ! awk '$2 == "/sys/fs/cgroup/hugetlb"' /proc/mounts | grep -q . \
     && [ -d /sys/fs/cgroup/unified ] && [ ! -e /sys/fs/cgroup/cgroup.controllers ]; then
    [ -d /sys/fs/cgroup/hugetlb ] || { mkdir -p /sys/fs/cgroup/hugetlb; HUGETLB_MKDIR=1; }
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb && HUGETLB_MOUNTED=1
    log "mounted hugetlb v1 (will unmount at exit)"
  fi
}

podman_setup() {
  mkdir -p "$BENCH_T/podman"/{root,run,tmp}
  cat > "$BENCH_T/podman/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
log_driver = "k8s-file"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  export CONTAINERS_CONF=$BENCH_T/podman/containers.conf
  export PODMAN_GLOBAL="--root $BENCH_T/podman/root --runroot $BENCH_T/podman/run --tmpdir $BENCH_T/podman/tmp"
  # podman may write into a --rootfs directory (mount points, /etc files): give it its own copy.
  export PODMAN_ROOTFS=$BENCH_T/rootfs-podman
  cp -a "$ROOTFS" "$PODMAN_ROOTFS"
}

wait_for() { # SECONDS CMD... : poll until CMD succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

DOCKER_UP=0
docker_start() {
  local d=$BENCH_T/d
  mkdir -p "$d"/{ctd-root,ctd-state,data,exec}
  cat > "$d/containerd.toml" <<CONF
version = 2
root = "$d/ctd-root"
state = "$d/ctd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$d/ctd.sock"
[ttrpc]
  address = "$d/ctd.sock.ttrpc"
CONF
  start-stop-daemon --start --background --make-pidfile --pidfile "$d/containerd.pid" \
    --output "$d/containerd.log" --exec /usr/bin/containerd -- --config "$d/containerd.toml"
  wait_for 20 test -S "$d/ctd.sock" || { log "containerd did not come up (see $d/containerd.log)"; return 1; }
  start-stop-daemon --start --background --make-pidfile --pidfile "$d/dockerd.pid" \
    --output "$d/dockerd.log" --exec /usr/sbin/dockerd -- \
    --data-root "$d/data" --exec-root "$d/exec" -H "unix://$d/docker.sock" --pidfile "$d/dockerd.own.pid" \
    --containerd "$d/ctd.sock" --storage-driver overlay2 --bridge none --iptables=false --ip-masq=false \
    ${DOCKERD_ARGS:-}
  export DOCKER_SOCK=unix://$d/docker.sock DOCKER_IMAGE=skiff-bench-busybox:latest
  wait_for 60 /usr/bin/docker -H "$DOCKER_SOCK" info || { log "dockerd did not come up (see $d/dockerd.log)"; return 1; }
  tar -C "$ROOTFS" -c . | /usr/bin/docker -H "$DOCKER_SOCK" import - "$DOCKER_IMAGE" >/dev/null
  DOCKER_UP=1
}

skiff_build() {
  log "building skiff (release)"
  # The same static release build the README's demo uses (scripts/build-release.sh).
  SKIFF_BIN=$("$REPO/scripts/build-release.sh" 2>/dev/null)
  export SKIFF_BIN
}

SKIFF_PID=
skiff_daemon_start() {
  mkdir -p "$BENCH_T/s"
  export SKIFF_ROOT=$BENCH_T/s/root SKIFF_HOST=unix://$BENCH_T/s/skiff.sock
  "$SKIFF_BIN" --host "$SKIFF_HOST" --root "$SKIFF_ROOT" daemon >"$BENCH_T/s/daemon.log" 2>&1 &
  SKIFF_PID=$!
  wait_for 20 "$SKIFF_BIN" --host "$SKIFF_HOST" ps -q || { log "skiff daemon did not come up"; return 1; }
}

stop_pid() { # PID [SECONDS]: TERM, wait, then KILL
  local pid=$1 n=$(( ${2:-10} * 10 ))
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
  kill -KILL "$pid" 2>/dev/null || true
}

pid_of_file() { [ -s "$1" ] && tr -dc 0-9 <"$1" || true; }

cleanup() {
  set +e
  log "cleaning up"
  if [ -n "${SKIFF_BIN:-}" ] && [ -n "$SKIFF_PID" ]; then
    "$HERE/lib/peer.sh" rm-all skiff
    local keeper; keeper=$(pid_of_file "$SKIFF_ROOT/keeper.pid")
    stop_pid "$SKIFF_PID"
    # The keeper outlives a daemon by design; it is ours (its pid file is under our root):
    # end it if it is still there and still a skiff process.
    # It ignores SIGTERM (it must outlive daemons), so after the containers are gone: SIGKILL.
    if [ -n "$keeper" ] && grep -qas "$SKIFF_ROOT" "/proc/$keeper/cmdline"; then kill -KILL "$keeper"; fi
  fi
  for rt in crun runc; do
    [ -d "$BENCH_T/state-$rt" ] && "$HERE/lib/peer.sh" rm-all "$rt"
  done
  [ -n "${PODMAN_GLOBAL:-}" ] && "$HERE/lib/peer.sh" rm-all podman 2>/dev/null
  if [ "$DOCKER_UP" = 1 ]; then "$HERE/lib/peer.sh" rm-all docker; fi
  stop_pid "$(pid_of_file "$BENCH_T/d/dockerd.pid")" 20
  stop_pid "$(pid_of_file "$BENCH_T/d/containerd.pid")" 10
  # Anything still mounted under our temp dir (overlays, shm, netns files), deepest first.
  awk -v t="$BENCH_T" 'index($2, t) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
  remove_new_parent_cgroups
  if [ "$HUGETLB_MOUNTED" = 1 ]; then
    umount /sys/fs/cgroup/hugetlb && [ "$HUGETLB_MKDIR" = 1 ] && rmdir /sys/fs/cgroup/hugetlb
  fi
  [ "${KEEP_TMP:-0}" = 1 ] || rm -rf --one-file-system "$BENCH_T"
}
