"""Summarises bench/proxy.sh raw lines into medians and ratios against HAProxy.

Input lines: `<target> thr|lat <requests> <cpu_us_per_req> <rps> <mean_us> <p50_us> <errors>`.
"""
import statistics
import sys
from collections import defaultdict

rows = defaultdict(lambda: defaultdict(list))
for line in open(sys.argv[1]):
    t, kind, req, cpu, rps, mean, p50, err = line.split()
    rows[t][kind].append((float(cpu), float(rps), float(mean), float(p50), int(err)))


def med(t, kind, i):
    vals = [r[i] for r in rows[t][kind]]
    return statistics.median(vals) if vals else float("nan")


targets = list(rows)
direct_p50 = med("direct", "lat", 3) if "direct" in rows else 0.0
direct_mean = med("direct", "lat", 2) if "direct" in rows else 0.0
print(f"{'target':<12} {'cpu us/req':>10} {'req/s':>8} {'p50 @1c us':>10} {'added p50':>9} {'added mean':>10} {'errors':>6}")
for t in targets:
    errs = sum(r[4] for k in rows[t] for r in rows[t][k])
    cpu = med(t, "thr", 0)
    p50 = med(t, "lat", 3)
    added = p50 - direct_p50 if t != "direct" else 0.0
    added_mean = med(t, "lat", 2) - direct_mean if t != "direct" else 0.0
    print(f"{t:<12} {cpu:>10.2f} {med(t, 'thr', 1):>8.0f} {p50:>10.1f} {added:>9.1f} {added_mean:>10.1f} {errs:>6}")

print()
for base in ("haproxy", "haproxy-tcp", "nginx"):
    if base not in rows:
        continue
    for t in [x for x in targets if x.startswith("skiff")]:
        if (base == "haproxy-tcp") != (t == "skiff-tcp"):
            continue
        cpu = med(t, "thr", 0) / med(base, "thr", 0)
        a = med(t, "lat", 3) - direct_p50
        b = med(base, "lat", 3) - direct_p50
        lat = a / b if b > 0 else float("nan")
        print(f"{t}/{base}: cpu per request {cpu:.2f}x (target <= 0.8 vs haproxy), added p50 latency {lat:.2f}x (target <= 1.0)")
