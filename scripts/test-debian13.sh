#!/usr/bin/env bash
# The LibTorch 2.x leg: builds ptune and runs every test suite on Debian 13 (LibTorch 2.6, Qt 6.8) inside a
# Debian 13 root made with debootstrap, from the host's Debian 12 (or any Debian with debootstrap).
#
# Usage (as root): bash scripts/test-debian13.sh [ROOT]
#   ROOT   where the Debian 13 root lives (default $PTUNE_DEBIAN13_ROOT or /var/cache/ptune/debian13). It is made
#          on the first run (debootstrap --variant=minbase trixie) and kept: a second run reuses it, its packages
#          and its build folder (/build inside the root), so it installs nothing and needs no network.
#   PTUNE_DEBIAN13_FRESH=1   remove the root first and make it anew.
#
# Inside the root it runs the README's test command, `bash scripts/test.sh /build`, on the source tree mounted
# read-only at /src: the package list, the build and CTest are exactly what a Debian 13 user runs, out of tree.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${1:-${PTUNE_DEBIAN13_ROOT:-/var/cache/ptune/debian13}}
SUITE=trixie

if [ "$(id -u)" -ne 0 ]; then
  echo "test-debian13: needs root (debootstrap, mount, chroot); run it with sudo" >&2
  exit 2
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "test-debian13: installing debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends debootstrap
fi

if [ "${PTUNE_DEBIAN13_FRESH:-0}" = 1 ] && [ -d "$ROOT" ]; then
  echo "test-debian13: removing $ROOT"
  rm -rf --one-file-system "$ROOT"
fi

MARK="$ROOT/.ptune-debian13-root"
if [ ! -f "$MARK" ]; then
  echo "test-debian13: making a Debian 13 root in $ROOT (debootstrap --variant=minbase $SUITE)"
  rm -rf --one-file-system "$ROOT"
  mkdir -p "$ROOT"
  debootstrap --variant=minbase "$SUITE" "$ROOT"
  touch "$MARK"
fi

# Mounts for the tests (proc, dev, sys, a private /tmp) and the source tree, read-only; undone on any exit.
mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -R "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT
mnt() { # mnt TARGET mount-args...
  local target=$1; shift
  mkdir -p "$target"
  mount "$@" "$target"
  mounted+=("$target")
}
mnt "$ROOT/proc" -t proc proc
mnt "$ROOT/sys" -t sysfs sysfs
mnt "$ROOT/dev" --rbind /dev
mount --make-rslave "$ROOT/dev"
mnt "$ROOT/tmp" -t tmpfs tmpfs
mnt "$ROOT/src" --bind "$SRC"
mount -o remount,bind,ro "$ROOT/src"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true

echo "test-debian13: $(cat "$ROOT/etc/debian_version") root at $ROOT, source $SRC (read-only at /src)"
start=$(date +%s)
chroot "$ROOT" /usr/bin/env -i \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
  CI="${CI:-}" \
  bash -c 'cd /src && bash scripts/test.sh /build'
echo "test-debian13: passed in $(( $(date +%s) - start )) s"
