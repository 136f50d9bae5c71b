# etcd-dr toolkit, node/lib/snapshots.sh: the committed snapshots in the store, `etcd-dr list`,
# and `etcd-dr verify`, which downloads one and checks every object and the database.
# shellcheck shell=bash

# "id<TAB>total size" of committed snapshots, newest first. Committed: manifest.json is in the store
# and so is every object it names, at the size it names. The site that takes a snapshot uploads the
# manifest last, but replication copies each object on its own and in no order, so a replica can
# hold a manifest before the data it describes; such a snapshot is named on stderr and left out.
committed_snapshots() {
    local root listing
    root="$(snapshot_root)/"
    listing="$(store_list "$root")"
    [[ -z "$listing" ]] && return 0
    local -A sizes=() totals=()
    local name size id
    while IFS=$'\t' read -r name size; do
        sizes["$name"]=$size
    done <<<"$listing"
    # %.0f: mawk clamps %d at 2^31-1, and a snapshot may well be larger.
    while IFS=$'\t' read -r id size; do
        totals["$id"]=$size
    done < <(awk -F'\t' -v root="$root" '
        index($1, root) == 1 {
            split(substr($1, length(root) + 1), parts, "/")
            size[parts[1]] += $2
        }
        END { for (id in size) printf "%s\t%.0f\n", id, size[id] }' <<<"$listing")

    local manifest status missing count
    local -a ids
    mapfile -t ids < <(awk -F'\t' -v root="$root" '
        index($1, root) == 1 && split(substr($1, length(root) + 1), parts, "/") == 2 && parts[2] == "manifest.json" { print parts[1] }' <<<"$listing" | sort -r)
    for id in "${ids[@]}"; do
        status=0
        manifest="$(store_read "$root$id/manifest.json")" || status=$?
        case "$status" in
            0) ;;
            2) continue ;; # deleted since the listing (retention): no snapshot any more
            *) die "cannot read $root${id}/manifest.json from the store; check ETCD_DR_READ_URL and that its PAR has not expired" ;;
        esac
        missing="" count=0
        while IFS=$'\t' read -r name size _; do
            count=$((count + 1))
            if [[ -z "${sizes["$root$id/$name"]:-}" ]]; then
                missing+="${missing:+, }$name missing"
            elif [[ "${sizes["$root$id/$name"]}" != "$size" ]]; then
                missing+="${missing:+, }$name is ${sizes["$root$id/$name"]} bytes, the manifest says $size"
            fi
        done < <(manifest_objects <(printf '%s\n' "$manifest"))
        ((count > 0)) || missing="its manifest names no objects"
        if [[ -n "$missing" ]]; then
            log "snapshot $id is not complete in the store ($missing); it is left out until all of it has arrived"
            continue
        fi
        printf '%s\t%s\n' "$id" "${totals["$id"]}"
    done
}

# A store that cannot be listed fails the command (one ERROR line, from store_list): an empty table
# would read as "no snapshots".
cmd_list() {
    local json=false
    [[ "${1:-}" == "--json" ]] && json=true
    local rows now
    rows="$(committed_snapshots)"
    now="$(date -u +%s)"
    if $json; then
        local first=true
        printf '['
        while IFS=$'\t' read -r id size; do
            [[ -z "$id" ]] && continue
            $first || printf ','
            first=false
            printf '{"id":"%s","sizeBytes":%s,"revision":%s}' "$id" "$size" "${id##*-r}"
        done <<<"$rows"
        printf ']\n'
        return 0
    fi
    printf '%-28s %-20s %10s %12s %10s\n' ID CREATED AGE SIZE REVISION
    while IFS=$'\t' read -r id size; do
        [[ -z "$id" ]] && continue
        local stamp created age
        stamp="${id%%-r*}"
        created="$(date -u -d "${stamp:0:4}-${stamp:4:2}-${stamp:6:2}T${stamp:9:2}:${stamp:11:2}:${stamp:13:2}Z" +%s)"
        age=$((now - created))
        printf '%-28s %-20s %9ss %12s %10s\n' "$id" "$(date -u -d "@$created" +%Y-%m-%dT%H:%M:%SZ)" "$age" "$size" "${id##*-r}"
    done <<<"$rows"
}

# fetch_and_check ID DIR: downloads the manifest and objects of ID into DIR and checks them all;
# leaves DIR/snapshot.db and DIR/pki.tar decoded. Dies with one line on the first problem.
# sets: SNAP_REVISION, SNAP_HASH, SNAP_KEYS (snapshot_status of the downloaded database)
fetch_and_check() {
    local id=$1 dir=$2 root status=0
    root="$(snapshot_root)/$id"
    store_get "$root/manifest.json" "$dir/manifest.json" || status=$?
    case "$status" in
        0) ;;
        2) die "snapshot $id does not exist in the store (no committed manifest.json); \`etcd-dr list\` shows the committed ones" ;;
        *) die "cannot read $root/manifest.json from the store; check ETCD_DR_READ_URL and that its PAR has not expired" ;;
    esac
    [[ "$(manifest_value "$dir/manifest.json" id)" == "$id" ]] || die "the manifest of $id names another snapshot; the store is inconsistent"
    [[ "$(manifest_value "$dir/manifest.json" cluster)" == "$ETCD_DR_CLUSTER" ]] ||
        die "snapshot $id belongs to cluster '$(manifest_value "$dir/manifest.json" cluster)', not '$ETCD_DR_CLUSTER'"

    local compression encryption name size sum
    compression="$(manifest_value "$dir/manifest.json" compression)"
    encryption="$(manifest_value "$dir/manifest.json" encryption)"
    while IFS=$'\t' read -r name size sum; do
        store_get "$root/$name" "$dir/$name" || die "object $name of snapshot $id cannot be downloaded"
        [[ "$(stat -c %s "$dir/$name")" == "$size" && "$(sha256 "$dir/$name")" == "$sum" ]] ||
            die "object $name of snapshot $id is corrupt (size or sha256 differs from its manifest); use another snapshot"
        case "$name" in
            snapshot.db*) decode "$dir/$name" "$dir/snapshot.db" "$compression" "$encryption" ||
                die "snapshot $id cannot be decrypted or decompressed; check ETCD_DR_ENCRYPTION_KEY_FILE holds the primary's key" ;;
            pki.tar*) decode "$dir/$name" "$dir/pki.tar" "$compression" "$encryption" ||
                die "the keys of snapshot $id cannot be decrypted or decompressed; check ETCD_DR_ENCRYPTION_KEY_FILE" ;;
        esac
    done < <(manifest_objects "$dir/manifest.json")
    [[ -f "$dir/snapshot.db" && -f "$dir/pki.tar" ]] || die "the manifest of $id lists no snapshot or no keys"
    [[ "$(sha256 "$dir/snapshot.db")" == "$(manifest_value "$dir/manifest.json" snapshotSha256)" ]] ||
        die "snapshot $id decodes to a different database than was saved (wrong key or damaged data)"
    snapshot_status "$dir/snapshot.db" || die "the database of snapshot $id fails etcd's snapshot status"
    [[ "$SNAP_REVISION" == "$(manifest_value "$dir/manifest.json" etcdRevision)" ]] ||
        die "the database of snapshot $id is at revision $SNAP_REVISION, its manifest says $(manifest_value "$dir/manifest.json" etcdRevision)"
}

# reads: SNAP_REVISION, SNAP_KEYS (fetch_and_check)
cmd_verify() {
    local id=${1:-}
    check_id "$id"
    local work
    work="$(mktemp -d "$ETCD_DR_STATE_DIR/verify.XXXXXX")"
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" EXIT
    fetch_and_check "$id" "$work"
    echo "snapshot $id verified: revision $SNAP_REVISION, ${SNAP_KEYS} keys, members $(manifest_members "$work/manifest.json")"
}
