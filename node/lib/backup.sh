# etcd-dr toolkit, node/lib/backup.sh: `etcd-dr backup`, one snapshot of this cluster from its
# leader, committed to the store with its manifest last.
# shellcheck shell=bash

# Runs when a backup ends, however it ends: the work files go, and a failure is recorded for the
# status file and the metrics (a systemd timer's failure must be visible without reading logs).
# reads: BACKUP_WORK (cmd_backup), LAST_ERROR (the ERROR line that ended the run)
finish_backup() {
    local status=$?
    rm -rf "${BACKUP_WORK:-}"
    if [[ $status -ne 0 ]]; then
        record_backup failed "${LAST_ERROR:-backup failed with status $status}" || true
    fi
}

# sets: BACKUP_WORK (for finish_backup); SNAP_REVISION, SNAP_HASH, SNAP_KEYS (snapshot_status)
cmd_backup() {
    require_setting ETCD_DR_WRITE_URL "upload snapshots"
    discover_etcd
    exec 9>"$ETCD_DR_STATE_DIR/backup.lock"
    flock -n 9 || die "another backup is running on this node"
    if ! is_leader; then
        log "this member ($(hostname -s)) is not the etcd leader; the leader takes the snapshot"
        record_backup skipped "not the leader"
        return 0
    fi
    local started=$SECONDS work
    work="$(mktemp -d "$ETCD_DR_STATE_DIR/backup.XXXXXX")"
    BACKUP_WORK="$work"
    trap finish_backup EXIT

    etcdctl_local snapshot save "$work/snapshot.db" >"$work/save.log" 2>&1 ||
        die "etcdctl snapshot save failed: $(tail -n1 "$work/save.log")"
    snapshot_status "$work/snapshot.db" || die "the saved snapshot does not pass snapshot status"
    local id members etcd_version ext plain_sha
    id="$(date -u +%Y%m%dT%H%M%SZ)-r${SNAP_REVISION}"
    members="$(etcdctl_local member list | awk -F', ' '{ print $3 }' | sort | paste -sd, -)"
    etcd_version="$(etcdctl_local endpoint status -w fields | field Version)"
    plain_sha="$(sha256 "$work/snapshot.db")"
    ext="$(compress_ext)"
    [[ -n "${ETCD_DR_ENCRYPTION_KEY_FILE:-}" ]] && ext+=".enc"

    local sa_files=()
    for key in sa.key sa.pub; do
        [[ -f "$ETCD_DR_PKI_DIR/$key" ]] && sa_files+=("$key")
    done
    [[ ${#sa_files[@]} -eq 2 ]] || die "$ETCD_DR_PKI_DIR/sa.key and sa.pub are needed in every snapshot (tokens stay valid after a restore)"
    tar -C "$ETCD_DR_PKI_DIR" -cf "$work/pki.tar" "${sa_files[@]}"
    encode "$work/snapshot.db" "$work/snapshot.db$ext"
    encode "$work/pki.tar" "$work/pki.tar$ext"
    write_manifest "$work/manifest.json" "$id" "$members" "$etcd_version" "$plain_sha" "$work/snapshot.db$ext" "$work/pki.tar$ext"

    local root size
    root="$(snapshot_root)/$id"
    store_put "$work/snapshot.db$ext" "$root/snapshot.db$ext"
    store_put "$work/pki.tar$ext" "$root/pki.tar$ext"
    # The manifest goes last: until it is there, the snapshot does not exist for list or restore.
    store_put "$work/manifest.json" "$root/manifest.json"
    size=$(($(stat -c %s "$work/snapshot.db$ext") + $(stat -c %s "$work/pki.tar$ext")))
    record_backup success "committed" "$id" "$size" "$((SECONDS - started))"
    log "committed snapshot $id (revision ${SNAP_REVISION}, ${SNAP_KEYS} keys, ${size} bytes) in $((SECONDS - started))s"
    echo "$id"
}
