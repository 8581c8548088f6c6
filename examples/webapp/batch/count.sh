#!/bin/sh
# Counts from the value in /shared/count up to $LIMIT, one step every $STEP
# seconds, saving each step atomically (write + rename) so a restart continues
# where the last run stopped. Exits 0 when done.
f=/shared/count
n=$(cat "$f" 2>/dev/null || echo 0)
limit=${LIMIT:-100000}
step=${STEP:-0.1}
echo "batch $(hostname) resuming at $n, counting to $limit"
while [ "$n" -lt "$limit" ]; do
    n=$((n + 1))
    echo "$n" > "$f.tmp" && mv "$f.tmp" "$f"
    [ $((n % 100)) -eq 0 ] && echo "counted to $n"
    sleep "$step"
done
echo "done: counted to $n"
