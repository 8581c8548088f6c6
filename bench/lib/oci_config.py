#!/usr/bin/env python3
"""Rewrite a `crun spec` config.json for a benchmark bundle.

usage: oci_config.py CONFIG ROOTFS ARG...
Sets process.args, process.terminal=false and an absolute root.path; keeps everything else
(namespaces incl. an empty network namespace, masked paths, read-only root) as crun spec made it.
"""
import json
import sys


def main() -> int:
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    path, rootfs, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(path) as f:
        cfg = json.load(f)
    cfg["process"]["args"] = args
    cfg["process"]["terminal"] = False
    cfg["root"] = {"path": rootfs, "readonly": True}
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
