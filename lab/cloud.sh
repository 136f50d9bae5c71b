#!/usr/bin/env bash
# The lab's local cloud: what OCI provides around the instances, made on this host.
#   - two site networks (bridges edr-br-p 10.250.1.0/24 and edr-br-s 10.250.2.0/24, the host is .1 on
#     each and the gateway of its instances; the host forwards nothing);
#   - the lab's "internet" services on 10.250.0.1 (on bridge edr-br-svc, reached from both sites through
#     their gateway): the Kubernetes supply's package repositories (:8080) and registry (:5000), like
#     pkgs.k8s.io and registry.k8s.io for OCI's nodes; and the nodes' resolver address (nothing answers);
#   - the peering link between the sites (the DRGs and remote peering connection on OCI): a router in
#     its own network namespace, edr-peering, with a leg on each site bridge at .254, forwarding between
#     the two site networks and nowhere else.
#   - Object Storage (lab/store.sh): one endpoint per lab region on the service address, with the
#     admin API the lab platform creates buckets, PARs and replication through.
# Instances (lab/instance.sh) live on top of this.
#
#   cloud.sh up             make the networks and start the services (idempotent)
#   cloud.sh down           remove every instance, the peering, the services and the networks
#   cloud.sh peering up|down|status
#   cloud.sh status         one line per part
#
# Needs root. Sourced, it only defines functions.
set -Eeuo pipefail
shopt -s nullglob

CLOUD_LAB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly CLOUD_LAB
readonly CLOUD_ROOT="$CLOUD_LAB/.."
readonly SERVICE_BRIDGE=edr-br-svc
readonly PEERING_NETNS=edr-peering
readonly PEERING_HOST_OCTET=254

# shellcheck source=instance.sh disable=SC1091 # checked on its own (make lint)
source "$CLOUD_LAB/instance.sh"
readonly SERVICE_ADDRESS=$INSTANCE_SERVICE_ADDRESS

cloud_log() { printf 'cloud: %s\n' "$*" >&2; }
cloud_die() { cloud_log "ERROR: $*"; exit 1; }

site_subnet() { echo "10.250.$(site_index "$1").0/24"; }
peering_address() { echo "10.250.$(site_index "$1").$PEERING_HOST_OCTET"; }
peering_leg() { echo "edr-pe-$(site_letter "$1")"; }

service_bridge_up() {
    if ! ip link show "$SERVICE_BRIDGE" >/dev/null 2>&1; then
        ip link add name "$SERVICE_BRIDGE" type bridge
        mkdir -p "$INSTANCES/.bridges"
        touch "$INSTANCES/.bridges/$SERVICE_BRIDGE"
    fi
    ip addr replace "$SERVICE_ADDRESS/32" dev "$SERVICE_BRIDGE"
    ip link set "$SERVICE_BRIDGE" up
}

# The instances share this host's kernel, and as root they share its per-user inotify limits, which a
# VM has to itself: at Debian's 128 instances the sixth or seventh kubeadm node's kubelet dies with
# "inotify_init: too many open files". Raised for the lab's life; `down` puts the host's values back.
readonly HOST_LIMITS=(fs.inotify.max_user_instances=8192 fs.inotify.max_user_watches=1048576)

host_limits_up() {
    local saved="$INSTANCE_LAB_DIR/host-sysctls" pair key want
    mkdir -p "$INSTANCE_LAB_DIR"
    # Saved once: a second `up` must not record the lab's own values as the host's.
    if [[ ! -e $saved ]]; then
        for pair in "${HOST_LIMITS[@]}"; do
            echo "${pair%%=*}=$(sysctl -n "${pair%%=*}")"
        done >"$saved.tmp"
        mv "$saved.tmp" "$saved"
    fi
    for pair in "${HOST_LIMITS[@]}"; do
        key=${pair%%=*} want=${pair#*=}
        if (($(sysctl -n "$key") < want)); then sysctl -qw "$key=$want"; fi
    done
}

host_limits_down() {
    local saved="$INSTANCE_LAB_DIR/host-sysctls" pair
    [[ -e $saved ]] || return 0
    while read -r pair; do
        if [[ $pair =~ ^fs\.inotify\.[a-z_]+=[0-9]+$ ]]; then sysctl -qw "$pair"; fi
    done <"$saved"
    rm -f "$saved"
}

cloud_up() {
    local site started=$SECONDS
    require_root
    mkdir -p "$INSTANCES"
    host_limits_up
    for site in "${INSTANCE_SITES[@]}"; do
        ensure_bridge "$site"
    done
    service_bridge_up
    "$CLOUD_ROOT/supply/serve.sh" start "$SERVICE_ADDRESS" >/dev/null
    "$CLOUD_LAB/store.sh" start
    cloud_log "up in $((SECONDS - started))s: sites $(site_subnet primary) and $(site_subnet standby), services on $SERVICE_ADDRESS"
}

peering_up() {
    local site leg
    require_root
    for site in "${INSTANCE_SITES[@]}"; do
        ip link show "$(site_bridge "$site")" >/dev/null 2>&1 || cloud_die "the $site network does not exist; run \`lab/cloud.sh up\` first"
    done
    ip netns list | grep -qw "$PEERING_NETNS" || ip netns add "$PEERING_NETNS"
    for site in "${INSTANCE_SITES[@]}"; do
        leg="$(peering_leg "$site")"
        if ! ip link show "$leg" >/dev/null 2>&1; then
            ip link add "$leg" type veth peer name "$site" netns "$PEERING_NETNS"
        fi
        ip link set "$leg" master "$(site_bridge "$site")" up
        ip -n "$PEERING_NETNS" addr replace "$(peering_address "$site")/24" dev "$site"
        ip -n "$PEERING_NETNS" link set "$site" up
    done
    ip -n "$PEERING_NETNS" link set lo up
    # Forwarding inside the router's own namespace only: it has no other interface to send anything to.
    ip netns exec "$PEERING_NETNS" sysctl -qw net.ipv4.ip_forward=1
    cloud_log "peering up: $(site_subnet primary) <-> $(site_subnet standby) through $PEERING_NETNS"
}

peering_down() {
    local site
    for site in "${INSTANCE_SITES[@]}"; do
        ip link del "$(peering_leg "$site")" 2>/dev/null || true
    done
    if ip netns list | grep -qw "$PEERING_NETNS"; then
        ip netns del "$PEERING_NETNS"
    fi
    cloud_log "peering down"
}

peering_status() {
    if ip netns list | grep -qw "$PEERING_NETNS" && [[ "$(ip netns exec "$PEERING_NETNS" sysctl -n net.ipv4.ip_forward)" == 1 ]]; then
        echo "peering up"
    else
        echo "peering down"
        return 3
    fi
}

cloud_down() {
    local started=$SECONDS
    require_root
    # The router's legs first: down-all removes only bridges nothing is attached to.
    peering_down
    "$CLOUD_LAB/instance.sh" down-all
    "$CLOUD_ROOT/supply/serve.sh" stop >/dev/null || true
    "$CLOUD_LAB/store.sh" stop
    # The store's data and the lab stacks' key pair (tools/lab.ts) go with the cloud.
    rm -rf "$INSTANCE_LAB_DIR/store" "$INSTANCE_LAB_DIR/keys"
    ip link del "$SERVICE_BRIDGE" 2>/dev/null || true
    host_limits_down
    cloud_log "down in $((SECONDS - started))s"
}

cloud_status() {
    local site
    for site in "${INSTANCE_SITES[@]}"; do
        if ip link show "$(site_bridge "$site")" >/dev/null 2>&1; then echo "network $site up"; else echo "network $site down"; fi
    done
    peering_status || true
    "$CLOUD_ROOT/supply/serve.sh" status || true
    "$CLOUD_LAB/store.sh" status || true
}

cloud_main() {
    case "${1:-}" in
        up) cloud_up ;;
        down) cloud_down ;;
        status) cloud_status ;;
        peering)
            case "${2:-}" in
                up) peering_up ;;
                down) peering_down ;;
                status) peering_status ;;
                *) invalid "usage: cloud.sh peering up|down|status" ;;
            esac
            ;;
        *) invalid "usage: cloud.sh up | down | status | peering up|down|status" ;;
    esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    cloud_main "$@"
fi
