#!/usr/bin/env python3
"""Summarise one benchmark run: medians, ratios against the targets, memory.

usage: report.py OUTDIR   (reads the JSON files startup.sh wrote there; prints markdown)

Hyperfine files: startup-*.json (rounds of one `run --rm` of /bin/true per peer), parallel-*.json (N
containers started at once), breakdown.json (pieces of skiff's start). Memory: mem-*.json from
procmem.py. Times of files of one kind are pooled per command (the interleaved rounds). Ratios are of
medians (and, for the single start, of minimums: the least disturbed run on a shared VM); a
missing peer shows as "-".
"""
import glob
import json
import os
import statistics
import sys


def load_hyperfine(pattern: str) -> dict[str, dict]:
    """Times pooled per command name over every matching file (interleaved rounds)."""
    pooled: dict[str, list[float]] = {}
    for path in sorted(glob.glob(pattern)):
        with open(path) as f:
            for r in json.load(f)["results"]:
                pooled.setdefault(r["command"], []).extend(r["times"])
    out = {}
    for name, times in pooled.items():
        times.sort()
        out[name] = {
            "median": statistics.median(times),
            "min": times[0],
            "p90": times[int(0.9 * (len(times) - 1))],
            "runs": len(times),
        }
    return out


def ms(s: float) -> str:
    return f"{s * 1000:.1f}"


def ratio(res: dict, a: str, b: str, key: str = "median") -> float | None:
    if a in res and b in res and res[b][key] > 0:
        return res[a][key] / res[b][key]
    return None


def fmt_ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}"


def timing_table(title: str, res: dict, base: str) -> list[str]:
    lines = [f"### {title}", "", f"| command | median ms | min ms | p90 ms | runs | / {base} |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, r in res.items():
        lines.append(f"| {name} | {ms(r['median'])} | {ms(r['min'])} | {ms(r['p90'])} | "
                     f"{r['runs']} | {fmt_ratio(ratio(res, name, base))} |")
    return lines + [""]


def mem_table(outdir: str) -> list[str]:
    lines = ["### Resident memory of the runtime's own processes", "",
             "| snapshot | containers | runtime processes | by name: count x (RSS sum MiB / PSS sum MiB) |",
             "|---|---:|---:|---|"]
    for path in sorted(glob.glob(os.path.join(outdir, "mem-*.json"))):
        with open(path) as f:
            m = json.load(f)
        groups: dict[str, list[dict]] = {}
        for p in m["runtime_processes"]:
            groups.setdefault(p["comm"], []).append(p)
        parts = []
        for comm, ps in sorted(groups.items()):
            rss = sum(p["rss_kib"] for p in ps) / 1024
            pss = sum(p["pss_kib"] for p in ps) / 1024
            parts.append(f"{comm}: {len(ps)} x ({rss:.1f} / {pss:.1f})")
        lines.append(f"| {m['label']} | {m['container_processes']} | "
                     f"{len(m['runtime_processes'])} | {'; '.join(parts)} |")
    return lines + [""]


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    outdir = sys.argv[1]
    out: list[str] = []
    start = load_hyperfine(os.path.join(outdir, "startup-*.json"))
    if start:
        out += timing_table("`run --rm` of /bin/true, no network", start, "skiff")
        out += ["| ratio | of medians | of minimums | target (medians) |", "|---|---:|---:|---|"]
        for a, b, target in (("skiff", "crun", "<= 0.5"), ("skiff", "runc", "-"),
                             ("podman", "skiff", "-"), ("docker", "skiff", ">= 15")):
            out.append(f"| {a} / {b} | {fmt_ratio(ratio(start, a, b))} | "
                       f"{fmt_ratio(ratio(start, a, b, 'min'))} | {target} |")
        out.append("")
    par = load_hyperfine(os.path.join(outdir, "parallel-*.json"))
    if par:
        out += timing_table("N containers started with -d at once, until all are running", par, "skiff")
        out += ["target: skiff <= 500 ms for 50", ""]
    parts = load_hyperfine(os.path.join(outdir, "breakdown.json"))
    if parts:
        out += timing_table("Pieces of a start (where skiff's time goes)", parts, "/bin/true")
    out += mem_table(outdir)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
