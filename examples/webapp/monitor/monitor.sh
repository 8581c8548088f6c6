#!/bin/sh
# Polls http://$TARGET/ every $EVERY seconds and logs the answer (which web
# instance served it) or the failure. Healthy while the last poll succeeded.
target=${TARGET:-web:8080}
every=${EVERY:-2}
echo "monitor $(hostname) watching http://$target/ every ${every}s"
while :; do
    # (busybox 1.35 static wget crashes with -T: timeout(1) bounds the poll)
    if body=$(timeout 3 wget -q -O - "http://$target/" 2>&1); then
        echo "$(date +%T) ok   $body"
        touch /tmp/healthy
    else
        echo "$(date +%T) FAIL $target: $body"
        rm -f /tmp/healthy
    fi
    sleep "$every"
done
