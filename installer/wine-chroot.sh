#!/usr/bin/env bash
# Makes (or reuses) the Debian 13 chroot the Windows smoke test runs wine 10
# in, and prints its path. Debian 12's wine 8.0 cannot run Go >= 1.24
# programs (the runtime needs ProcessPrng); trixie's wine 10.0 can.
#
#   bash installer/wine-chroot.sh        -> /var/cache/certdesk/wine-<hash>
#
# Keyed by a hash of what goes into it: a changed package list makes a new
# chroot, an unchanged one is reused as it is. Built in a temporary
# directory and renamed when complete, so an interrupted build is never
# taken for a finished one. Needs root (debootstrap, chroot, mount).
set -euo pipefail
cd "$(dirname "$0")/.."

suite=trixie
# wine32 is there for the installer: NSIS makes a 32-bit program. It must
# be installed before a prefix is first booted (see BUILD-NOTES). The window
# needs OpenGL: libgl1 + libglx-mesa0 + the DRI drivers (llvmpipe) drawing
# over the host's Xvfb; without them GLFW fails with "WGL: Failed to set
# pixel format". locales gives wine a zh_CN.UTF-8 to map to a Chinese
# Windows locale; without it the window comes up in English.
pkgs=(wine wine64 wine32:i386 libgl1 libglx-mesa0 libgl1-mesa-dri locales)
# The mirror apt already uses on this machine.
mirror=$(awk '/^URIs:/ && /debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
# The last item changes whenever the steps below change.
key=$(printf '%s\n' "$suite" "${pkgs[*]}" "locale zh_CN.UTF-8" | sha256sum | cut -c1-12)
root=${CERTDESK_WINE_ROOT:-/var/cache/certdesk/wine-$key}

if [ -e "$root/.complete" ]; then
  echo "$root"
  exit 0
fi

log() { printf 'wine-chroot: %s\n' "$*" >&2; }
if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >&2
fi

tmp=$root.partial
mounted=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
rm -rf "$tmp"
mkdir -p "$(dirname "$root")"
start=$(date +%s)
log "debootstrap $suite from $mirror (about 3 minutes)"
debootstrap --variant=minbase "$suite" "$tmp" "$mirror" >"$tmp.log" 2>&1 || { tail -30 "$tmp.log" >&2; exit 1; }
for m in proc sys dev dev/pts; do
  mkdir -p "$tmp/$m"
  case $m in
    proc) mount -t proc proc "$tmp/proc" ;;
    sys) mount -t sysfs sys "$tmp/sys" ;;
    *) mount --bind "/$m" "$tmp/$m" ;;
  esac
  mounted+=("$tmp/$m")
done
cp /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
log "installing ${pkgs[*]} (about a minute)"
in_root() { chroot "$tmp" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DEBIAN_FRONTEND=noninteractive "$@"; }
{
  in_root dpkg --add-architecture i386
  in_root apt-get update -q
  in_root apt-get install -y -q --no-install-recommends "${pkgs[@]}"
  in_root apt-get clean
  echo "zh_CN.UTF-8 UTF-8" >"$tmp/etc/locale.gen"
  in_root locale-gen
} >>"$tmp.log" 2>&1 || { tail -30 "$tmp.log" >&2; exit 1; }
cleanup
mounted=()
touch "$tmp/.complete"
mv "$tmp" "$root"
rm -f "$tmp.log"
log "made $root in $(($(date +%s) - start)) s ($(du -sh "$root" | cut -f1))"
echo "$root"
