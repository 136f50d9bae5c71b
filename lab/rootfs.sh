#!/usr/bin/env bash
# Builds (once per machine) the Debian root file system every lab node boots from, with debootstrap.
# The mirror is the one this machine's apt already uses. Prints the rootfs path on stdout.
set -euo pipefail

readonly SUITE="${ETCD_DR_LAB_SUITE:-bookworm}"
readonly PACKAGES=(
    systemd systemd-sysv dbus openssh-server etcd-server etcd-client
    curl openssl ca-certificates iproute2 iputils-ping procps gzip zstd tar less
)
readonly CACHE="${ETCD_DR_CACHE:-$HOME/.cache/etcd-dr}/lab"

log() { printf 'lab rootfs: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=scripts/apt-mirror.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/apt-mirror.sh"

main() {
    local digest rootfs tmp mirror
    digest="$(printf '%s\n' "$SUITE" "${PACKAGES[@]}" | sha256sum | cut -c1-12)"
    rootfs="$CACHE/rootfs-$SUITE-$digest"
    if [[ -f "$rootfs/.complete" ]]; then
        echo "$rootfs"
        return 0
    fi
    command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
    mirror="$(apt_mirror "$SUITE")" || die "no apt source for Debian $SUITE on this machine; add one or set ETCD_DR_LAB_SUITE"
    mkdir -p "$CACHE"
    tmp="$rootfs.partial"
    rm -rf "$tmp"
    log "debootstrap $SUITE with ${#PACKAGES[@]} extra packages (once per machine; a few minutes)"
    local started=$SECONDS
    debootstrap --variant=minbase --include="$(IFS=,; echo "${PACKAGES[*]}")" "$SUITE" "$tmp" "$mirror" >"$CACHE/debootstrap.log" 2>&1 ||
        die "debootstrap failed; see $CACHE/debootstrap.log"
    # The base image must not start etcd or keep host keys of its own: each node gets its own.
    chroot "$tmp" systemctl disable etcd.service >/dev/null 2>&1 || true
    chroot "$tmp" systemctl enable systemd-networkd.service ssh.service >/dev/null 2>&1
    rm -f "$tmp"/etc/ssh/ssh_host_*
    rm -rf "$tmp"/var/lib/etcd/* "$tmp"/var/cache/apt/archives/*.deb
    touch "$tmp/.complete"
    rm -rf "$rootfs"
    mv "$tmp" "$rootfs"
    log "built in $((SECONDS - started))s: $rootfs"
    echo "$rootfs"
}

main "$@"
