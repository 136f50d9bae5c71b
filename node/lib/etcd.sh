# etcd-dr toolkit, node/lib/etcd.sh: the local etcd member and the control plane around it, found
# through kubeadm's static-pod manifests and the container runtime (crictl), never by process
# name; etcdctl's answers about the member and about snapshot files.
# shellcheck shell=bash

etcd_manifest() {
    local live="$ETCD_DR_MANIFEST_DIR/etcd.yaml" stopped="$ETCD_DR_STATE_DIR/stopped-manifests/etcd.yaml"
    if [[ -f "$live" ]]; then
        echo "$live"
    elif [[ -f "$stopped" ]]; then
        echo "$stopped"
    else
        die "no etcd static-pod manifest at $live (nor a stopped one under $ETCD_DR_STATE_DIR); is this a control-plane node?"
    fi
}

# The value of one --flag=value of the etcd command in the manifest.
manifest_flag() {
    local manifest=$1 flag=$2
    sed -n "s/^[[:space:]]*- --${flag}=\(.*\)$/\1/p" "$manifest" | head -n1 | tr -d '"'"'"
}

# The etcd version a manifest runs: the tag of its image (".../etcd:3.6.6-0" is 3.6.6).
manifest_etcd_version() {
    sed -n 's/^[[:space:]]*image:[[:space:]]*[^[:space:]]*\/etcd:v\{0,1\}\([0-9][0-9.]*\).*$/\1/p' "$1" | head -n1
}

# The first client URL etcd listens on at loopback; kubeadm writes https://127.0.0.1:2379.
manifest_local_endpoint() {
    manifest_flag "$1" listen-client-urls | tr ',' '\n' | grep -m1 '^https://127\.0\.0\.1:' || true
}

# sets: ETCD_CA, ETCD_CERT, ETCD_KEY, ETCD_DATA_DIR, ETCD_ENDPOINT, ETCD_VERSION (read by etcdctl_local and restore)
discover_etcd() {
    local manifest
    manifest="$(etcd_manifest)"
    ETCD_CA="$(manifest_flag "$manifest" trusted-ca-file)"
    ETCD_CERT="$(manifest_flag "$manifest" cert-file)"
    ETCD_KEY="$(manifest_flag "$manifest" key-file)"
    # shellcheck disable=SC2034  # read by restore.sh
    ETCD_DATA_DIR="$(manifest_flag "$manifest" data-dir)"
    # shellcheck disable=SC2034  # read by require_etcd_tools
    ETCD_VERSION="$(manifest_etcd_version "$manifest")"
    [[ -n "$ETCD_CA" && -n "$ETCD_CERT" && -n "$ETCD_KEY" && -n "$ETCD_DATA_DIR" ]] ||
        die "$manifest lacks --trusted-ca-file, --cert-file, --key-file or --data-dir"
    ETCD_ENDPOINT="${ETCD_DR_ENDPOINT:-$(manifest_local_endpoint "$manifest")}"
    ETCD_ENDPOINT="${ETCD_ENDPOINT:-https://127.0.0.1:2379}"
}

# The tool's version as `<tool> version` prints it ("etcdutl version: 3.6.6").
tool_version() {
    "$1" version 2>/dev/null | sed -n "s/^$1 version: //p" | head -n1
}

# etcdctl and etcdutl at the version of the etcd this node runs: a snapshot written or restored by
# another minor version can be refused or, worse, restored with a schema the member does not read.
# reads: ETCD_VERSION (discover_etcd)
require_etcd_tools() {
    local tool have
    for tool in etcdctl etcdutl; do
        command -v "$tool" >/dev/null 2>&1 ||
            die "$tool is not installed on $(hostname -s); the node bootstrap installs it at the cluster's etcd version ${ETCD_VERSION:-?} (kube-bootstrap.sh install_etcd_tools), or install it by hand into /usr/local/bin"
        have="$(tool_version "$tool")"
        [[ -z "${ETCD_VERSION:-}" || "$have" == "$ETCD_VERSION" ]] ||
            die "$tool on $(hostname -s) is ${have:-of unknown version} but etcd runs $ETCD_VERSION; install $tool $ETCD_VERSION (the etcd image's /usr/local/bin has it)"
    done
}

# reads: ETCD_ENDPOINT, ETCD_CA, ETCD_CERT, ETCD_KEY (discover_etcd)
etcdctl_local() {
    etcdctl --endpoints="$ETCD_ENDPOINT" --cacert="$ETCD_CA" --cert="$ETCD_CERT" --key="$ETCD_KEY" \
        --command-timeout=30s "$@"
}

# `etcdctl -w fields` prints `"Key" : value` lines; this reads one.
field() {
    local key=$1
    sed -n "s/^\"${key}\" : \"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" | head -n1
}

# reads: ETCD_ENDPOINT and the certificates (discover_etcd)
is_leader() {
    local status member leader
    status="$(etcdctl_local endpoint status -w fields)" || die "the local etcd at $ETCD_ENDPOINT does not answer"
    member="$(field MemberID <<<"$status")"
    leader="$(field Leader <<<"$status")"
    [[ -n "$member" && "$member" == "$leader" ]]
}

# snapshot_status FILE: etcd's snapshot status of a database file; fails unless it has a revision.
# sets: SNAP_REVISION, SNAP_HASH, SNAP_KEYS (read by write_manifest, record_backup and the commands' reports)
snapshot_status() {
    local file=$1 out
    if command -v etcdutl >/dev/null 2>&1; then
        out="$(etcdutl snapshot status "$file" -w fields)" || return 1
    else
        out="$(etcdctl snapshot status "$file" -w fields 2>/dev/null)" || return 1
    fi
    SNAP_REVISION="$(field Revision <<<"$out")"
    # shellcheck disable=SC2034  # read by write_manifest (manifest.sh)
    SNAP_HASH="$(field Hash <<<"$out")"
    SNAP_KEYS="$(field TotalKey <<<"$out")"
    [[ -n "$SNAP_KEYS" ]] || SNAP_KEYS="$(field Keys <<<"$out")"
    [[ "$SNAP_REVISION" =~ ^[0-9]+$ ]]
}

# What encrypts Secrets at rest on this node's apiserver: "none", "sha256:<digest>" of the
# EncryptionConfiguration its --encryption-provider-config names (the file holds the keys, so
# equal digests mean the same keys), or "unknown" when that file cannot be read here.
# Restored Secrets are readable only by an apiserver with the configuration that wrote them.
apiserver_encryption() {
    local manifest="$ETCD_DR_MANIFEST_DIR/kube-apiserver.yaml" config
    [[ -f "$manifest" ]] || manifest="$ETCD_DR_STATE_DIR/stopped-manifests/kube-apiserver.yaml"
    if [[ ! -f "$manifest" ]]; then
        echo unknown
        return 0
    fi
    config="$(manifest_flag "$manifest" encryption-provider-config)"
    if [[ -z "$config" ]]; then
        echo none
    elif [[ -r "$config" ]]; then
        echo "sha256:$(sha256 "$config")"
    else
        echo unknown
    fi
}

# --- the container runtime -------------------------------------------------------------------

crictl_node() {
    crictl --runtime-endpoint "${ETCD_DR_CRI_ENDPOINT:-unix:///run/containerd/containerd.sock}" --timeout 10s "$@"
}

# Ids of the running containers of one kubeadm static pod (crictl's --name is a regular expression).
static_pod_containers() {
    crictl_node ps -q --state Running --name "^$1\$" --label io.kubernetes.pod.namespace=kube-system
}

static_pod_running() {
    local ids
    ids="$(static_pod_containers "$1")" || die "crictl cannot list containers on $(hostname -s); is containerd running?"
    [[ -n "$ids" ]]
}

# The control-plane ports still bound on this node (host network: etcd 2379/2380, apiserver 6443).
busy_control_plane_ports() {
    ss -Hltn '( sport = :2379 or sport = :2380 or sport = :6443 )' | awk '{ sub(/.*:/, "", $4); print $4 }' | sort -u | paste -sd, -
}
