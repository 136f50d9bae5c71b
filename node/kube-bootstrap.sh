#!/usr/bin/env bash
# Bootstraps one kubeadm node of an etcd-dr site. Written and started by cloud-init on first boot;
# safe to re-run by hand (every step checks before it acts). Settings: /etc/etcd-dr/bootstrap.env,
# the kubeadm configuration: /etc/etcd-dr/kubeadm.yaml. The same script runs on OCI and in the lab;
# what differs (package repositories, image repository, a plain-HTTP registry) is in the settings.
set -Eeuo pipefail
shopt -s inherit_errexit

readonly SETTINGS=/etc/etcd-dr/bootstrap.env
readonly KUBEADM_CONFIG=/etc/etcd-dr/kubeadm.yaml
# Written by `kube-bootstrap join` from its standard input, removed once the node has joined.
readonly JOIN_CONFIG=/etc/etcd-dr/kubeadm-join.yaml
# Left by a first boot that prepared the node and leaves the join to Pulumi over SSH.
readonly AWAITING_JOIN=/var/lib/etcd-dr/awaiting-join
readonly KEYRING=/etc/apt/keyrings/kubernetes-apt-keyring.asc
readonly RULES_V4=/etc/iptables/rules.v4
readonly MARK="etcd-dr:"
# apt waits for the lock cloud-init or unattended-upgrades may hold on first boot, and retries downloads.
readonly APT_OPTIONS=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=5 -o Acquire::http::Timeout=60)

log() { printf 'kube-bootstrap: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
trap 'die "failed at line $LINENO: $BASH_COMMAND (exit $?)"' ERR

load_settings() {
    [[ -r "$SETTINGS" ]] || die "$SETTINGS is missing; cloud-init did not write it"
    # shellcheck source=/dev/null
    source "$SETTINGS"
    local key
    for key in NODE_ROLE KUBERNETES_VERSION KUBERNETES_PACKAGE_REPO API_ALIAS SITE_CIDR POD_SUBNET CNI_MANIFEST_URL; do
        [[ -n "${!key:-}" ]] || die "$key is missing in $SETTINGS; re-render the node's user data"
    done
    OS_PACKAGE_REPO="${OS_PACKAGE_REPO:-}"
    PLAIN_HTTP_REGISTRY="${PLAIN_HTTP_REGISTRY:-}"
    CONTAINERD_RESTRICT_OOM_SCORE_ADJ="${CONTAINERD_RESTRICT_OOM_SCORE_ADJ:-false}"
}

prepare_kernel() {
    swapoff -a
    sed -i '/\sswap\s/s/^/#/' /etc/fstab
    printf 'overlay\nbr_netfilter\n' >/etc/modules-load.d/k8s.conf
    modprobe overlay
    modprobe br_netfilter
    cat >/etc/sysctl.d/99-kubernetes.conf <<'SYSCTL'
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
SYSCTL
    sysctl --system >/dev/null
}

# OCI's Ubuntu images reject every inbound connection but SSH and forward nothing (F04). The cluster
# needs its nodes and pods to reach each other: accept the site's network and the pod network, in the
# running rules and in the rules restored at boot, ahead of the image's REJECT rules.
firewall_rules() {
    printf -- '-A INPUT -s %s -m comment --comment "%s site network" -j ACCEPT\n' "$SITE_CIDR" "$MARK"
    printf -- '-A INPUT -s %s -m comment --comment "%s pod network" -j ACCEPT\n' "$POD_SUBNET" "$MARK"
    printf -- '-A FORWARD -s %s -m comment --comment "%s pod network" -j ACCEPT\n' "$POD_SUBNET" "$MARK"
    printf -- '-A FORWARD -d %s -m comment --comment "%s pod network" -j ACCEPT\n' "$POD_SUBNET" "$MARK"
}

open_firewall() {
    command -v iptables >/dev/null || { log "no iptables on this image; no host firewall to open"; return 0; }
    local rule args
    while read -r rule; do
        eval "args=(${rule#-A })"
        if ! iptables -C "${args[@]}" 2>/dev/null; then
            iptables -I "${args[0]}" 1 "${args[@]:1}"
        fi
    done < <(firewall_rules)
    if [[ -f "$RULES_V4" ]] && ! grep -q "$MARK" "$RULES_V4"; then
        # Into the *filter table, before its first rule: the image's REJECT rules come after.
        awk -v rules="$(firewall_rules)" '
            /^\*filter/ { in_filter = 1 }
            in_filter && !done && /^-A / { print rules; done = 1 }
            { print }
        ' "$RULES_V4" >"$RULES_V4.etcd-dr" && mv "$RULES_V4.etcd-dr" "$RULES_V4"
    fi
    log "host firewall accepts $SITE_CIDR and $POD_SUBNET"
}

apt_sources() {
    local minor="${KUBERNETES_VERSION%.*}" repo="${KUBERNETES_PACKAGE_REPO%/}/v${KUBERNETES_VERSION%.*}/deb/"
    install -d -m 0755 /etc/apt/keyrings
    if [[ ! -s "$KEYRING" ]]; then
        curl -fsSL --retry 5 --retry-connrefused --connect-timeout 10 "${repo}Release.key" -o "$KEYRING.tmp" ||
            die "cannot fetch ${repo}Release.key; check cluster.kubernetesPackageRepo and that the node reaches it"
        mv "$KEYRING.tmp" "$KEYRING"
    fi
    echo "deb [signed-by=$KEYRING] $repo /" >/etc/apt/sources.list.d/kubernetes.list
    if [[ -n "$OS_PACKAGE_REPO" ]]; then
        echo "deb [signed-by=$KEYRING] ${OS_PACKAGE_REPO%/}/ /" >/etc/apt/sources.list.d/etcd-dr-os.list
    fi
    log "Kubernetes v$minor packages from $repo"
}

install_packages() {
    export DEBIAN_FRONTEND=noninteractive
    apt_sources
    apt-get "${APT_OPTIONS[@]}" update -q
    # cri-tools (crictl) is no longer a kubeadm dependency; the toolkit finds the etcd container with it.
    # zstd: the toolkit compresses snapshots with it (backup.compression, the default).
    apt-get "${APT_OPTIONS[@]}" install -yq --allow-change-held-packages containerd cri-tools zstd \
        "kubelet=${KUBERNETES_VERSION}-*" "kubeadm=${KUBERNETES_VERSION}-*" "kubectl=${KUBERNETES_VERSION}-*"
    apt-mark hold kubelet kubeadm kubectl >/dev/null
}

# The image kubeadm runs for COMPONENT (pause, etcd, ...), as its configuration names it; fails when
# it names none (callers say so, once, outside the command substitution).
kubeadm_image() {
    kubeadm config images list --config "$KUBEADM_CONFIG" 2>/dev/null | grep "/$1:"
}

# containerd's defaults, with what kubeadm nodes need: the systemd cgroup driver (as the kubelet),
# kubeadm's own pause image, the CNI plugins where kubernetes-cni puts them, per-registry hosts files.
configure_containerd() {
    local pause
    pause="$(kubeadm_image pause)" || die "kubeadm names no pause image for $KUBEADM_CONFIG"
    mkdir -p /etc/containerd
    containerd config default |
        sed -e 's/SystemdCgroup = false/SystemdCgroup = true/' \
            -e "s|sandbox_image = .*|sandbox_image = \"$pause\"|" \
            -e 's|bin_dir = .*|bin_dir = "/opt/cni/bin"|' \
            -e 's|config_path = .*|config_path = "/etc/containerd/certs.d"|' \
            -e "s|restrict_oom_score_adj = .*|restrict_oom_score_adj = $CONTAINERD_RESTRICT_OOM_SCORE_ADJ|" \
            >/etc/containerd/config.toml.new
    mv /etc/containerd/config.toml.new /etc/containerd/config.toml
    if [[ -n "$PLAIN_HTTP_REGISTRY" ]]; then
        install -d "/etc/containerd/certs.d/$PLAIN_HTTP_REGISTRY"
        printf 'server = "http://%s"\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' \
            "$PLAIN_HTTP_REGISTRY" "$PLAIN_HTTP_REGISTRY" >"/etc/containerd/certs.d/$PLAIN_HTTP_REGISTRY/hosts.toml"
    fi
    systemctl restart containerd
    systemctl enable --now kubelet
}

wait_for_api() {
    local attempt
    for attempt in $(seq 1 120); do
        if curl -ksf --connect-timeout 5 "https://${API_ALIAS}:6443/readyz" >/dev/null; then
            return 0
        fi
        ((attempt % 6 == 1)) && log "waiting for https://${API_ALIAS}:6443 (attempt ${attempt}/120)"
        sleep 5
    done
    die "the API at ${API_ALIAS}:6443 did not answer in 10 minutes; check the first control-plane node's cloud-init log"
}

# A control-plane join waits for its new etcd member to start; on a busy site that wait can run out
# while the member would still come up. `kubeadm reset` removes the half-joined member from the cluster
# (and the node's files), so the next attempt starts clean.
join_with_retries() {
    local config="$1" attempt
    for attempt in 1 2 3; do
        if kubeadm join --config "$config"; then
            return 0
        fi
        ((attempt < 3)) || break
        log "kubeadm join failed (attempt $attempt/3); resetting this node and trying again in 20s"
        kubeadm reset --force --cri-socket unix:///run/containerd/containerd.sock || log "kubeadm reset failed; trying the join anyway"
        sleep 20
        wait_for_api
    done
    die "kubeadm join failed 3 times; see the kubeadm output above"
}

# The site's API answers at its alias already: the other control-plane nodes run a cluster. A
# replaced first control-plane node joins it; a second `kubeadm init` would split the site (F16).
cluster_exists() {
    curl -ksf --connect-timeout 5 --max-time 10 "https://${API_ALIAS}:6443/readyz" >/dev/null
}

# Where the user data carries no join credentials (F10), Pulumi mints short-lived ones on a live
# control-plane node and runs `kube-bootstrap join` over SSH once this first boot is done.
await_join() {
    install -d -m 0755 "${AWAITING_JOIN%/*}"
    printf '%s\n' "$1" >"$AWAITING_JOIN"
    log "prepared: $1; Pulumi joins this node over SSH"
}

# The CNI manifest comes from outside the site (the example's from GitHub) and the API server kubeadm
# has just started may still refuse a moment (F16). Without it cp1 never gets a pod network, and a
# re-run passes over a node kubeadm has initialised already: retry here.
apply_cni() {
    local attempt
    for attempt in 1 2 3 4 5; do
        if kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f "$CNI_MANIFEST_URL"; then
            return 0
        fi
        ((attempt < 5)) || break
        log "applying $CNI_MANIFEST_URL failed (attempt $attempt/5); trying again in 15s"
        sleep 15
    done
    die "cannot apply the CNI manifest $CNI_MANIFEST_URL; check cluster.cniManifestUrl and that cp1 reaches it"
}

bootstrap_cluster() {
    if [[ -f /etc/kubernetes/kubelet.conf ]]; then
        log "node already joined; nothing to do"
        return 0
    fi
    case "$NODE_ROLE" in
        init)
            if cluster_exists; then
                await_join "the cluster at ${API_ALIAS}:6443 exists already"
                return 0
            fi
            # Control-plane certificates are uploaded for the joins only when the config brings the key.
            if grep -q '^certificateKey:' "$KUBEADM_CONFIG"; then
                kubeadm init --config "$KUBEADM_CONFIG" --upload-certs
            else
                kubeadm init --config "$KUBEADM_CONFIG"
            fi
            apply_cni
            ;;
        join-control-plane | join-worker)
            if ! grep -q '^kind: JoinConfiguration' "$KUBEADM_CONFIG"; then
                await_join "no join credentials in the user data"
                return 0
            fi
            wait_for_api
            join_with_retries "$KUBEADM_CONFIG"
            ;;
        *) die "NODE_ROLE '$NODE_ROLE' is not init, join-control-plane or join-worker" ;;
    esac
}

# kubeadm runs etcd in a container and the host has no etcdctl or etcdutl (F05). The etcd image the
# node runs has both at exactly the cluster's etcd version; its content was verified by digest on pull.
install_etcd_tools() {
    [[ "$NODE_ROLE" != join-worker ]] || return 0
    if [[ -x /usr/local/bin/etcdctl && -x /usr/local/bin/etcdutl ]]; then
        return 0
    fi
    local image mount_dir
    image="$(kubeadm_image etcd)" || die "kubeadm names no etcd image for $KUBEADM_CONFIG"
    mount_dir="$(mktemp -d)"
    ctr -n k8s.io images mount "$image" "$mount_dir" >/dev/null
    install -m 0755 "$mount_dir/usr/local/bin/etcdctl" "$mount_dir/usr/local/bin/etcdutl" /usr/local/bin/
    ctr -n k8s.io images unmount "$mount_dir" >/dev/null
    rmdir "$mount_dir"
    log "etcdctl and etcdutl installed from $image: $(etcdctl version | head -n1)"
}

# `kube-bootstrap join`, run by Pulumi over SSH after the first boot: the JoinConfiguration (a token
# and certificate key minted minutes ago, the CA pinned by hash) arrives on standard input.
join_node() {
    load_settings
    if [[ -f /etc/kubernetes/kubelet.conf ]]; then
        log "node already joined; nothing to do"
    else
        (umask 077 && cat >"$JOIN_CONFIG")
        [[ -s "$JOIN_CONFIG" ]] || die "no JoinConfiguration on standard input"
        wait_for_api
        join_with_retries "$JOIN_CONFIG"
        # Its token and certificate key expire within the hour; nothing on the node needs them again.
        rm -f "$JOIN_CONFIG"
    fi
    rm -f "$AWAITING_JOIN"
    install_etcd_tools
    log "done: $(hostname -s) joined the cluster at ${API_ALIAS}:6443"
}

main() {
    load_settings
    prepare_kernel
    open_firewall
    install_packages
    configure_containerd
    bootstrap_cluster
    if [[ -f "$AWAITING_JOIN" ]]; then
        return 0
    fi
    install_etcd_tools
    log "done: $(hostname -s) is a ${NODE_ROLE} node of Kubernetes ${KUBERNETES_VERSION}"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    case "${1:-}" in
        "") main ;;
        join) join_node ;;
        *) die "unknown command '$1': run without arguments at first boot, or 'join' with a JoinConfiguration on standard input" ;;
    esac
fi
