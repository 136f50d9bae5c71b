# etcd-dr toolkit, node/lib/backup.sh: `etcd-dr backup`, one snapshot of this cluster from its
# leader, committed to the store with its manifest last.
# shellcheck shell=bash

# The key in etcd where the leader records each committed snapshot, so that every member (and its
# metrics) knows how fresh the cluster's newest snapshot is, whichever member took it.
readonly CLUSTER_RECORD_KEY=etcd-dr/last-committed
# Room left on the state dir's filesystem after a backup's work files: etcd's WAL may share it.
readonly BACKUP_SPARE_BYTES=$((256 * 1048576))

# Runs when a backup fails, however it fails (on_exit): the failure is recorded for the status file
# and the metrics (a systemd timer's failure must be visible without reading logs). The work dir
# goes with the run (work_dir).
# reads: LAST_ERROR (the ERROR line that ended the run)
backup_failed() {
    local status=$1
    record_backup failed "${LAST_ERROR:-backup failed with status $status}" || true
}

# This member's part in the round: LEADER_STATE is leader, follower, or none (no member is leader:
# quorum is lost, and nobody can take a snapshot).
# sets: LEADER_STATE; ETCD_DB_SIZE (bytes of the member's database, for the free-space check)
# reads: ETCD_ENDPOINT and the certificates (discover_etcd)
leader_state() {
    local status member leader
    status="$(etcdctl_local endpoint status -w fields)" || die "the local etcd at $ETCD_ENDPOINT does not answer"
    member="$(field MemberID <<<"$status")"
    leader="$(field Leader <<<"$status")"
    ETCD_DB_SIZE="$(field DBSize <<<"$status")"
    if [[ -z "$leader" || "$leader" == 0 ]]; then
        LEADER_STATE=none
    elif [[ "$member" == "$leader" ]]; then
        LEADER_STATE=leader
    else
        LEADER_STATE=follower
    fi
}

# The newest snapshot the cluster committed, as the leader recorded it in etcd; empty when none
# is recorded or etcd does not say (a follower's backup run must not fail for it).
cluster_record() {
    etcdctl_local get "$CLUSTER_RECORD_KEY" --print-value-only 2>/dev/null | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' | head -n1 || true
}

# sets: SNAP_REVISION, SNAP_HASH, SNAP_KEYS (snapshot_status); ON_FAILURE (backup_failed)
cmd_backup() {
    require_setting ETCD_DR_WRITE_URL "upload snapshots"
    discover_etcd
    require_etcd_tools
    require_compressor "$ETCD_DR_COMPRESSION"
    exec 9>"$ETCD_DR_STATE_DIR/backup.lock"
    flock -n 9 || die "another backup is running on this node"
    # From here on every failure is recorded in the status file and the metrics.
    # shellcheck disable=SC2034  # run by on_exit (log.sh)
    ON_FAILURE=backup_failed
    sweep_stale_work
    leader_state
    case "$LEADER_STATE" in
        # Every member runs the timer: with no leader none of them can take this round's snapshot,
        # and each one says so, instead of each one assuming another member did.
        none) die "etcd has no leader (quorum lost?); no snapshot can be taken this round" ;;
        follower)
            log "this member ($(hostname -s)) is not the etcd leader; the leader takes the snapshot"
            record_cluster_committed "$(cluster_record)"
            record_backup skipped "not the leader"
            return 0
            ;;
    esac
    # The id's time is taken before the save: the data is at least this old, never younger.
    local started=$SECONDS stamp work
    stamp="$(date -u +%Y%m%dT%H%M%SZ)"
    # The saved database, then its encoded copy (no smaller than it when compression gains
    # nothing), and room to spare for etcd itself.
    [[ "${ETCD_DB_SIZE:-}" =~ ^[0-9]+$ ]] || ETCD_DB_SIZE=0
    ((ETCD_DB_SIZE <= ETCD_DR_MAX_SNAPSHOT_BYTES)) ||
        die "etcd's database is $(mib "$ETCD_DB_SIZE") MiB, more than ETCD_DR_MAX_SNAPSHOT_BYTES ($(mib "$ETCD_DR_MAX_SNAPSHOT_BYTES") MiB) a restore accepts; raise it on both sites"
    require_free_space "$ETCD_DR_STATE_DIR" $((2 * ETCD_DB_SIZE + BACKUP_SPARE_BYTES)) "a backup of this ${ETCD_DB_SIZE}-byte etcd database"
    work_dir backup
    work="$WORK_DIR"

    ETCD_COMMAND_TIMEOUT="$(snapshot_save_timeout)" etcdctl_local snapshot save "$work/snapshot.db" >"$work/save.log" 2>&1 ||
        die "etcdctl snapshot save failed: $(tail -n1 "$work/save.log")"
    snapshot_status "$work/snapshot.db" || die "the saved snapshot does not pass snapshot status"
    local id members etcd_version ext
    id="${stamp}-r${SNAP_REVISION}"
    members="$(etcdctl_local member list | awk -F', ' '{ print $3 }' | sort | paste -sd, -)"
    [[ "$members" =~ ^[A-Za-z0-9.-]+(,[A-Za-z0-9.-]+)*$ ]] || die "etcd's member names '$members' are not host names; a snapshot needs them"
    etcd_version="$(etcdctl_local endpoint status -w fields | field Version)"
    ext="$(compress_ext)"
    [[ -n "${ETCD_DR_ENCRYPTION_KEY_FILE:-}" ]] && ext+=".enc"

    local sa_files=()
    for key in sa.key sa.pub; do
        [[ -f "$ETCD_DR_PKI_DIR/$key" ]] && sa_files+=("$key")
    done
    [[ ${#sa_files[@]} -eq 2 ]] || die "$ETCD_DR_PKI_DIR/sa.key and sa.pub are needed in every snapshot (tokens stay valid after a restore)"
    tar -C "$ETCD_DR_PKI_DIR" -cf "$work/pki.tar" "${sa_files[@]}"
    # shellcheck disable=SC2034  # read by write_manifest (manifest.sh)
    APISERVER_ENCRYPTION="$(apiserver_encryption)"
    encode "$work/snapshot.db" "$work/snapshot.db$ext"
    encode "$work/pki.tar" "$work/pki.tar$ext"
    write_manifest "$work/manifest.json" "$id" "$members" "$etcd_version" "$work/snapshot.db" "$work/pki.tar" "$work/snapshot.db$ext" "$work/pki.tar$ext"
    # The plaintext database is not needed any more: it does not wait for the uploads on disk.
    rm -f "$work/snapshot.db" "$work/pki.tar"

    local root size
    root="$(snapshot_root)/$id"
    store_put "$work/snapshot.db$ext" "$root/snapshot.db$ext"
    store_put "$work/pki.tar$ext" "$root/pki.tar$ext"
    # The manifest goes last: until it is there, the snapshot does not exist for list or restore.
    store_put "$work/manifest.json" "$root/manifest.json"
    size=$(($(stat -c %s "$work/snapshot.db$ext") + $(stat -c %s "$work/pki.tar$ext")))
    # Every member reads this record on its own runs (cluster_record): the cluster's freshness.
    if etcdctl_local put "$CLUSTER_RECORD_KEY" "{\"id\": \"$id\", \"committedAt\": $(date -u +%s)}" >/dev/null 2>&1; then
        record_cluster_committed "$id"
    else
        log "snapshot $id is committed, but recording it in etcd ($CLUSTER_RECORD_KEY) failed; the cluster's freshness metric lags until the next backup"
    fi
    record_backup success "committed" "$id" "$size" "$((SECONDS - started))"
    log "committed snapshot $id (revision ${SNAP_REVISION}, ${SNAP_KEYS} keys, ${size} bytes) in $((SECONDS - started))s"
    echo "$id"
}
