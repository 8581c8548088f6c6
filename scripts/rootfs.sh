#!/usr/bin/env bash
# Builds a minimal busybox root filesystem from Debian's static busybox.
# usage: scripts/rootfs.sh DIR
set -euo pipefail
dir=${1:?usage: rootfs.sh DIR}
bb=/bin/busybox
[ -x "$bb" ] || { echo "static busybox missing: apt-get install busybox-static" >&2; exit 1; }
mkdir -p "$dir"/{bin,etc,proc,sys,dev,tmp,root,var/www,usr/bin,usr/sbin,sbin}
cp -f "$bb" "$dir/bin/busybox"
for applet in $("$bb" --list); do
  [ -e "$dir/bin/$applet" ] || ln -s busybox "$dir/bin/$applet"
done
chmod 1777 "$dir/tmp"
cat > "$dir/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
www:x:33:33:www:/var/www:/bin/sh
P
cat > "$dir/etc/group" <<'G'
root:x:0:
www:x:33:
nogroup:x:65534:
G
echo "$dir"
