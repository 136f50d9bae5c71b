# etcd-dr toolkit, node/lib/status.sh: the state dir (work dirs, free space), the status files
# under ETCD_DR_STATE_DIR, the Prometheus textfile metrics, and `etcd-dr status`.
# shellcheck shell=bash

# work_dir KIND: WORK_DIR becomes a new private dir for one run's work files, removed when the run
# ends however it ends (see on_exit). Not `$(work_dir)`: the removal must be registered in the
# main shell, and before the dir exists, so that a signal between the two cannot leave it. Its
# name carries this run's PID, so no other run makes it, and sweep_stale_work can tell a dead
# run's leftovers (SIGKILL, an OOM kill, a power cut) from a live run's.
# sets: WORK_DIR
# shellcheck disable=SC2034  # read by the callers
work_dir() {
    local dir
    while :; do
        dir="$ETCD_DR_STATE_DIR/$1.$$.$RANDOM$RANDOM"
        remove_on_exit "$dir"
        mkdir -m 700 "$dir" 2>/dev/null && break
        [[ -e "$dir" ]] || die "cannot create a work dir under $ETCD_DR_STATE_DIR"
    done
    WORK_DIR=$dir
}

# Removes the work dirs and files of runs that are no longer running: they may hold a plaintext
# database or sa.key, and fill the disk a backup needs.
sweep_stale_work() {
    local path base pid
    for path in "$ETCD_DR_STATE_DIR"/{backup,verify}.* "$ETCD_DR_STATE_DIR"/.{curl,read,error}.*; do
        base="${path##*/}"
        # backup.lock is held by the running backup: removing it would let a second one start.
        [[ "$base" == *.lock ]] && continue
        base="${base#.}"
        pid="${base#*.}"
        pid="${pid%%.*}"
        # A name without a PID (from an older toolkit) belongs to no run that is still going.
        if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
            continue
        fi
        rm -rf -- "$path"
    done
}

# require_free_space DIR BYTES WHAT [ADVICE]: dies unless the filesystem holding DIR has BYTES available.
# A backup that fills the disk etcd's WAL is on stops etcd; a restore that fills it half-way
# leaves the node with neither the old nor the new data.
require_free_space() {
    local dir=$1 bytes=$2 what=$3 advice=${4:-"free some space or point ETCD_DR_STATE_DIR at a larger filesystem"} available
    available="$(df -B1 --output=avail "$dir" | tail -n1 | tr -d ' ')"
    [[ "$available" =~ ^[0-9]+$ ]] || die "cannot tell the free space under $dir (df answered '$available')"
    if ((available < bytes)); then
        die "$what needs $(mib "$bytes") MiB free under $dir, and its filesystem has $(mib "$available") MiB; $advice"
    fi
}

# Bytes as MiB, rounded up.
mib() { echo $((($1 + 1048575) / 1048576)); }

# write_atomically FILE: stdin becomes FILE at once, so a reader never sees half of it.
write_atomically() {
    local target=$1
    mkdir -p "$(dirname "$target")"
    cat >"$target.tmp"
    mv -f "$target.tmp" "$target"
}

# record_backup RESULT MESSAGE [ID SIZE DURATION]: the last run (and success) for status and metrics.
# RESULT: success, skipped (another member leads and takes the snapshot) or failed.
# reads: SNAP_REVISION (snapshot_status of the committed snapshot)
record_backup() {
    local result=$1 message=$2 id=${3:-} size=${4:-0} duration=${5:-0}
    local now
    now="$(date -u +%s)"
    printf '{"time": %s, "result": "%s", "message": "%s", "id": "%s"}\n' "$now" "$result" "$(json_text "$message")" "$id" |
        write_atomically "$ETCD_DR_STATE_DIR/backup-last-run.json"
    if [[ "$result" == success ]]; then
        printf '{"time": %s, "id": "%s", "sizeBytes": %s, "revision": %s, "durationSeconds": %s}\n' \
            "$now" "$id" "$size" "${SNAP_REVISION:-0}" "$duration" | write_atomically "$ETCD_DR_STATE_DIR/backup-last-success.json"
    fi
    write_metrics
}

# record_cluster_committed ID: the newest snapshot this cluster committed, as every member knows it
# (the leader writes it into etcd after each commit, see backup.sh). Its age is the cluster's RPO:
# one number, the same on every member, that grows when a round is missed, whichever member
# should have taken it, and whatever that member's own metrics say.
record_cluster_committed() {
    local id=$1
    [[ "$id" =~ $ID_PATTERN ]] || return 0
    printf '{"id": "%s", "snapshotTime": %s}\n' "$id" "$(id_time "$id")" |
        write_atomically "$ETCD_DR_STATE_DIR/cluster-last-committed.json"
}

# record_store_newest ID: the newest committed snapshot in the store this node reads (`list`).
record_store_newest() {
    local id=$1
    [[ "$id" =~ $ID_PATTERN ]] || return 0
    printf '{"id": "%s", "snapshotTime": %s, "listedAt": %s}\n' "$id" "$(id_time "$id")" "$(date -u +%s)" |
        write_atomically "$ETCD_DR_STATE_DIR/store-newest.json"
    write_metrics
}

# A message as the inside of a JSON string: quotes and backslashes escaped, control characters out.
json_text() {
    local text=${1//\\/\\\\}
    text=${text//\"/\\\"}
    printf '%s' "$text" | tr -d '\000-\037'
}

json_number() { sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p" "$1" 2>/dev/null | head -n1; }

# One gauge: HELP, TYPE and its value (0 when the file does not have it yet).
metric() {
    local name=$1 help=$2 value=${3:-}
    echo "# HELP $name $help"
    echo "# TYPE $name gauge"
    echo "$name{cluster=\"${ETCD_DR_CLUSTER}\"} ${value:-0}"
}

write_metrics() {
    local last_run="$ETCD_DR_STATE_DIR/backup-last-run.json" ok="$ETCD_DR_STATE_DIR/backup-last-success.json"
    local cluster="$ETCD_DR_STATE_DIR/cluster-last-committed.json" store="$ETCD_DR_STATE_DIR/store-newest.json"
    local run_ok=0
    grep -q '"result": "\(success\|skipped\)"' "$last_run" 2>/dev/null && run_ok=1
    {
        metric etcd_dr_backup_last_run_success "1 if this node's last backup run committed a snapshot, or another member is the leader and takes it; 0 when it failed (also when there is no leader)." "$run_ok"
        metric etcd_dr_backup_last_run_timestamp_seconds "Time of this node's last backup run, whatever its result (the timer is running)." "$(json_number "$last_run" time || true)"
        metric etcd_dr_backup_last_success_timestamp_seconds "Time of the last snapshot this node committed (0 on a member that has not been the leader)." "$(json_number "$ok" time || true)"
        metric etcd_dr_backup_last_size_bytes "Size of the last committed snapshot's objects." "$(json_number "$ok" sizeBytes || true)"
        metric etcd_dr_backup_last_revision "etcd revision of the last committed snapshot." "$(json_number "$ok" revision || true)"
        metric etcd_dr_backup_last_duration_seconds "Wall time of the last committed backup." "$(json_number "$ok" durationSeconds || true)"
        metric etcd_dr_cluster_last_snapshot_timestamp_seconds "Time of the newest snapshot the cluster committed, by any member, as recorded in etcd; the same on every member. Alert on its age: a missed round makes it grow." "$(json_number "$cluster" snapshotTime || true)"
        metric etcd_dr_store_newest_snapshot_timestamp_seconds "Time of the newest committed snapshot listed in the store this node reads (etcd-dr list)." "$(json_number "$store" snapshotTime || true)"
    } | write_atomically "$ETCD_DR_METRICS_DIR/etcd_dr.prom"
}

cmd_status() {
    local file
    printf '{'
    local first=true
    for file in backup-last-run backup-last-success cluster-last-committed store-newest restore-last; do
        [[ -f "$ETCD_DR_STATE_DIR/$file.json" ]] || continue
        $first || printf ', '
        first=false
        printf '"%s": %s' "$file" "$(tr -d '\n' <"$ETCD_DR_STATE_DIR/$file.json")"
    done
    printf '}\n'
}
