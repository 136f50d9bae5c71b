# etcd-dr toolkit, node/lib/status.sh: the status files under ETCD_DR_STATE_DIR, the Prometheus
# textfile metrics, and `etcd-dr status`.
# shellcheck shell=bash

# write_atomically FILE: stdin becomes FILE at once, so a reader never sees half of it.
write_atomically() {
    local target=$1
    mkdir -p "$(dirname "$target")"
    cat >"$target.tmp"
    mv -f "$target.tmp" "$target"
}

# record_backup RESULT MESSAGE [ID SIZE DURATION]: the last run (and success) for status and metrics.
# reads: SNAP_REVISION (snapshot_status of the committed snapshot)
record_backup() {
    local result=$1 message=$2 id=${3:-} size=${4:-0} duration=${5:-0}
    local now
    now="$(date -u +%s)"
    printf '{"time": %s, "result": "%s", "message": "%s", "id": "%s"}\n' "$now" "$result" "${message//\"/\'}" "$id" |
        write_atomically "$ETCD_DR_STATE_DIR/backup-last-run.json"
    if [[ "$result" == success ]]; then
        printf '{"time": %s, "id": "%s", "sizeBytes": %s, "revision": %s, "durationSeconds": %s}\n' \
            "$now" "$id" "$size" "${SNAP_REVISION:-0}" "$duration" | write_atomically "$ETCD_DR_STATE_DIR/backup-last-success.json"
    fi
    write_metrics
}

json_number() { sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p" "$1" 2>/dev/null | head -n1; }

write_metrics() {
    local last_run="$ETCD_DR_STATE_DIR/backup-last-run.json" ok="$ETCD_DR_STATE_DIR/backup-last-success.json"
    local run_ok=0
    grep -q '"result": "\(success\|skipped\)"' "$last_run" 2>/dev/null && run_ok=1
    {
        echo "# HELP etcd_dr_backup_last_run_success 1 if the last backup run succeeded or was skipped (not leader)."
        echo "# TYPE etcd_dr_backup_last_run_success gauge"
        echo "etcd_dr_backup_last_run_success{cluster=\"${ETCD_DR_CLUSTER}\"} ${run_ok}"
        echo "# HELP etcd_dr_backup_last_success_timestamp_seconds Time of the last committed snapshot from this node."
        echo "# TYPE etcd_dr_backup_last_success_timestamp_seconds gauge"
        echo "etcd_dr_backup_last_success_timestamp_seconds{cluster=\"${ETCD_DR_CLUSTER}\"} $(json_number "$ok" time || true)"
        echo "# HELP etcd_dr_backup_last_size_bytes Size of the last committed snapshot's objects."
        echo "# TYPE etcd_dr_backup_last_size_bytes gauge"
        echo "etcd_dr_backup_last_size_bytes{cluster=\"${ETCD_DR_CLUSTER}\"} $(json_number "$ok" sizeBytes || true)"
        echo "# HELP etcd_dr_backup_last_revision etcd revision of the last committed snapshot."
        echo "# TYPE etcd_dr_backup_last_revision gauge"
        echo "etcd_dr_backup_last_revision{cluster=\"${ETCD_DR_CLUSTER}\"} $(json_number "$ok" revision || true)"
        echo "# HELP etcd_dr_backup_last_duration_seconds Wall time of the last committed backup."
        echo "# TYPE etcd_dr_backup_last_duration_seconds gauge"
        echo "etcd_dr_backup_last_duration_seconds{cluster=\"${ETCD_DR_CLUSTER}\"} $(json_number "$ok" durationSeconds || true)"
    } | sed 's/ $/ 0/' | write_atomically "$ETCD_DR_METRICS_DIR/etcd_dr.prom"
}

cmd_status() {
    local file
    printf '{'
    local first=true
    for file in backup-last-run backup-last-success restore-last; do
        [[ -f "$ETCD_DR_STATE_DIR/$file.json" ]] || continue
        $first || printf ', '
        first=false
        printf '"%s": %s' "$file" "$(tr -d '\n' <"$ETCD_DR_STATE_DIR/$file.json")"
    done
    printf '}\n'
}
