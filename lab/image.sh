#!/usr/bin/env bash
# The lab instance image: what lab/instance.sh boots every instance from. It behaves like OCI's Ubuntu
# platform images in everything the program depends on (see lab/instance/ for the files it adds):
#   - cloud-init with the NoCloud datasource; the default user `ubuntu` with passwordless sudo, created
#     by cloud-init; root SSH refused (disable_root), no password logins; host keys made at first boot;
#   - OCI's host firewall in /etc/iptables/rules.v4 (netfilter-persistent, iptables on the nft backend):
#     INPUT takes established, ICMP, loopback and SSH and rejects the rest; FORWARD rejects everything;
#   - nothing Kubernetes (no etcd, etcdctl, etcdutl, kubeadm, kubelet, containerd);
#   - plus the settings nested containers need in systemd-nspawn (nspawn-k8s-fixups.service, W10).
#
#   image.sh [build]   build once per machine (cached), print the image directory on stdout
#   image.sh path      print where the image for this checkout is (or will be), build nothing
#
# Sourced, it only defines image_* functions. The Debian mirror is the one this machine's apt uses.
set -Eeuo pipefail
shopt -s nullglob

IMAGE_LAB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly IMAGE_LAB
readonly IMAGE_SUITE="${ETCD_DR_LAB_SUITE:-bookworm}"
readonly IMAGE_CACHE="${ETCD_DR_CACHE:-$HOME/.cache/etcd-dr}/lab"
# python3-cffi-backend is named because debootstrap does not resolve the virtual packages
# python3-cryptography (cloud-init) depends on.
readonly IMAGE_PACKAGES=(
    systemd systemd-sysv dbus libnss-myhostname cloud-init openssh-server sudo
    iptables iptables-persistent netfilter-persistent netbase
    python3-cffi-backend curl ca-certificates gnupg apt-transport-https
    iproute2 iputils-ping procps kmod less gzip zstd tar
)
# What the bootstrap must install itself: the image must not have it.
readonly IMAGE_ABSENT=(etcd etcdctl etcdutl kubeadm kubelet kubectl containerd ctr runc crictl)

image_log() { printf 'lab image: %s\n' "$*" >&2; }
image_die() { image_log "ERROR: $*"; exit 1; }

# shellcheck source=scripts/apt-mirror.sh
source "$IMAGE_LAB/../scripts/apt-mirror.sh"

# The archive apt itself uses for $IMAGE_SUITE on this machine (never written into any file).
image_apt_mirror() {
    apt_mirror "$IMAGE_SUITE" ||
        image_die "this machine's apt has no source for Debian $IMAGE_SUITE; add one or set ETCD_DR_LAB_SUITE"
}

image_base_dir() {
    echo "$IMAGE_CACHE/instance-base-$IMAGE_SUITE-$(printf '%s\n' "$IMAGE_SUITE" "${IMAGE_PACKAGES[@]}" | sha256sum | cut -c1-12)"
}

# The image directory for this checkout: the base plus a digest of everything that configures it.
image_dir() {
    local digest
    digest="$( {
        basename "$(image_base_dir)"
        cat "$IMAGE_LAB/image.sh" "$IMAGE_LAB"/instance/*
    } | sha256sum | cut -c1-12)"
    echo "$IMAGE_CACHE/instance-image-$digest"
}

# debootstrap in two stages: packages are fetched with the network, and configured (maintainer scripts,
# e.g. iptables-persistent saving "current" rules) in a private network and mount namespace, so that
# nothing of the host's netfilter or mounts is read or touched.
image_build_base() {
    local base=$1 tmp="$1.partial" mirror started=$SECONDS
    command -v debootstrap >/dev/null || image_die "debootstrap is not installed; run \`apt-get install debootstrap\`"
    command -v unshare >/dev/null || image_die "unshare is missing; run \`apt-get install util-linux\`"
    mirror="$(image_apt_mirror)"
    rm -rf "$tmp"
    mkdir -p "$IMAGE_CACHE"
    image_log "debootstrap $IMAGE_SUITE minbase + ${#IMAGE_PACKAGES[@]} packages (once per machine; a few minutes)"
    mkdir -p "$IMAGE_CACHE/instance-debs"
    debootstrap --foreign --variant=minbase --cache-dir="$IMAGE_CACHE/instance-debs" --include="$(IFS=,; echo "${IMAGE_PACKAGES[*]}")" \
        "$IMAGE_SUITE" "$tmp" "$mirror" >"$IMAGE_CACHE/instance-debootstrap.log" 2>&1 ||
        image_die "debootstrap (download) failed; see $IMAGE_CACHE/instance-debootstrap.log"
    unshare --net --mount --fork chroot "$tmp" /debootstrap/debootstrap --second-stage \
        >>"$IMAGE_CACHE/instance-debootstrap.log" 2>&1 ||
        image_die "debootstrap (configure) failed; see $IMAGE_CACHE/instance-debootstrap.log"
    mv "$tmp" "$base"
    image_log "base built in $((SECONDS - started))s: $base"
}

# Everything that makes the base an OCI-like lab image. Works on a copy; touches nothing outside it.
image_configure() {
    local root=$1 files="$IMAGE_LAB/instance"
    # Per-instance identity is made at first boot: no host keys, no machine id, no host name.
    rm -f "$root"/etc/ssh/ssh_host_*
    : >"$root/etc/machine-id"
    rm -f "$root/var/lib/dbus/machine-id"
    echo localhost >"$root/etc/hostname"
    printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
    # No archive is reachable from a lab instance: the lab's package repository comes with the user data.
    printf '# The lab gives its package repository in cloud-init user data (apt: sources).\n' >"$root/etc/apt/sources.list"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
    : >"$root/etc/resolv.conf"
    echo 'LANG=C.UTF-8' >"$root/etc/default/locale"
    # Ubuntu's login PATH (pam_env reads it for SSH sessions): sbin directories included.
    echo 'PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/games:/usr/local/games"' >"$root/etc/environment"

    install -m 0644 "$files/cloud.cfg" "$root/etc/cloud/cloud.cfg.d/90-etcd-dr-lab.cfg"
    install -d "$root/etc/iptables"
    install -m 0640 "$files/rules.v4" "$root/etc/iptables/rules.v4"
    install -m 0640 "$files/rules.v6" "$root/etc/iptables/rules.v6"
    install -m 0644 "$files/sshd.conf" "$root/etc/ssh/sshd_config.d/60-cloudimg-settings.conf"
    install -D -m 0644 "$files/ssh-keygen.conf" "$root/etc/systemd/system/ssh.service.d/10-host-keys.conf"
    install -D -m 0644 "$files/host0.network.conf" "$root/etc/systemd/network/10-cloud-init-host0.network.d/10-etcd-dr-lab.conf"
    install -D -m 0644 "$files/system.conf" "$root/etc/systemd/system.conf.d/10-etcd-dr-lab.conf"
    install -m 0755 "$files/nspawn-k8s-fixups" "$root/usr/local/sbin/nspawn-k8s-fixups"
    install -m 0644 "$files/nspawn-k8s-fixups.service" "$root/etc/systemd/system/nspawn-k8s-fixups.service"

    systemctl --root="$root" --quiet enable nspawn-k8s-fixups.service systemd-networkd.service \
        ssh.service netfilter-persistent.service
    # W9: no getty on the console nspawn shares read-only.
    systemctl --root="$root" --quiet mask console-getty.service
    # The nft backend, as on Ubuntu (bookworm's default; made explicit).
    chroot "$root" update-alternatives --quiet --set iptables /usr/sbin/iptables-nft
    chroot "$root" update-alternatives --quiet --set ip6tables /usr/sbin/ip6tables-nft
}

# Fails the build when the image is not what instances rely on.
image_verify() {
    local root=$1 name found
    for name in "${IMAGE_ABSENT[@]}"; do
        found="$(find "$root/usr" "$root/opt" -name "$name" \( -type f -o -type l \) -print -quit)"
        [[ -z "$found" ]] || image_die "the image has ${found#"$root"}, but nothing Kubernetes may be preinstalled; remove the package that brings it from IMAGE_PACKAGES"
    done
    for name in usr/bin/cloud-init usr/sbin/sshd usr/bin/sudo usr/sbin/iptables-nft usr/sbin/netfilter-persistent \
        etc/iptables/rules.v4 usr/local/sbin/nspawn-k8s-fixups; do
        [[ -e "$root/$name" ]] || image_die "the image lacks /$name; check $IMAGE_CACHE/instance-debootstrap.log"
    done
    [[ -z "$(find "$root/etc/ssh" -name 'ssh_host_*' -print -quit)" ]] || image_die "the image has SSH host keys; they must be made per instance"
    [[ "$(readlink -f "$root/etc/alternatives/iptables")" == */iptables-nft ]] || image_die "iptables is not on the nft backend in the image"
}

# Old images and bases (the downloaded packages in instance-debs/ stay for the next build) that no mounted instance overlay uses any more.
image_prune() {
    local keep_image=$1 keep_base=$2 dir
    for dir in "$IMAGE_CACHE"/instance-image-* "$IMAGE_CACHE"/instance-base-*; do
        [[ "$dir" == "$keep_image" || "$dir" == "$keep_base" || "$dir" == *.partial ]] && continue
        grep -qF "lowerdir=${dir}," /proc/mounts && continue
        rm -rf "$dir"
    done
}

image_build() {
    local image base tmp lock started=$SECONDS
    [[ $EUID -eq 0 ]] || image_die "building the lab image needs root (debootstrap, chroot)"
    image="$(image_dir)"
    if [[ -f "$image/.complete" ]]; then
        echo "$image"
        return 0
    fi
    mkdir -p "$IMAGE_CACHE"
    exec {lock}>"$IMAGE_CACHE/.instance-image.lock"
    flock "$lock"
    if [[ ! -f "$image/.complete" ]]; then
        base="$(image_base_dir)"
        [[ -d "$base" ]] || image_build_base "$base"
        tmp="$image.partial"
        rm -rf "$tmp"
        cp -a "$base" "$tmp"
        image_configure "$tmp"
        image_verify "$tmp"
        touch "$tmp/.complete"
        rm -rf "$image"
        mv "$tmp" "$image"
        image_prune "$image" "$base"
        image_log "ready in $((SECONDS - started))s: $image"
    fi
    exec {lock}>&-
    echo "$image"
}

image_main() {
    case "${1:-build}" in
        build) image_build ;;
        path) image_dir ;;
        *) image_die "usage: image.sh [build | path]" ;;
    esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    image_main "$@"
fi
