#!/usr/bin/env python3
"""Resident memory of a runtime's own processes, apart from the containers it runs.

usage: procmem.py LABEL [--pid PID[=NAME]]... [--cmdline-contains TEXT]... > JSON

Selected roots: every --pid, and every process whose command line contains one of the TEXTs.
Their descendants are walked; a descendant in another pid namespace than ours is a container
process (counted, not summed) and its own descendants are skipped. Everything else is a runtime
process: listed with VmRSS and Pss (from smaps_rollup) in KiB, under NAME if given (a process
exec'd from a memfd shows a file descriptor number as its comm), else its comm.
"""
import json
import os
import sys


def read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def status_field(pid: int, name: str) -> int:
    for line in read(f"/proc/{pid}/status").splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def pss(pid: int) -> int:
    for line in read(f"/proc/{pid}/smaps_rollup").splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def pidns(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return ""


def main() -> int:
    argv = sys.argv[1:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    label, rest = argv[0], argv[1:]
    pids, texts, names = set(), [], {}
    while rest:
        flag, value, rest = rest[0], rest[1], rest[2:]
        if flag == "--pid":
            pid, _, name = value.partition("=")
            pids.add(int(pid))
            if name:
                names[int(pid)] = name
        elif flag == "--cmdline-contains":
            texts.append(value)
        else:
            print(f"unknown flag {flag}", file=sys.stderr)
            return 2
    children: dict[int, list[int]] = {}
    cmdlines: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        stat = read(f"/proc/{pid}/stat")
        if not stat:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(pid)
        cmdlines[pid] = read(f"/proc/{pid}/cmdline").replace("\0", " ").strip()
    roots = {p for p in pids if p in cmdlines}
    roots |= {p for p, c in cmdlines.items() if any(t in c for t in texts) and p != os.getpid()}
    ours = pidns(os.getpid())
    runtime, containers, seen = [], 0, set()
    stack = sorted(roots)
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        if pidns(pid) != ours:
            containers += 1
            continue
        runtime.append({
            "pid": pid,
            "comm": names.get(pid) or read(f"/proc/{pid}/comm").strip(),
            "rss_kib": status_field(pid, "VmRSS"),
            "pss_kib": pss(pid),
        })
        stack.extend(children.get(pid, []))
    json.dump({"label": label, "runtime_processes": sorted(runtime, key=lambda r: r["pid"]),
               "container_processes": containers}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
