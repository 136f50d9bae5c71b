# etcd-dr toolkit, node/lib/etcd.sh: the local etcd member, found through kubeadm's static-pod
# manifest, and etcdctl's answers about it and about snapshot files.
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

# sets: ETCD_CA, ETCD_CERT, ETCD_KEY, ETCD_DATA_DIR, ETCD_ENDPOINT (read by etcdctl_local and restore apply)
discover_etcd() {
    local manifest
    manifest="$(etcd_manifest)"
    ETCD_CA="$(manifest_flag "$manifest" trusted-ca-file)"
    ETCD_CERT="$(manifest_flag "$manifest" cert-file)"
    ETCD_KEY="$(manifest_flag "$manifest" key-file)"
    # shellcheck disable=SC2034  # read by cmd_restore_apply (restore.sh)
    ETCD_DATA_DIR="$(manifest_flag "$manifest" data-dir)"
    [[ -n "$ETCD_CA" && -n "$ETCD_CERT" && -n "$ETCD_KEY" && -n "$ETCD_DATA_DIR" ]] ||
        die "$manifest lacks --trusted-ca-file, --cert-file, --key-file or --data-dir"
    ETCD_ENDPOINT="${ETCD_DR_ENDPOINT:-https://127.0.0.1:2379}"
}

# reads: ETCD_ENDPOINT, ETCD_CA, ETCD_CERT, ETCD_KEY (discover_etcd)
etcdctl_local() {
    ETCDCTL_API=3 etcdctl --endpoints="$ETCD_ENDPOINT" --cacert="$ETCD_CA" --cert="$ETCD_CERT" --key="$ETCD_KEY" \
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
        out="$(ETCDCTL_API=3 etcdctl snapshot status "$file" -w fields 2>/dev/null)" || return 1
    fi
    SNAP_REVISION="$(field Revision <<<"$out")"
    # shellcheck disable=SC2034  # read by write_manifest (manifest.sh)
    SNAP_HASH="$(field Hash <<<"$out")"
    SNAP_KEYS="$(field TotalKey <<<"$out")"
    [[ -n "$SNAP_KEYS" ]] || SNAP_KEYS="$(field Keys <<<"$out")"
    [[ "$SNAP_REVISION" =~ ^[0-9]+$ ]]
}
