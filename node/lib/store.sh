# etcd-dr toolkit, node/lib/store.sh: the object store, through pre-authenticated request URLs
# (".../o/"): upload, download, and listing.
#
# A PAR URL is a bearer secret: whoever reads it can upload or download snapshots. So it never goes
# in a process's arguments, where any local user sees it (ps, /proc/*/cmdline): curl reads it from a
# config on its stdin (curl -K -), written there by printf, a bash builtin that starts no process.
# shellcheck shell=bash

# A connection that does not open in 10 s, or a transfer that moves less than 1 KiB/s for a minute,
# is a dead store: fail, so the timer's next run (or the operator) tries again, instead of hanging.
# (Not readonly: the unit tests shorten them.)
CURL_LIMITS=(--connect-timeout 10 --speed-limit 1024 --speed-time 60 --retry 3 --retry-delay 2)
# Small requests (a manifest, a page of a listing) have a deadline of their own.
CURL_SMALL=(--max-time 120)
# Bytes of a manifest or a listing page we read into memory, at most.
readonly STORE_SMALL_BYTES=1048576

# store_curl URL CURL-ARGS...: curl with URL given on stdin, the limits above, and no progress meter.
store_curl() {
    local url=$1
    shift
    printf 'url = "%s"\n' "$url" | curl -K - -sS "${CURL_LIMITS[@]}" "$@"
}

# The last line curl wrote to stderr, for an ERROR line that says why (a timeout, a refused
# connection, a TLS problem), or the HTTP status and the store's error code.
store_problem() {
    local log=$1 code=$2 body=${3:-}
    local why
    why="$(tail -n1 "$log" 2>/dev/null | sed 's/^curl: //; s/^([0-9]*) //' || true)"
    if [[ -z "$why" && -n "$code" && "$code" != 000 ]]; then
        why="HTTP $code"
        if [[ -n "$body" && -s "$body" ]]; then
            why+=" $(head -c 300 "$body" | sed -n 's/.*"code"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' || true)"
        fi
    fi
    printf '%s' "${why:-no answer}"
}

# store_put FILE NAME: uploads FILE as NAME, streamed from the file (curl -T sends it with its
# length and never holds it in memory; --data-binary @file would read all of it first, and fails
# at 1 GiB). A single PUT takes objects up to 50 GiB on OCI, above ETCD_DR_MAX_SNAPSHOT_BYTES, so
# no multipart upload is needed. `if-none-match: *`: an object that exists is never overwritten,
# so a committed snapshot cannot be swapped for another under the same name.
store_put() {
    local file=$1 name=$2 code log body status=0
    require_setting ETCD_DR_WRITE_URL "upload snapshots"
    log="$(mktemp "$ETCD_DR_STATE_DIR/.curl.$$.XXXXXX")"
    body="$(mktemp "$ETCD_DR_STATE_DIR/.curl.$$.XXXXXX")"
    code="$(store_curl "${ETCD_DR_WRITE_URL%/}/${name}" -T "$file" -H 'Content-Type: application/octet-stream' \
        -H 'if-none-match: *' -o "$body" -w '%{http_code}' 2>"$log")" || status=$?
    local why
    why="$(store_problem "$log" "$code" "$body")"
    rm -f "$log" "$body"
    if [[ $status -ne 0 || "$code" != 2?? ]]; then
        case "$code" in
            412) die "upload of $name to the snapshot store refused: an object of that name exists already, and snapshots are never overwritten" ;;
            404) die "upload of $name to the snapshot store refused (HTTP 404); check ETCD_DR_WRITE_URL and that its PAR has not expired" ;;
            *) die "upload of $name to the snapshot store failed: $why; check the store is reachable, ETCD_DR_WRITE_URL, and that its PAR has not expired" ;;
        esac
    fi
}

# store_get NAME FILE [MAX_BYTES]: downloads NAME into FILE, streamed to disk; 0 on success, 2 when
# the object does not exist, 1 otherwise (STORE_ERROR says why). An object larger than MAX_BYTES
# (default ETCD_DR_MAX_SNAPSHOT_BYTES) is refused before it fills the disk.
# sets: STORE_ERROR
# shellcheck disable=SC2034  # STORE_ERROR is read by the callers (snapshots.sh)
store_get() {
    local name=$1 file=$2 max=${3:-$ETCD_DR_MAX_SNAPSHOT_BYTES} code log status=0
    require_setting ETCD_DR_READ_URL "read snapshots"
    # No mktemp: a listing reads every manifest, and each process costs on a busy node.
    log="$ETCD_DR_STATE_DIR/.curl.$$.$BASHPID"
    code="$(store_curl "${ETCD_DR_READ_URL%/}/${name}" --max-filesize "$max" -o "$file" -w '%{http_code}' 2>"$log")" || status=$?
    if [[ $status -eq 0 && "$code" == 200 ]]; then
        rm -f "$log"
        return 0
    fi
    STORE_ERROR="$(store_problem "$log" "$code" "$file")"
    if [[ $status -eq 63 ]]; then
        STORE_ERROR="it is larger than the $max bytes allowed"
    fi
    rm -f "$log" "$file"
    [[ $status -eq 0 && "$code" == 404 ]] && return 2
    return 1
}

# store_read NAME: prints a (small, text) object; 0 on success, 2 when it does not exist, 1 otherwise
store_read() {
    local name=$1 file status=0
    file="$(mktemp "$ETCD_DR_STATE_DIR/.read.$$.XXXXXX")"
    store_get "$name" "$file" "$STORE_SMALL_BYTES" || status=$?
    if [[ $status -eq 0 ]]; then
        cat "$file"
    fi
    rm -f "$file"
    return "$status"
}

# Every object name under a prefix with its size, "name<TAB>size" per line, across pages.
# Dies when the store does not answer: an unreadable store must never look like an empty one.
store_list() {
    local prefix=$1 start="" page next log status
    require_setting ETCD_DR_READ_URL "list snapshots"
    log="$(mktemp "$ETCD_DR_STATE_DIR/.curl.$$.XXXXXX")"
    while :; do
        status=0
        page="$(store_curl "${ETCD_DR_READ_URL%/}/" -f "${CURL_SMALL[@]}" --max-filesize "$STORE_SMALL_BYTES" -G \
            --data-urlencode "prefix=$prefix" --data-urlencode "start=$start" --data-urlencode "fields=name,size" 2>"$log")" || status=$?
        if [[ $status -ne 0 ]]; then
            local why
            why="$(store_problem "$log" "")"
            rm -f "$log"
            die "listing the snapshot store failed: $why; check ETCD_DR_READ_URL and that its PAR allows listing and has not expired"
        fi
        # One object per line, then its name and size, whatever order the fields come in.
        # shellcheck disable=SC2001  # the separator may hold any whitespace
        sed 's/},[[:space:]]*{/}\n{/g' <<<"$page" | while IFS= read -r object; do
            local name size
            name="$(sed -n 's/.*"name"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' <<<"$object")"
            size="$(sed -n 's/.*"size"[[:space:]]*:[[:space:]]*\([0-9]*\).*/\1/p' <<<"$object")"
            # An empty listing ({"objects":[]}) is one line without a name: nothing to print.
            if [[ -n "$name" ]]; then
                printf '%s\t%s\n' "$name" "${size:-0}"
            fi
        done
        next="$(sed -n 's/.*"nextStartWith"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' <<<"$page")"
        [[ -z "$next" ]] && break
        start="$next"
    done
    rm -f "$log"
}
