#!/usr/bin/env bash
# The local DR lab: two sites of real Linux nodes (systemd-nspawn containers booting systemd),
# the same host names on both, one bridge per site, and the object-store emulator on the host.
#
#   lab.sh up        build what is missing and start everything (idempotent)
#   lab.sh status    nodes, addresses and etcd health per site
#   lab.sh down      remove every container, mount, bridge and process the lab made
#
# Nothing is routed off the lab bridges: no default route in the nodes, no forwarding, no NAT.
set -euo pipefail
shopt -s nullglob

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly LAB_DIR="${ETCD_DR_LAB_DIR:-/var/lib/etcd-dr-lab}"
readonly CACHE="${ETCD_DR_CACHE:-$HOME/.cache/etcd-dr}/lab"
readonly SITES=(primary standby)
readonly CONTROL_PLANE=(cp1 cp2 cp3)
readonly WORKERS=(w1)
readonly STORE_PORT=8080
readonly REPLICATION_LAG="${ETCD_DR_LAB_REPLICATION_LAG:-2}"

log() { printf 'lab: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

site_index() { [[ "$1" == primary ]] && echo 1 || echo 2; }
site_letter() { [[ "$1" == primary ]] && echo p || echo s; }
bridge() { echo "edr-br-$(site_letter "$1")"; }
subnet_prefix() { echo "10.250.$(site_index "$1")"; }
host_address() { echo "$(subnet_prefix "$1").1"; }
machine() { echo "edr-$(site_letter "$1")-$2"; }
node_dir() { echo "$LAB_DIR/nodes/$1/$2"; }

node_address() {
    local site=$1 node=$2 i
    for i in "${!CONTROL_PLANE[@]}"; do
        [[ "${CONTROL_PLANE[$i]}" == "$node" ]] && { echo "$(subnet_prefix "$site").$((11 + i))"; return; }
    done
    for i in "${!WORKERS[@]}"; do
        [[ "${WORKERS[$i]}" == "$node" ]] && { echo "$(subnet_prefix "$site").$((21 + i))"; return; }
    done
    die "unknown node $node"
}

all_nodes() { echo "${CONTROL_PLANE[@]}" "${WORKERS[@]}"; }
is_control_plane() { [[ " ${CONTROL_PLANE[*]} " == *" $1 "* ]]; }

require_root() {
    [[ $EUID -eq 0 ]] || die "the lab needs root (containers, bridges and mounts)"
    local tool
    for tool in systemd-nspawn ip openssl ssh ssh-keygen curl; do
        command -v "$tool" >/dev/null || die "$tool is missing; run \`make lab-deps\` (or make test / make drill)"
    done
}

# ---------------------------------------------------------------------------------------------
# keys and PKI, made once per lab

lab_key() {
    mkdir -p "$LAB_DIR/keys"
    [[ -f "$LAB_DIR/keys/lab_key" ]] || ssh-keygen -q -t ed25519 -N '' -C etcd-dr-lab -f "$LAB_DIR/keys/lab_key"
}

sign_cert() {
    local dir=$1 name=$2 cn=$3 usage=$4 sans=$5
    [[ -f "$dir/$name.crt" ]] && return 0
    openssl req -new -newkey rsa:2048 -nodes -keyout "$dir/$name.key" -subj "/CN=$cn" -out "$dir/$name.csr" 2>/dev/null
    {
        echo "keyUsage=critical,digitalSignature,keyEncipherment"
        echo "extendedKeyUsage=$usage"
        [[ -n "$sans" ]] && echo "subjectAltName=$sans"
    } >"$dir/$name.ext"
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
        -days 3650 -extfile "$dir/$name.ext" -out "$dir/$name.crt" 2>/dev/null
    rm -f "$dir/$name.csr" "$dir/$name.ext"
}

# kubeadm's layout: /etc/kubernetes/pki/etcd/{ca,server,peer,healthcheck-client} and pki/sa.{key,pub}
site_pki() {
    local site=$1 dir="$LAB_DIR/pki/$1" node ip sans
    mkdir -p "$dir"
    if [[ ! -f "$dir/ca.crt" ]]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=etcd-ca" \
            -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
    fi
    if [[ ! -f "$dir/sa.key" ]]; then
        openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
        openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
    fi
    for node in "${CONTROL_PLANE[@]}"; do
        ip="$(node_address "$site" "$node")"
        sans="DNS:$node,DNS:localhost,IP:$ip,IP:127.0.0.1"
        mkdir -p "$dir/$node"
        cp -n "$dir/ca.crt" "$dir/ca.key" "$dir/$node/" 2>/dev/null || true
        sign_cert "$dir/$node" server "$node" serverAuth,clientAuth "$sans"
        sign_cert "$dir/$node" peer "$node" serverAuth,clientAuth "$sans"
        sign_cert "$dir/$node" healthcheck-client kube-etcd-healthcheck-client clientAuth ""
    done
}

# ---------------------------------------------------------------------------------------------
# node file systems

# The etcd static-pod manifest as kubeadm writes it: IP-based peer URLs, /var/lib/etcd.
etcd_manifest() {
    local site=$1 node=$2 ip cluster="" member
    ip="$(node_address "$site" "$node")"
    for member in "${CONTROL_PLANE[@]}"; do
        cluster+="${cluster:+,}$member=https://$(node_address "$site" "$member"):2380"
    done
    cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://${ip}:2379
  labels:
    component: etcd
    tier: control-plane
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://${ip}:2379
    - --cert-file=/etc/kubernetes/pki/etcd/server.crt
    - --client-cert-auth=true
    - --data-dir=/var/lib/etcd
    - --initial-advertise-peer-urls=https://${ip}:2380
    - --initial-cluster=${cluster}
    - --initial-cluster-state=new
    - --key-file=/etc/kubernetes/pki/etcd/server.key
    - --listen-client-urls=https://127.0.0.1:2379,https://${ip}:2379
    - --listen-metrics-urls=http://127.0.0.1:2381
    - --listen-peer-urls=https://${ip}:2380
    - --name=${node}
    - --peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt
    - --peer-client-cert-auth=true
    - --peer-key-file=/etc/kubernetes/pki/etcd/peer.key
    - --peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
    - --snapshot-count=10000
    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
    image: etcd-lab:3.4
    name: etcd
  hostNetwork: true
  priorityClassName: system-node-critical
YAML
}

hosts_file() {
    local site=$1 node
    echo "127.0.0.1 localhost"
    for node in $(all_nodes); do
        echo "$(node_address "$site" "$node") $node"
    done
    echo "$(host_address "$site") objstore"
}

mount_overlay() {
    local dir=$1 rootfs=$2
    mkdir -p "$dir/upper" "$dir/work" "$dir/merged"
    mountpoint -q "$dir/merged" && return 0
    mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$dir/upper,workdir=$dir/work" "$dir/merged"
}

# Writes what makes a node itself. Only on first creation: later `up` runs keep its state.
configure_node() {
    local site=$1 node=$2 root=$3 ip
    [[ -f "$root/etc/etcd-dr-lab-node" ]] && return 0
    ip="$(node_address "$site" "$node")"
    echo "$node" >"$root/etc/hostname"
    hosts_file "$site" >"$root/etc/hosts"
    mkdir -p "$root/etc/systemd/network"
    printf '[Match]\nName=host0\n\n[Network]\nAddress=%s/24\nLinkLocalAddressing=no\n' "$ip" >"$root/etc/systemd/network/10-lab.network"
    mkdir -p "$root/root/.ssh"
    cp "$LAB_DIR/keys/lab_key.pub" "$root/root/.ssh/authorized_keys"
    chmod 700 "$root/root/.ssh"
    chmod 600 "$root/root/.ssh/authorized_keys"
    ssh-keygen -q -t ed25519 -N '' -f "$root/etc/ssh/ssh_host_ed25519_key" <<<y >/dev/null
    # The containers have no console; keep the journal small and getty quiet.
    ln -sf /dev/null "$root/etc/systemd/system/console-getty.service"
    if is_control_plane "$node"; then
        local pki="$LAB_DIR/pki/$site"
        mkdir -p "$root/etc/kubernetes/pki/etcd" "$root/etc/kubernetes/manifests" "$root/var/lib/etcd"
        cp "$pki/$node"/{ca.crt,ca.key,server.crt,server.key,peer.crt,peer.key,healthcheck-client.crt,healthcheck-client.key} \
            "$root/etc/kubernetes/pki/etcd/"
        cp "$pki/sa.key" "$pki/sa.pub" "$root/etc/kubernetes/pki/"
        chmod 600 "$root"/etc/kubernetes/pki/etcd/*.key "$root/etc/kubernetes/pki/sa.key"
        chmod 700 "$root/var/lib/etcd"
        etcd_manifest "$site" "$node" >"$root/etc/kubernetes/manifests/etcd.yaml"
        install -m 0755 "$ROOT/lab/kubelet-standin" "$root/usr/local/sbin/kubelet-standin"
        cat >"$root/etc/systemd/system/kubelet-standin.service" <<'UNIT'
[Unit]
Description=Lab kubelet stand-in: runs static pods from /etc/kubernetes/manifests
After=network-online.target
StartLimitIntervalSec=0

[Service]
ExecStart=/usr/local/sbin/kubelet-standin
Restart=always

[Install]
WantedBy=multi-user.target
UNIT
        ln -sf /etc/systemd/system/kubelet-standin.service "$root/etc/systemd/system/multi-user.target.wants/kubelet-standin.service"
    fi
    touch "$root/etc/etcd-dr-lab-node"
}

# ---------------------------------------------------------------------------------------------
# bridges, containers, emulator

ensure_bridge() {
    local site=$1 br
    br="$(bridge "$site")"
    if ! ip link show "$br" >/dev/null 2>&1; then
        ip link add name "$br" type bridge
        ip addr add "$(host_address "$site")/24" dev "$br"
    fi
    ip link set "$br" up
}

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_node() {
    local site=$1 node=$2 dir pidfile
    dir="$(node_dir "$site" "$node")"
    pidfile="$dir/nspawn.pid"
    pid_alive "$pidfile" && return 0
    setsid systemd-nspawn --quiet --boot --register=no --keep-unit --console=passive \
        --directory="$dir/merged" --machine="$(machine "$site" "$node")" --hostname="$node" \
        --network-bridge="$(bridge "$site")" >"$dir/console.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
}

wait_for_ssh() {
    local site=$1 node=$2 ip deadline
    ip="$(node_address "$site" "$node")"
    deadline=$((SECONDS + 90))
    until lab_ssh "$ip" true 2>/dev/null; do
        ((SECONDS < deadline)) || die "$site/$node ($ip) did not answer SSH in 90s; see $(node_dir "$site" "$node")/console.log"
        sleep 1
    done
}

lab_ssh() {
    local ip=$1
    shift
    ssh -i "$LAB_DIR/keys/lab_key" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o LogLevel=ERROR -o ConnectTimeout=3 "root@$ip" "$@"
}

objstore_binary() {
    local digest out
    digest="$(cat "$ROOT"/lab/objstore/*.go "$ROOT/lab/objstore/go.mod" | sha256sum | cut -c1-12)"
    out="$CACHE/objstore-$digest"
    if [[ ! -x "$out" ]]; then
        command -v go >/dev/null || PATH="/usr/local/go/bin:$PATH"
        mkdir -p "$CACHE"
        (cd "$ROOT/lab/objstore" && go build -trimpath -o "$out.tmp" .) || die "building the object-store emulator failed"
        mv "$out.tmp" "$out"
    fi
    echo "$out"
}

par_id() {
    local file="$LAB_DIR/store/par-$1"
    [[ -f "$file" ]] || openssl rand -hex 24 >"$file"
    cat "$file"
}

store_config() {
    local write read expires
    write="$(par_id primary-write)"
    read="$(par_id standby-read)"
    expires="$(date -u -d '+365 days' +%Y-%m-%dT%H:%M:%SZ)"
    cat <<JSON
{
  "listen": ["$(host_address primary):${STORE_PORT}", "$(host_address standby):${STORE_PORT}"],
  "dataDir": "$LAB_DIR/store/data",
  "buckets": [
    {"namespace": "lab", "name": "etcd-snapshots-primary", "region": "lab-primary"},
    {"namespace": "lab", "name": "etcd-snapshots-standby", "region": "lab-standby"}
  ],
  "pars": [
    {"id": "${write}", "bucket": "etcd-snapshots-primary", "accessType": "AnyObjectWrite", "listing": false, "prefix": "etcd/lab/", "expires": "${expires}"},
    {"id": "${read}", "bucket": "etcd-snapshots-standby", "accessType": "AnyObjectRead", "listing": true, "prefix": "etcd/lab/", "expires": "${expires}"}
  ],
  "replication": [{"source": "etcd-snapshots-primary", "destination": "etcd-snapshots-standby", "lagSeconds": ${REPLICATION_LAG}}]
}
JSON
}

start_store() {
    local binary pidfile="$LAB_DIR/store/objstore.pid"
    mkdir -p "$LAB_DIR/store/data"
    pid_alive "$pidfile" && return 0
    binary="$(objstore_binary)"
    store_config >"$LAB_DIR/store/config.json"
    setsid "$binary" -config "$LAB_DIR/store/config.json" >>"$LAB_DIR/store/objstore.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    local deadline=$((SECONDS + 10))
    until curl -s -o /dev/null "http://$(host_address primary):${STORE_PORT}/"; do
        ((SECONDS < deadline)) || die "the object-store emulator did not start; see $LAB_DIR/store/objstore.log"
        sleep 0.2
    done
}

store_url() {
    local site=$1 bucket=$2 par=$3
    echo "http://$(host_address "$site"):${STORE_PORT}/p/$(par_id "$par")/n/lab/b/${bucket}/o/"
}

etcd_health() {
    local site=$1 ip
    ip="$(node_address "$site" "${CONTROL_PLANE[0]}")"
    lab_ssh "$ip" ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 \
        --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/server.crt \
        --key=/etc/kubernetes/pki/etcd/server.key endpoint health --cluster 2>&1
}

wait_for_etcd() {
    local site=$1 deadline=$((SECONDS + 120)) out
    until out="$(etcd_health "$site")" && [[ "$(grep -c 'is healthy' <<<"$out")" -eq ${#CONTROL_PLANE[@]} ]]; do
        ((SECONDS < deadline)) || die "the $site etcd cluster is not healthy after 120s: $(tr '\n' ' ' <<<"$out")"
        sleep 2
    done
}

write_lab_json() {
    local site node first_site=true first_node
    {
        echo "{"
        echo "  \"sshKey\": \"$LAB_DIR/keys/lab_key\","
        echo "  \"sshPublicKey\": \"$(cat "$LAB_DIR/keys/lab_key.pub")\","
        echo "  \"cluster\": \"lab\","
        echo "  \"snapshotPrefix\": \"etcd\","
        echo "  \"store\": {"
        echo "    \"primaryWriteUrl\": \"$(store_url primary etcd-snapshots-primary primary-write)\","
        echo "    \"standbyReadUrl\": \"$(store_url standby etcd-snapshots-standby standby-read)\","
        echo "    \"replicationLagSeconds\": ${REPLICATION_LAG},"
        echo "    \"parExpiresAt\": \"$(sed -n 's/.*"expires": "\([^"]*\)".*/\1/p' "$LAB_DIR/store/config.json" | head -n1)\""
        echo "  },"
        echo "  \"sites\": {"
        for site in "${SITES[@]}"; do
            $first_site || echo ","
            first_site=false
            echo "    \"$site\": {\"bridge\": \"$(bridge "$site")\", \"hostAddress\": \"$(host_address "$site")\", \"nodes\": ["
            first_node=true
            for node in $(all_nodes); do
                $first_node || echo ","
                first_node=false
                local role=worker
                is_control_plane "$node" && role=control-plane
                printf '      {"name": "%s", "address": "%s", "role": "%s"}' "$node" "$(node_address "$site" "$node")" "$role"
            done
            printf '\n    ]}'
        done
        echo ""
        echo "  }"
        echo "}"
    } >"$LAB_DIR/lab.json.tmp"
    mv "$LAB_DIR/lab.json.tmp" "$LAB_DIR/lab.json"
}

cmd_up() {
    require_root
    local started=$SECONDS rootfs site node
    rootfs="$("$ROOT/lab/rootfs.sh")"
    mkdir -p "$LAB_DIR"
    lab_key
    for site in "${SITES[@]}"; do
        site_pki "$site"
        ensure_bridge "$site"
        for node in $(all_nodes); do
            mount_overlay "$(node_dir "$site" "$node")" "$rootfs"
            configure_node "$site" "$node" "$(node_dir "$site" "$node")/merged"
            start_node "$site" "$node"
        done
    done
    start_store
    for site in "${SITES[@]}"; do
        for node in $(all_nodes); do
            wait_for_ssh "$site" "$node"
        done
    done
    for site in "${SITES[@]}"; do
        wait_for_etcd "$site"
    done
    write_lab_json
    log "up in $((SECONDS - started))s: ${#SITES[@]} sites, $(all_nodes | wc -w) nodes each; details in $LAB_DIR/lab.json"
}

cmd_status() {
    [[ -f "$LAB_DIR/lab.json" ]] || { echo "the lab is down"; return 0; }
    local site node dir state
    for site in "${SITES[@]}"; do
        echo "site $site (bridge $(bridge "$site"), host $(host_address "$site"))"
        for node in $(all_nodes); do
            dir="$(node_dir "$site" "$node")"
            state=stopped
            pid_alive "$dir/nspawn.pid" && state=running
            lab_ssh "$(node_address "$site" "$node")" true 2>/dev/null && state="$state, ssh ok"
            printf '  %-4s %-14s %s\n' "$node" "$(node_address "$site" "$node")" "$state"
        done
        echo "  etcd:"
        etcd_health "$site" | sed 's/^/    /' || true
    done
    if pid_alive "$LAB_DIR/store/objstore.pid"; then
        echo "object store: running on port ${STORE_PORT} of the host addresses"
    else
        echo "object store: stopped"
    fi
}

# Ends a process the lab started: politely, then for good.
end_process() {
    local pid=$1 signal=${2:-TERM} waited=0
    kill -0 "$pid" 2>/dev/null || return 0
    kill "-$signal" "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && ((waited < 30)); do
        sleep 0.5
        waited=$((waited + 1))
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# Every process whose root file system is a lab node's overlay: the containers' systemd and all
# under it, including what a killed systemd-nspawn left behind. The host's own processes have the
# host's root; nothing outside the lab has an overlay with its upper directory in the lab.
lab_processes() {
    local proc
    for proc in /proc/[0-9]*; do
        awk -v upper="upperdir=$LAB_DIR/" '$5 == "/" && index($0, upper) { found = 1 } END { exit !found }' \
            "$proc/mountinfo" 2>/dev/null && echo "${proc#/proc/}"
    done
    return 0
}

cmd_down() {
    [[ $EUID -eq 0 ]] || die "the lab needs root to come down"
    local pidfile pid mount site link started=$SECONDS waited=0
    "$ROOT/lab/cloud.sh" down || log "removing the local cloud (instances, peering, supply services) failed; run lab/cloud.sh down"
    # SIGTERM makes systemd-nspawn ask the container's systemd for an orderly poweroff.
    for pidfile in "$LAB_DIR"/nodes/*/*/nspawn.pid; do
        kill -TERM "$(cat "$pidfile")" 2>/dev/null || true
    done
    for pid in $(pgrep -f "systemd-nspawn .*--directory=$LAB_DIR/" || true); do
        kill -TERM "$pid" 2>/dev/null || true
    done
    # A container whose systemd-nspawn died is asked directly: SIGRTMIN+3 is systemd's poweroff.
    for pid in $(lab_processes); do
        if [[ "$(awk '/^NSpid:/ { print $NF }' "/proc/$pid/status" 2>/dev/null)" == 1 ]]; then
            kill -RTMIN+3 "$pid" 2>/dev/null || true
        fi
    done
    while [[ -n "$(lab_processes)" ]] && ((waited < 40)); do
        sleep 0.5
        waited=$((waited + 1))
    done
    # Whatever did not power off in 20s (or was orphaned by an earlier run) is killed.
    for pid in $(lab_processes); do
        kill -KILL "$pid" 2>/dev/null || true
    done
    for pid in $(pgrep -f "systemd-nspawn .*--directory=$LAB_DIR/" || true); do
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -f "$LAB_DIR"/nodes/*/*/nspawn.pid
    if [[ -f "$LAB_DIR/store/objstore.pid" ]]; then
        end_process "$(cat "$LAB_DIR/store/objstore.pid")"
        rm -f "$LAB_DIR/store/objstore.pid"
    fi
    for pid in $(pgrep -f "objstore-[0-9a-f]+ -config $LAB_DIR/" || true); do
        end_process "$pid"
    done
    # Deepest mounts first.
    while read -r mount; do
        umount "$mount" 2>/dev/null || umount -l "$mount"
    done < <(awk -v dir="$LAB_DIR/" 'index($2, dir) == 1 { print $2 }' /proc/mounts | sort -r)
    # The host ends of the containers' veths are named after the lab's machines.
    for link in $(ip -o link show | awk -F': ' '{ print $2 }' | cut -d@ -f1 | grep -E '^vb-edr-[ps]-' || true); do
        ip link del "$link" 2>/dev/null || true
    done
    for site in "${SITES[@]}"; do
        if ip link show "$(bridge "$site")" >/dev/null 2>&1; then
            ip link del "$(bridge "$site")"
        fi
    done
    rm -rf "$LAB_DIR"
    log "down in $((SECONDS - started))s: containers, mounts, bridges and the emulator are gone"
}

main() {
    case "${1:-}" in
        up) cmd_up ;;
        status) cmd_status ;;
        down) cmd_down ;;
        *) die "usage: lab.sh up | status | down" ;;
    esac
}

main "$@"
