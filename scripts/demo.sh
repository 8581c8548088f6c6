#!/usr/bin/env bash
# skiff's main job, end to end: build skiff, start the daemon, build the
# examples/busybox image (FROM scratch, the host's static busybox), run containers
# from it and drive them through the main verbs. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "run as root (containers need namespaces and cgroups)" >&2; exit 1; }
scripts/deps.sh
SKIFF=$(scripts/build-release.sh)
DEMO=${DEMO_DIR:-/var/lib/skiff-demo}
ROOTFS="$DEMO/rootfs"
[ -x "$ROOTFS/bin/busybox" ] || scripts/rootfs.sh "$ROOTFS" >/dev/null
scripts/busybox-context.sh
IMG=skiff-demo/busybox
ROOT="$DEMO/state"
SOCK="unix://$DEMO/skiff.sock"
s() { "$SKIFF" --root "$ROOT" --host "$SOCK" "$@"; }
mkdir -p "$ROOT"
"$SKIFF" --root "$ROOT" --host "$SOCK" daemon >"$DEMO/daemon.log" 2>&1 &
DAEMON=$!
trap 's down -v examples/webapp >/dev/null 2>&1 || true; s rm -f demo-web demo-count >/dev/null 2>&1 || true; s volume rm demo-data >/dev/null 2>&1 || true; kill $DAEMON 2>/dev/null || true; wait $DAEMON 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -S "$DEMO/skiff.sock" ] && break; sleep 0.05; done

step() { printf '\n\033[1m$ skiff %s\033[0m\n' "$*"; }
if [ "${DEMO_PART:-all}" = all ]; then
step build -t $IMG examples/busybox; s build -t $IMG examples/busybox
step build -t $IMG examples/busybox "(again: every step CACHED)"; s build -t $IMG examples/busybox | grep -E 'CACHED|Successfully'
step images; s images
step run --rm $IMG sh -c 'echo hello from $(hostname), pid $$; grep -E "^(CapEff|NoNewPrivs|Seccomp)" /proc/self/status'
s run --rm $IMG sh -c 'echo hello from $(hostname), pid $$; grep -E "^(CapEff|NoNewPrivs|Seccomp)" /proc/self/status'
step run -d --name demo-web -m 32m --cpus 0.5 -p 127.0.0.1:18080:8080 --service web:8080 $IMG "(the image's CMD: busybox httpd on :8080)"
s run -d --name demo-web -m 32m --cpus 0.5 -p 127.0.0.1:18080:8080 --service web:8080 $IMG
step run -d --name demo-count --restart on-failure --rootfs "$ROOTFS" sh -c 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done'
s run -d --name demo-count --restart on-failure --rootfs "$ROOTFS" sh -c 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done'
sleep 1
step ps; s ps
step exec demo-web sh -c 'echo "<h1>served by $(hostname)</h1>" > index.html; wget -qO- http://127.0.0.1:8080/'
s exec demo-web sh -c 'echo "<h1>served by $(hostname)</h1>" > index.html; wget -qO- http://127.0.0.1:8080/'
step run --rm $IMG wget -qO- http://demo-web:8080/ "(another container, by name on the default bridge)"
s run --rm $IMG wget -qO- http://demo-web:8080/
printf '\n\033[1m$ busybox wget -qO- http://127.0.0.1:18080/  (from the host, through the published port)\033[0m\n'
busybox wget -qO- http://127.0.0.1:18080/
# The image's HEALTHCHECK runs every 5 s: web is registered once the first check passes.
for _ in $(seq 150); do s services | grep -q '^web ' && break; sleep 0.1; done
step services "(demo-web registered itself as a healthy instance of web)"; s services
step run --rm $IMG nslookup web.skiff "(the registry in DNS)"
s run --rm $IMG nslookup web.skiff | grep -A2 -i 'name:' || true
step run --rm -v demo-data:/data $IMG sh -c "'date > /data/stamp'"; s run --rm -v demo-data:/data $IMG sh -c 'date > /data/stamp'
step run --rm -v demo-data:/data $IMG cat /data/stamp "(a second container reads the volume)"
s run --rm -v demo-data:/data $IMG cat /data/stamp
step network ls; s network ls
step logs --tail 3 demo-count; s logs --tail 3 demo-count
step stats --no-stream; s stats --no-stream
step pause demo-count; s pause demo-count; s ps
step unpause demo-count; s unpause demo-count
step stop -t 2 demo-count; s stop -t 2 demo-count
step ps -a; s ps -a
step rm -f demo-web demo-count; s rm -f demo-web demo-count
step save -o "$DEMO/busybox.tar" $IMG; s save -o "$DEMO/busybox.tar" $IMG
step rmi $IMG; s rmi $IMG
step load -i "$DEMO/busybox.tar"; s load -i "$DEMO/busybox.tar"
step volume rm demo-data; s volume rm demo-data
fi
# The product: a whole topology from one file (examples/webapp/skiff.toml).
# shellcheck source=scripts/demo-webapp.sh
source scripts/demo-webapp.sh
echo; echo "demo done: state in $ROOT, daemon log in $DEMO/daemon.log"
