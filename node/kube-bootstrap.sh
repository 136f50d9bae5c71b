#!/usr/bin/env bash
# Bootstraps one kubeadm node of an etcd-dr site. Written and started by cloud-init; safe to re-run
# by hand (every step checks before it acts). Settings come from /etc/etcd-dr/bootstrap.env.
set -euo pipefail

readonly SETTINGS=/etc/etcd-dr/bootstrap.env
readonly KUBEADM_CONFIG=/etc/etcd-dr/kubeadm.yaml

log() { printf 'kube-bootstrap: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

load_settings() {
    [[ -r "$SETTINGS" ]] || die "$SETTINGS is missing; cloud-init did not write it"
    # shellcheck source=/dev/null
    source "$SETTINGS"
    : "${NODE_ROLE:?NODE_ROLE missing in $SETTINGS}"
    : "${KUBERNETES_VERSION:?KUBERNETES_VERSION missing in $SETTINGS}"
    : "${KUBERNETES_PACKAGE_REPO:?KUBERNETES_PACKAGE_REPO missing in $SETTINGS}"
    : "${API_ALIAS:?API_ALIAS missing in $SETTINGS}"
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

install_packages() {
    local minor="${KUBERNETES_VERSION%.*}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -yq containerd apt-transport-https ca-certificates curl gpg
    mkdir -p /etc/containerd /etc/apt/keyrings
    containerd config default | sed 's/SystemdCgroup = false/SystemdCgroup = true/' >/etc/containerd/config.toml
    systemctl restart containerd
    if [[ ! -f /etc/apt/keyrings/kubernetes.gpg ]]; then
        curl -fsSL "${KUBERNETES_PACKAGE_REPO%/}/v${minor}/deb/Release.key" | gpg --dearmor -o /etc/apt/keyrings/kubernetes.gpg
    fi
    echo "deb [signed-by=/etc/apt/keyrings/kubernetes.gpg] ${KUBERNETES_PACKAGE_REPO%/}/v${minor}/deb/ /" \
        >/etc/apt/sources.list.d/kubernetes.list
    apt-get update -q
    apt-get install -yq --allow-change-held-packages \
        "kubelet=${KUBERNETES_VERSION}-*" "kubeadm=${KUBERNETES_VERSION}-*" "kubectl=${KUBERNETES_VERSION}-*"
    apt-mark hold kubelet kubeadm kubectl
    systemctl enable --now kubelet
}

wait_for_api() {
    local attempt
    for attempt in $(seq 1 120); do
        if curl -ksf "https://${API_ALIAS}:6443/readyz" >/dev/null; then
            return 0
        fi
        log "waiting for https://${API_ALIAS}:6443 (attempt ${attempt}/120)"
        sleep 10
    done
    die "the API at ${API_ALIAS}:6443 did not answer in 20 minutes; check the first control-plane node's cloud-init log"
}

bootstrap_cluster() {
    if [[ -f /etc/kubernetes/kubelet.conf ]]; then
        log "node already joined; nothing to do"
        return 0
    fi
    case "$NODE_ROLE" in
        init)
            kubeadm init --config "$KUBEADM_CONFIG" --upload-certs
            kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f "$CNI_MANIFEST_URL"
            ;;
        join-control-plane | join-worker)
            wait_for_api
            kubeadm join --config "$KUBEADM_CONFIG"
            ;;
        *) die "NODE_ROLE '$NODE_ROLE' is not init, join-control-plane or join-worker" ;;
    esac
}

main() {
    load_settings
    prepare_kernel
    install_packages
    bootstrap_cluster
    log "done: $(hostname -s) is a ${NODE_ROLE} node of Kubernetes ${KUBERNETES_VERSION}"
}

main "$@"
