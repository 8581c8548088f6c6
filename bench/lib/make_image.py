#!/usr/bin/env python3
"""Writes a docker-archive of a ~100 MB, 4-layer image for the pull benchmark.

usage: make_image.py OUT.tar NAME:TAG ROOTFS

Layers: the busybox ROOTFS, /usr/lib/python3.11 (real, compressible files), /usr/share/perl, and
20 MB of seeded pseudo-random bytes (incompressible). Deterministic for a given host.
"""
import hashlib
import io
import json
import os
import random
import sys
import tarfile


def layer_of_dir(src: str, prefix: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        if os.path.isdir(src):
            t.add(src, arcname=prefix, recursive=True)
    return buf.getvalue()


def layer_of_noise(n: int) -> bytes:
    rng = random.Random(42)
    data = rng.randbytes(n)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo("noise.bin")
        info.size = n
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def main() -> None:
    out, name, rootfs = sys.argv[1], sys.argv[2], sys.argv[3]
    layers = [
        layer_of_dir(rootfs, "."),
        layer_of_dir("/usr/lib/python3.11", "usr/lib/python3.11"),
        layer_of_dir("/usr/share/perl", "usr/share/perl"),
        layer_of_noise(20 << 20),
    ]
    diff_ids = ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }).encode()
    with tarfile.open(out, mode="w") as t:
        def add(path: str, data: bytes) -> None:
            info = tarfile.TarInfo(path)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        cname = hashlib.sha256(config).hexdigest() + ".json"
        add(cname, config)
        names = []
        for l, d in zip(layers, diff_ids):
            n = d[7:] + "/layer.tar"
            add(n, l)
            names.append(n)
        add("manifest.json", json.dumps([{"Config": cname, "RepoTags": [name], "Layers": names}]).encode())
    total = sum(len(l) for l in layers)
    print(f"{out}: {len(layers)} layers, {total / 1e6:.1f} MB uncompressed", file=sys.stderr)


if __name__ == "__main__":
    main()
