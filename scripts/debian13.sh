#!/usr/bin/env bash
# Runs a command in a Debian 13 root (LibTorch 2.6, Qt 6.8) made with debootstrap, from the host's Debian 12 (or
# any Debian with debootstrap), with the source tree mounted read-only at /src and /src as the working folder.
#
# Usage (as root): bash scripts/debian13.sh COMMAND...     e.g.  bash scripts/debian13.sh bash scripts/test.sh /build
#   PTUNE_DEBIAN13_ROOT   where the root lives (default /var/cache/ptune/debian13). It is made on the first run
#                         (debootstrap --variant=minbase trixie) and kept: later runs reuse it, the packages
#                         installed in it and its build folders, so they install nothing and need no network.
#   PTUNE_DEBIAN13_FRESH=1   remove the root first and make it anew.
# The command sees proc, sys, dev and a private /tmp; PTUNE_* and CI from the caller's environment pass through.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${PTUNE_DEBIAN13_ROOT:-/var/cache/ptune/debian13}
SUITE=trixie
[ $# -gt 0 ] || { echo "usage: bash scripts/debian13.sh COMMAND..." >&2; exit 2; }

if [ "$(id -u)" -ne 0 ]; then
  echo "debian13: needs root (debootstrap, mount, chroot); run it with sudo" >&2
  exit 2
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "debian13: installing debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends debootstrap
fi

if [ "${PTUNE_DEBIAN13_FRESH:-0}" = 1 ] && [ -d "$ROOT" ]; then
  echo "debian13: removing $ROOT"
  rm -rf --one-file-system "$ROOT"
fi

MARK="$ROOT/.ptune-debian13-root"
if [ ! -f "$MARK" ]; then
  echo "debian13: making a Debian 13 root in $ROOT (debootstrap --variant=minbase $SUITE)"
  rm -rf --one-file-system "$ROOT"
  mkdir -p "$ROOT"
  debootstrap --variant=minbase "$SUITE" "$ROOT"
  touch "$MARK"
fi

# Mounts for the command (proc, sys, dev, a private /tmp) and the source tree, read-only; undone on any exit.
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

pass=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "CI=${CI:-}")
while IFS='=' read -r name value; do
  case "$name" in PTUNE_DEBIAN13_*) ;; PTUNE_*|OUT) pass+=("$name=$value") ;; esac
done < <(env)
echo "debian13: Debian $(cat "$ROOT/etc/debian_version") at $ROOT, source $SRC (read-only at /src): $*"
chroot "$ROOT" /usr/bin/env -i "${pass[@]}" bash -c 'cd /src && exec "$@"' debian13 "$@"
