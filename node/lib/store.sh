# etcd-dr toolkit, node/lib/store.sh: the object store, through pre-authenticated request URLs
# (".../o/"): upload, download, and listing.
# shellcheck shell=bash

store_put() {
    local file=$1 name=$2
    require_setting ETCD_DR_WRITE_URL "upload snapshots"
    curl -fsS --retry 3 --retry-delay 2 -X PUT -H 'Content-Type: application/octet-stream' \
        --data-binary "@$file" -o /dev/null "${ETCD_DR_WRITE_URL%/}/${name}" ||
        die "upload of $name to the snapshot store failed; check ETCD_DR_WRITE_URL and that its PAR has not expired"
}

# store_get NAME FILE: 0 on success, 2 when the object does not exist, 1 otherwise
store_get() {
    local name=$1 file=$2 code
    require_setting ETCD_DR_READ_URL "read snapshots"
    code="$(curl -sS --retry 3 --retry-delay 2 -o "$file" -w '%{http_code}' "${ETCD_DR_READ_URL%/}/${name}")" || return 1
    case "$code" in
        200) return 0 ;;
        404) rm -f "$file"; return 2 ;;
        *) rm -f "$file"; return 1 ;;
    esac
}

# store_read NAME: prints a (small, text) object; 0 on success, 2 when it does not exist, 1 otherwise
store_read() {
    local name=$1 answer code
    require_setting ETCD_DR_READ_URL "read snapshots"
    # The status goes on a last line of its own, after the body.
    answer="$(curl -sS --retry 3 --retry-delay 2 -w '\n%{http_code}' "${ETCD_DR_READ_URL%/}/${name}")" || return 1
    code="${answer##*$'\n'}"
    case "$code" in
        200) printf '%s\n' "${answer%$'\n'*}" ;;
        404) return 2 ;;
        *) return 1 ;;
    esac
}

# Every object name under a prefix with its size, "name<TAB>size" per line, across pages.
# Dies when the store does not answer: an unreadable store must never look like an empty one.
store_list() {
    local prefix=$1 start="" page next
    require_setting ETCD_DR_READ_URL "list snapshots"
    while :; do
        page="$(curl -fsS --retry 3 --retry-delay 2 -G "${ETCD_DR_READ_URL%/}/" \
            --data-urlencode "prefix=$prefix" --data-urlencode "start=$start" --data-urlencode "fields=name,size")" ||
            die "listing the snapshot store failed; check ETCD_DR_READ_URL and that its PAR allows listing and has not expired"
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
}
