# etcd-dr toolkit, node/lib/snapshots.sh: the committed snapshots in the store, `etcd-dr list`,
# and `etcd-dr verify`, which downloads one and checks every object and the database.
# shellcheck shell=bash

# committed_snapshots WORK_DIR: "id<TAB>total size" of committed snapshots, newest first (each manifest
# is read into WORK_DIR). Committed: manifest.json is in the store
# and so is every object it names, at the size it names. The site that takes a snapshot uploads the
# manifest last, but replication copies each object on its own and in no order, so a replica can
# hold a manifest before the data it describes; such a snapshot is named on stderr and left out.
committed_snapshots() {
    local work=$1 root listing
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

    local manifest="$work/manifest.json" status missing count object
    local -a ids
    mapfile -t ids < <(awk -F'\t' -v root="$root" '
        index($1, root) == 1 && split(substr($1, length(root) + 1), parts, "/") == 2 && parts[2] == "manifest.json" { print parts[1] }' <<<"$listing" | sort -r)
    for id in "${ids[@]}"; do
        [[ "$id" =~ $ID_PATTERN ]] || continue
        status=0
        store_get "$root$id/manifest.json" "$manifest" "$STORE_SMALL_BYTES" || status=$?
        case "$status" in
            0) ;;
            2) continue ;; # deleted since the listing (retention): no snapshot any more
            *) die "cannot read $root${id}/manifest.json from the store ($STORE_ERROR); check ETCD_DR_READ_URL and that its PAR has not expired" ;;
        esac
        # Forged, altered, unencrypted on a site with a key, dated in the future: not a snapshot
        # anyone should pick, so not listed (a forged future id would otherwise sort first).
        if ! manifest_acceptable "$manifest" "$id"; then
            log "snapshot $id is left out: $MANIFEST_PROBLEM"
            continue
        fi
        missing="" count=0
        for object in "${MANIFEST_OBJECTS[@]}"; do
            IFS=$'\t' read -r name size _ <<<"$object"
            count=$((count + 1))
            if [[ -z "${sizes["$root$id/$name"]:-}" ]]; then
                missing+="${missing:+, }$name missing"
            elif [[ "${sizes["$root$id/$name"]}" != "$size" ]]; then
                missing+="${missing:+, }$name is ${sizes["$root$id/$name"]} bytes, the manifest says $size"
            fi
        done
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
    work_dir verify
    rows="$(committed_snapshots "$WORK_DIR")"
    now="$(date -u +%s)"
    # The newest committed snapshot is this store's freshness, for the metrics (an alert on its age).
    record_store_newest "${rows%%$'\t'*}"
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
        local created age
        created="$(id_time "$id")"
        age=$((now - created))
        printf '%-28s %-20s %9ss %12s %10s\n' "$id" "$(date -u -d "@$created" +%Y-%m-%dT%H:%M:%SZ)" "$age" "$size" "${id##*-r}"
    done <<<"$rows"
}

# fetch_and_check ID DIR [MANIFEST_SHA256]: downloads the manifest and objects of ID into DIR and
# checks them all; leaves DIR/manifest.json, DIR/snapshot.db and DIR/pki.tar, decoded and verified,
# and nothing else. Dies with one line on the first problem; if the run then fails (here or later
# in the same command), the decoded files in DIR are removed with it: no plaintext stays behind a
# refusal. The checks, in order: the manifest is the one MANIFEST_SHA256 names, when given (what
# Pulumi's prechecks read); it is authentic (this site's key) and acceptable
# (manifest_acceptable: cluster, id, not in the future, known object names, sizes capped); each
# object is downloaded at most at its manifest size and matches its sha256; it decodes within the
# caps; the database and pki.tar match their plaintext sha256; etcd reads the database at the
# id's revision.
# sets: SNAP_REVISION, SNAP_HASH, SNAP_KEYS (snapshot_status of the downloaded database)
fetch_and_check() {
    local id=$1 dir=$2 pinned=${3:-} root status=0 manifest="$2/manifest.json"
    root="$(snapshot_root)/$id"
    remove_on_failure "$dir/manifest.json" "$dir/snapshot.db" "$dir/pki.tar"
    store_get "$root/manifest.json" "$manifest" "$STORE_SMALL_BYTES" || status=$?
    case "$status" in
        0) ;;
        2) die "snapshot $id does not exist in the store (no committed manifest.json); \`etcd-dr list\` shows the committed ones" ;;
        *) die "cannot read $root/manifest.json from the store ($STORE_ERROR); check ETCD_DR_READ_URL and that its PAR has not expired" ;;
    esac
    # Before anything else is read from it: the objects it names are the ones that were checked.
    if [[ -n "$pinned" && "$(sha256 "$manifest")" != "$pinned" ]]; then
        die "the manifest of snapshot $id in the store (sha256 $(sha256 "$manifest")) is not the one the restore was checked with (sha256 $pinned): the id was written again since; nothing was changed here; run pulumi up again to check the manifest now there, or pick another snapshot"
    fi
    manifest_acceptable "$manifest" "$id" || die "snapshot $id is refused: $MANIFEST_PROBLEM"

    # shellcheck disable=SC2153  # MANIFEST: set by manifest_acceptable (manifest.sh)
    local compression=${MANIFEST[compression]} encryption=${MANIFEST[encryption]} name size sum total=0 decoded code object
    for object in "${MANIFEST_OBJECTS[@]}"; do
        IFS=$'\t' read -r name size sum <<<"$object"
        total=$((total + size))
    done
    # The objects, then the decoded database next to them.
    require_free_space "$dir" $((total + ${MANIFEST[snapshotBytes]:-0})) "downloading snapshot $id"
    for object in "${MANIFEST_OBJECTS[@]}"; do
        IFS=$'\t' read -r name size sum <<<"$object"
        remove_on_exit "$dir/$name"
        store_get "$root/$name" "$dir/$name" "$size" || die "object $name of snapshot $id cannot be downloaded: $STORE_ERROR"
        [[ "$(stat -c %s "$dir/$name")" == "$size" && "$(sha256 "$dir/$name")" == "$sum" ]] ||
            die "object $name of snapshot $id is corrupt (size or sha256 differs from its manifest); use another snapshot"
        case "$name" in
            snapshot.db*) decoded=snapshot.db ;;
            pki.tar*) decoded=pki.tar ;;
        esac
        code=0
        if [[ "$decoded" == snapshot.db ]]; then
            decode "$dir/$name" "$dir/$decoded" "$compression" "$encryption" "$ETCD_DR_MAX_SNAPSHOT_BYTES" || code=$?
        else
            decode "$dir/$name" "$dir/$decoded" "$compression" "$encryption" "$PKI_MAX_BYTES" || code=$?
        fi
        case "$code" in
            0) ;;
            3) die "the $decoded of snapshot $id decompresses to more than its limit (ETCD_DR_MAX_SNAPSHOT_BYTES); refusing it" ;;
            *) die "the $decoded of snapshot $id cannot be decrypted or decompressed; check ETCD_DR_ENCRYPTION_KEY_FILE holds the primary's key" ;;
        esac
        # The encoded copy is no longer needed: give its space back before the next download.
        rm -f "$dir/$name"
    done
    [[ -f "$dir/snapshot.db" && -f "$dir/pki.tar" ]] || die "the manifest of $id lists no snapshot or no keys"
    [[ "$(sha256 "$dir/snapshot.db")" == "${MANIFEST[snapshotSha256]}" ]] ||
        die "snapshot $id decodes to a different database than was saved (wrong key or damaged data)"
    if [[ "${MANIFEST[formatVersion]}" == 2 ]]; then
        [[ "$(sha256 "$dir/pki.tar")" == "${MANIFEST[pkiSha256]}" ]] ||
            die "the keys of snapshot $id decode to a different pki.tar than was saved (wrong key or damaged data)"
    fi
    # Only sa.key and sa.pub, as plain files: a restore extracts them into /etc/kubernetes/pki.
    [[ "$(tar -tvf "$dir/pki.tar" 2>/dev/null | awk '{ print substr($1, 1, 1) " " $NF }' | sort | paste -sd, - || true)" == "- sa.key,- sa.pub" ]] ||
        die "the pki.tar of snapshot $id holds something other than the two files sa.key and sa.pub"
    snapshot_status "$dir/snapshot.db" || die "the database of snapshot $id fails etcd's snapshot status"
    [[ "$SNAP_REVISION" == "${MANIFEST[etcdRevision]}" ]] ||
        die "the database of snapshot $id is at revision $SNAP_REVISION, its manifest says ${MANIFEST[etcdRevision]}"
}

# reads: SNAP_REVISION, SNAP_KEYS (fetch_and_check)
cmd_verify() {
    local id=${1:-}
    check_id "$id"
    sweep_stale_work
    local work
    work_dir verify
    work="$WORK_DIR"
    fetch_and_check "$id" "$work"
    echo "snapshot $id verified: revision $SNAP_REVISION, ${SNAP_KEYS} keys, members $(manifest_members "$work/manifest.json")"
}
