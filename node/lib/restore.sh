# etcd-dr toolkit, node/lib/restore.sh: `etcd-dr restore <phase> ID`, run on every control-plane
# node phase by phase: prepare, stop, apply, start, verify. Each phase is safe to run again, and a
# finished restore of an id is a no-op (the marker files under restore/<id>/ say how far it got).
# shellcheck shell=bash

restore_dir() { echo "$ETCD_DR_STATE_DIR/restore/$1"; }

restored_and_running() {
    [[ -f "$(restore_dir "$1")/started" ]]
}

# reads: SNAP_REVISION (fetch_and_check)
cmd_restore_prepare() {
    local id=$1 dir members expected
    dir="$(restore_dir "$id")"
    mkdir -p "$dir"
    chmod 700 "$dir"
    rm -rf "$dir/download"
    mkdir -p "$dir/download"
    fetch_and_check "$id" "$dir/download"
    members="$(manifest_members "$dir/download/manifest.json")"
    expected="$(expected_members)"
    [[ "$members" == "$expected" ]] ||
        die "snapshot $id was taken from members $members but this site's control plane is $expected; restore needs the same host names"
    grep -qx "$(hostname -s)" < <(tr ',' '\n' <<<"$expected") ||
        die "this node ($(hostname -s)) is not one of the control-plane members $expected"
    mv -f "$dir/download/snapshot.db" "$dir/snapshot.db"
    mv -f "$dir/download/pki.tar" "$dir/pki.tar"
    cp "$dir/download/manifest.json" "$dir/manifest.json"
    rm -rf "$dir/download"
    echo "$SNAP_REVISION" >"$dir/prepared"
    echo "prepared snapshot $id on $(hostname -s): revision $SNAP_REVISION, members $members"
}

etcd_running() { pgrep -x etcd >/dev/null 2>&1; }

cmd_restore_stop() {
    local id=$1 stopped="$ETCD_DR_STATE_DIR/stopped-manifests" waited=0
    if restored_and_running "$id"; then
        echo "snapshot $id is already restored and started on $(hostname -s); nothing to stop"
        return 0
    fi
    [[ -f "$(restore_dir "$id")/prepared" ]] || die "snapshot $id is not prepared on this node; run \`etcd-dr restore prepare $id\` first"
    mkdir -p "$stopped"
    local manifest moved=0
    for manifest in "$ETCD_DR_MANIFEST_DIR"/*.yaml; do
        mv -f "$manifest" "$stopped/"
        moved=$((moved + 1))
    done
    while pgrep -x etcd >/dev/null || pgrep -x kube-apiserver >/dev/null; do
        if ((waited >= ETCD_DR_STOP_TIMEOUT)); then
            log "control plane still running after ${ETCD_DR_STOP_TIMEOUT}s; killing etcd and kube-apiserver"
            pkill -9 -x etcd || true
            pkill -9 -x kube-apiserver || true
            sleep 2
            break
        fi
        sleep 1
        waited=$((waited + 1))
    done
    ! etcd_running || die "etcd is still running on $(hostname -s) after being killed"
    echo "stopped the control plane on $(hostname -s) (${moved} manifests moved out, ${waited}s)"
}

# This site's members as etcd's --initial-cluster: "cp1=https://cp1:2380,cp2=...".
initial_cluster() {
    local members
    # Not inside the pipeline's here-string, where a failure would go unnoticed.
    members="$(expected_members)"
    tr ',' '\n' <<<"$members" | while read -r member; do
        printf '%s=https://%s:%s,' "$member" "$member" "$ETCD_DR_PEER_PORT"
    done | sed 's/,$//'
}

# Points the (stopped) etcd manifest's peer flags at host names, as the playbook's restore does.
rewrite_peer_flags() {
    local manifest=$1 name=$2 cluster=$3
    sed -i \
        -e "s|^\([[:space:]]*- --initial-advertise-peer-urls=\).*|\1https://${name}:${ETCD_DR_PEER_PORT}|" \
        -e "s|^\([[:space:]]*- --initial-cluster=\).*|\1${cluster}|" \
        "$manifest"
}

# reads: ETCD_DATA_DIR (discover_etcd)
cmd_restore_apply() {
    local id=$1 dir name cluster data_dir new_dir previous
    dir="$(restore_dir "$id")"
    if [[ -f "$dir/applied" ]]; then
        echo "snapshot $id is already applied on $(hostname -s); nothing to do"
        return 0
    fi
    [[ -f "$dir/prepared" ]] || die "snapshot $id is not prepared on this node; run \`etcd-dr restore prepare $id\` first"
    ! etcd_running || die "etcd is still running on $(hostname -s); run \`etcd-dr restore stop $id\` first"
    discover_etcd
    name="$(hostname -s)"
    cluster="$(initial_cluster)"
    data_dir="$ETCD_DATA_DIR"
    new_dir="${data_dir}.restore-${id}"
    rm -rf "$new_dir"
    local restore_tool=(etcdctl)
    command -v etcdutl >/dev/null 2>&1 && restore_tool=(etcdutl)
    ETCDCTL_API=3 "${restore_tool[@]}" snapshot restore "$dir/snapshot.db" \
        --name "$name" \
        --initial-cluster "$cluster" \
        --initial-cluster-token "etcd-dr-${id}" \
        --initial-advertise-peer-urls "https://${name}:${ETCD_DR_PEER_PORT}" \
        --data-dir "$new_dir" >"$dir/restore.log" 2>&1 ||
        die "etcd snapshot restore of $id failed on $name; see $dir/restore.log"
    chmod 700 "$new_dir"
    # Keep the previous data for rollback; never delete it here.
    if [[ -d "$data_dir" ]]; then
        previous="${data_dir}.before-${id}"
        [[ -e "$previous" ]] && previous="${previous}.$(date -u +%s)"
        mv -T "$data_dir" "$previous"
        echo "$previous" >"$dir/previous-data-dir"
    fi
    mv -T "$new_dir" "$data_dir"

    mkdir -p "$dir/sa-before"
    cp -p "$ETCD_DR_PKI_DIR"/sa.key "$ETCD_DR_PKI_DIR"/sa.pub "$dir/sa-before/" 2>/dev/null || true
    tar -C "$ETCD_DR_PKI_DIR" -xf "$dir/pki.tar" sa.key sa.pub
    chmod 600 "$ETCD_DR_PKI_DIR/sa.key"
    chmod 644 "$ETCD_DR_PKI_DIR/sa.pub"

    local manifest
    manifest="$(etcd_manifest)"
    cp -p "$manifest" "$dir/etcd.yaml.before"
    rewrite_peer_flags "$manifest" "$name" "$cluster"
    date -u +%Y-%m-%dT%H:%M:%SZ >"$dir/applied"
    echo "applied snapshot $id on $name into $data_dir (previous data kept at ${previous:-none})"
}

cmd_restore_start() {
    local id=$1 stopped="$ETCD_DR_STATE_DIR/stopped-manifests" manifest moved=0
    if restored_and_running "$id"; then
        echo "snapshot $id is already started on $(hostname -s); nothing to do"
        return 0
    fi
    [[ -f "$(restore_dir "$id")/applied" ]] || die "snapshot $id is not applied on this node; run \`etcd-dr restore apply $id\` first"
    for manifest in "$stopped"/*.yaml; do
        mv -f "$manifest" "$ETCD_DR_MANIFEST_DIR/"
        moved=$((moved + 1))
    done
    [[ -f "$ETCD_DR_MANIFEST_DIR/etcd.yaml" ]] || die "no etcd manifest to start in $ETCD_DR_MANIFEST_DIR"
    date -u +%Y-%m-%dT%H:%M:%SZ >"$(restore_dir "$id")/started"
    echo "started the control plane on $(hostname -s) (${moved} manifests moved back)"
}

# reads: ETCD_ENDPOINT and the certificates (discover_etcd)
cmd_restore_verify() {
    local id=$1 dir expected deadline health members peers revision want problem=""
    dir="$(restore_dir "$id")"
    [[ -f "$dir/manifest.json" ]] || die "snapshot $id was never prepared on this node"
    discover_etcd
    expected="$(expected_members)"
    want="$(manifest_value "$dir/manifest.json" etcdRevision)"
    deadline=$((SECONDS + ETCD_DR_VERIFY_TIMEOUT))
    while :; do
        problem=""
        if ! health="$(etcdctl_local endpoint health --cluster 2>&1)"; then
            problem="not every member is healthy: $(tr '\n' ' ' <<<"$health")"
        else
            members="$(etcdctl_local member list | awk -F', ' '{ print $3 }' | sort | paste -sd, -)"
            peers="$(etcdctl_local member list | awk -F', ' '{ print $4 }' | sort | paste -sd, -)"
            revision="$(etcdctl_local endpoint status -w fields | field Revision)"
            if [[ "$members" != "$expected" ]]; then
                problem="members are $members, expected $expected"
            elif [[ "$peers" != "$(tr ',' '\n' <<<"$expected" | sed "s|.*|https://&:${ETCD_DR_PEER_PORT}|" | sort | paste -sd, -)" ]]; then
                problem="peer URLs are $peers, expected host-name URLs"
            elif ((revision < want)); then
                problem="revision $revision is below the snapshot's $want"
            fi
        fi
        [[ -z "$problem" ]] && break
        ((SECONDS < deadline)) || die "restore of $id does not verify after ${ETCD_DR_VERIFY_TIMEOUT}s: $problem"
        sleep 2
    done
    printf '{"id": "%s", "revision": %s, "verifiedAt": "%s", "members": "%s"}\n' \
        "$id" "$revision" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$members" | write_atomically "$ETCD_DR_STATE_DIR/restore-last.json"
    echo "verified snapshot $id: members $members healthy, revision $revision (snapshot $want)"
    # For Pulumi: the machine-readable form of the same facts (lib/nodeReport.ts parses it).
    report_result verify "\"revision\":${revision},\"members\":[\"${members//,/\",\"}\"]"
}

cmd_restore() {
    local phase=${1:-} id=${2:-}
    case "$phase" in
        prepare | stop | apply | start | verify) ;;
        *) die "restore needs a phase: prepare, stop, apply, start or verify, then the snapshot id" ;;
    esac
    check_id "$id"
    exec 8>"$ETCD_DR_STATE_DIR/restore.lock"
    flock -w 600 8 || die "another restore step is running on this node"
    "cmd_restore_$phase" "$id"
}
