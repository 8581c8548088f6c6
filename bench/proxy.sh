#!/usr/bin/env bash
# Side-by-side HTTP/TCP proxy benchmark on loopback: the same backend reached directly, through the
# skiff lb example (HTTP and TCP mode, 1-thread and 2-worker runtimes), through HAProxy (http and tcp
# mode, nbthread 1) and through nginx proxy_pass (1 process, upstream keep-alive). Load from wrk.
# Prints, per target: CPU microseconds of the proxy process per request (utime+stime from
# /proc/PID/stat over the run / requests), throughput, and latency at 1 connection (added over
# direct). Ratios against HAProxy. Asserts nothing about time. Needs root only to apt-get install.
#   bench/proxy.sh
# Environment: DUR (seconds per wrk run; 8), CONNS (connections of the throughput run; 32),
# ROUNDS (interleaved rounds, medians reported; 3), BACKEND (nginx|rust; nginx),
# TARGETS (default "direct skiff skiff-2w skiff-tcp haproxy haproxy-tcp nginx"),
# OUT (result dir; bench/results), ROUTE_ROUNDS (update-to-first-request rounds; 50, 0 skips),
# KEEP_TMP=1 keeps the temp dir.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
DUR=${DUR:-8} CONNS=${CONNS:-32} ROUNDS=${ROUNDS:-3} BACKEND=${BACKEND:-nginx}
TARGETS=${TARGETS:-direct skiff skiff-2w skiff-tcp haproxy haproxy-tcp nginx}
OUT=${OUT:-$HERE/results}
log() { echo "proxy.sh: $*" >&2; }

need=()
for cmd in wrk:wrk haproxy:haproxy nginx:nginx-light; do
  command -v "${cmd%%:*}" >/dev/null 2>&1 || need+=("${cmd#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)

log "building the lb and backend examples (release)"
(cd "$REPO" && cargo build --release --locked -p skiff-proxy --examples >&2)
EX=${CARGO_TARGET_DIR:-$REPO/target}/release/examples

T=$(mktemp -d /tmp/pb.XXXXXX)
chmod 755 "$T"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ "${KEEP_TMP:-0}" = 1 ] && log "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Ports: a free block in the ephemeral-free range, chosen per run.
BASE=$((20000 + RANDOM % 20000))
P_BE=$BASE P_SKIFF=$((BASE + 1)) P_SKIFF2=$((BASE + 2)) P_SKIFFT=$((BASE + 3))
P_HAP=$((BASE + 4)) P_HAPT=$((BASE + 5)) P_NGX=$((BASE + 6))
mkdir -p "$T/www" "$OUT"
head -c 64 /dev/zero | tr '\0' 'x' > "$T/www/index.html"   # a 64-byte static file

nginx_conf() { # name body
  cat > "$T/$1.conf" <<NGX
daemon off; master_process off; worker_processes 1; pid $T/$1.pid; error_log $T/$1.err warn;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 100000000; keepalive_timeout 120s;
  client_body_temp_path $T/$1-cb; proxy_temp_path $T/$1-pt; fastcgi_temp_path $T/$1-fc;
  uwsgi_temp_path $T/$1-uw; scgi_temp_path $T/$1-sc;
  $2
}
NGX
}
start() { # name cmd...
  local name=$1; shift
  "$@" >"$T/$name.log" 2>&1 &
  PIDS+=($!)
  eval "PID_${name//-/_}=$!"
}
wait_port() {
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  log "port $1 did not open"; return 1
}

if [ "$BACKEND" = rust ]; then
  start backend "$EX/backend" "127.0.0.1:$P_BE"
else
  nginx_conf backend "server { listen 127.0.0.1:$P_BE; root $T/www; location / { } }"
  start backend "$NGINX" -c "$T/backend.conf" -p "$T"
fi
wait_port $P_BE
BE=127.0.0.1:$P_BE

has() { [[ " $TARGETS " == *" $1 "* ]]; }
has skiff && start skiff "$EX/lb" --listen 127.0.0.1:$P_SKIFF --mode http --backend $BE --threads 1
has skiff-2w && start skiff_2w "$EX/lb" --listen 127.0.0.1:$P_SKIFF2 --mode http --backend $BE --threads 2
has skiff-tcp && start skiff_tcp "$EX/lb" --listen 127.0.0.1:$P_SKIFFT --mode tcp --backend $BE --threads 1
if has haproxy || has haproxy-tcp; then
  cat > "$T/haproxy.cfg" <<HAP
global
  nbthread 1
  maxconn 4000
defaults
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend fe_http
  mode http
  bind 127.0.0.1:$P_HAP
  default_backend be_http
backend be_http
  mode http
  http-reuse always
  server s1 $BE
listen tcp_mode
  mode tcp
  bind 127.0.0.1:$P_HAPT
  server s1 $BE
HAP
  start haproxy "$HAPROXY" -db -f "$T/haproxy.cfg"
fi
if has nginx; then
  nginx_conf nginxproxy "upstream be { server $BE; keepalive 64; }
  server { listen 127.0.0.1:$P_NGX; location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
  start nginxproxy "$NGINX" -c "$T/nginxproxy.conf" -p "$T"
fi

port_of() { case $1 in direct) echo $P_BE ;; skiff) echo $P_SKIFF ;; skiff-2w) echo $P_SKIFF2 ;;
  skiff-tcp) echo $P_SKIFFT ;; haproxy) echo $P_HAP ;; haproxy-tcp) echo $P_HAPT ;; nginx) echo $P_NGX ;; esac; }
pid_of() { case $1 in direct) echo "$PID_backend" ;; skiff) echo "$PID_skiff" ;; skiff-2w) echo "$PID_skiff_2w" ;;
  skiff-tcp) echo "$PID_skiff_tcp" ;; haproxy|haproxy-tcp) echo "$PID_haproxy" ;; nginx) echo "$PID_nginxproxy" ;; esac; }
for t in $TARGETS; do wait_port "$(port_of "$t")"; done
CLK=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# one wrk run: prints "requests cpu_us_per_req rps mean_us p50_us errors"
run() { # target conns
  local t=$1 c=$2 pid port before after line
  pid=$(pid_of "$t"); port=$(port_of "$t")
  wrk -t1 -c1 -d1s "http://127.0.0.1:$port/index.html" >/dev/null 2>&1 || true   # warm the pools
  before=$(ticks "$pid")
  line=$(wrk -t1 -c"$c" -d"${DUR}s" -s "$HERE/lib/wrk_report.lua" "http://127.0.0.1:$port/index.html" | grep '^RESULT')
  after=$(ticks "$pid")
  python3 - "$line" "$before" "$after" "$CLK" "$DUR" <<'PY'
import sys
kv = dict(p.split("=") for p in sys.argv[1].split()[1:])
req = int(kv["requests"]); dt = (int(sys.argv[3]) - int(sys.argv[2])) * 1e6 / int(sys.argv[4])
print(req, f"{dt / max(req, 1):.2f}", f"{req / float(sys.argv[5]):.0f}", kv["mean_us"], kv["p50_us"], int(kv["errors"]) + int(kv["non2xx"]))
PY
}

: > "$T/results"
for r in $(seq 1 "$ROUNDS"); do
  for t in $TARGETS; do
    log "round $r: $t"
    echo "$t thr $(run "$t" "$CONNS")" >> "$T/results"
    echo "$t lat $(run "$t" 1)" >> "$T/results"
  done
done
cp "$T/results" "$OUT/proxy-raw.txt"
{
  echo "proxy bench: $(uname -r), $(nproc) cpus, $(date -u +%FT%TZ), skiff $(git -C "$REPO" rev-parse --short HEAD)"
  echo "$($HAPROXY -v | head -1 | cut -d' ' -f1-3); $($NGINX -v 2>&1); $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
  echo "backend: $BACKEND static 64-byte file; wrk -t1 -c$CONNS (throughput) and -c1 (latency), ${DUR}s x $ROUNDS rounds, medians"
} | tee "$OUT/proxy-versions.txt"
python3 "$HERE/lib/proxy_report.py" "$T/results" | tee "$OUT/proxy.txt"
# The proxy's share of "a new instance gets traffic": Add under load -> its first request.
if [ "${ROUTE_ROUNDS:-50}" -gt 0 ]; then
  "$EX/route_latency" --rounds "${ROUTE_ROUNDS:-50}" --clients 16 | tee -a "$OUT/proxy.txt"
fi
