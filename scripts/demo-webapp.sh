# The last part of scripts/demo.sh (sourced; it needs s, step and IMG from there):
# examples/webapp up with `skiff up -d`, where to point curl, `skiff status`,
# curl through the load balancer until all three web instances have answered,
# the monitors' and the batch job's logs, then `skiff down`.
APP=examples/webapp
LB=127.0.0.1:18480 # examples/webapp/skiff.toml: [services.web] lb.listen

# The webapp images build FROM the busybox image the first part built.
s image inspect "$IMG" >/dev/null 2>&1 || s build -t "$IMG" examples/busybox >/dev/null

step up -d $APP "(builds web, monitor and count FROM $IMG, returns once all is healthy)"
s up -d $APP
printf '\n\033[1mwebapp is up: point curl at http://%s/  (and http://%s/cgi-bin/count)\033[0m\n' "$LB" "$LB"
step status webapp "(the job is named in skiff.toml)"; s status webapp
step lb ls "(the lb section runs as one of skiff's load balancers)"; s lb ls

# One line per answer: "hello from webapp: web instance NAME".
answers=$DEMO/webapp-answers
: >"$answers"
printf '\n\033[1m$ for i in $(seq 12); do curl -s http://%s/; done\033[0m\n' "$LB"
for _ in $(seq 12); do curl -s -m 2 "http://$LB/" | tee -a "$answers"; done
names=$(sed -n 's/.*web instance //p' "$answers" | sort -u)
printf '\n\033[1m%s distinct web instances answered:\033[0m %s\n' "$(grep -c . <<<"$names")" "$(echo $names)"
[ "$(grep -c . <<<"$names")" -ge 3 ] || { echo "expected all 3 web instances to answer" >&2; exit 1; }
curl -s -m 2 "http://$LB/cgi-bin/count"

step logs --tail 3 monitor "(one monitor beside each web)"; s logs --tail 3 monitor
step logs --tail 2 count "(the batch job, counting into the shared volume)"; s logs --tail 2 count
step down -v $APP; s down -v $APP
