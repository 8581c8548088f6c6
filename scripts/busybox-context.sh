#!/usr/bin/env bash
# Puts the host's static busybox into examples/busybox/ (the build context of its
# Containerfile). Debian: apt-get install busybox-static.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
src="${BUSYBOX:-/bin/busybox}"
if ! file -L "$src" 2>/dev/null | grep -q 'statically linked'; then
    # `file` may be missing; ldd says "not a dynamic executable" for static binaries.
    if ldd "$src" 2>&1 | grep -qv 'not a dynamic executable'; then
        echo "busybox-context: $src is not a static binary (apt-get install busybox-static)" >&2
        exit 1
    fi
fi
install -m 0755 "$src" "$here/examples/busybox/busybox"
