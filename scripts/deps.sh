#!/usr/bin/env bash
# Installs the system packages skiff's build, demo and tests need (Debian 12):
# busybox for root filesystems, etcd for the store tests, protoc for etcd-client,
# podman for the image interop tests, runc to check skiff's config.json runs under it,
# docker-registry + apache2-utils (htpasswd) + openssl for the registry client tests,
# nftables (`nft`) for networking (skiff feeds it JSON), hyperfine for bench/,
# docker-compose (1.29) for the Compose conformance tests (`docker-compose config`).
# Idempotent: installs only what is missing. Needs root (or sudo).
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
pkgs=(
  busybox-static etcd-server etcd-client protobuf-compiler libprotobuf-dev iproute2 gcc
  podman runc
  docker-registry apache2-utils openssl
  nftables hyperfine docker-compose
)
for pkg in "${pkgs[@]}"; do
  have "$pkg" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust (rustup) first" >&2
  exit 1
fi
