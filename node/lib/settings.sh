# etcd-dr toolkit, node/lib/settings.sh: the settings file, snapshot ids and this site's members.
# After load_settings every ETCD_DR_* setting named below is set, and any function may read it.
# shellcheck shell=bash

readonly ENV_FILE="${ETCD_DR_ENV:-/etc/etcd-dr/etcd-dr.env}"
readonly ID_PATTERN='^[0-9]{8}T[0-9]{6}Z-r[0-9]+$'

# Every key the settings file may hold. A key not in this list is refused: a misspelt key would
# otherwise be ignored and its default used without anyone noticing.
readonly SETTINGS_KEYS=(
    ETCD_DR_CLUSTER ETCD_DR_PREFIX ETCD_DR_MEMBERS ETCD_DR_KUBERNETES_VERSION
    ETCD_DR_WRITE_URL ETCD_DR_READ_URL ETCD_DR_ENCRYPTION_KEY_FILE ETCD_DR_COMPRESSION
    ETCD_DR_ON_CALENDAR ETCD_DR_RANDOMIZED_DELAY
    ETCD_DR_STATE_DIR ETCD_DR_METRICS_DIR ETCD_DR_MANIFEST_DIR ETCD_DR_PKI_DIR
    ETCD_DR_STOP_TIMEOUT ETCD_DR_VERIFY_TIMEOUT ETCD_DR_PEER_PORT ETCD_DR_ENDPOINT ETCD_DR_CRI_ENDPOINT
    ETCD_DR_MAX_SNAPSHOT_BYTES
    ETCD_DR_APISERVER_STOP_GRACE ETCD_DR_START_TIMEOUT ETCD_DR_BUMP_REVISION ETCD_DR_KEEP_ROLLBACKS ETCD_DR_KUBECONFIG
)

# sets: the ETCD_DR_* settings (the file's values, then defaults); ERROR_NOTE (note_errors_in)
load_settings() {
    [[ -r "$ENV_FILE" ]] || die "settings file $ENV_FILE is missing; it is written by Pulumi (NodeToolkit) or by hand"
    local mode owner
    mode="$(stat -c %a "$ENV_FILE")"
    owner="$(stat -c %u "$ENV_FILE")"
    [[ "$mode" == 600 || "$mode" == 400 ]] || die "settings file $ENV_FILE has mode $mode; it holds secrets, run: chmod 600 $ENV_FILE"
    # Whoever owns the file decides what this (root) run uploads where and which key it trusts.
    [[ "$owner" == "$EUID" ]] || die "settings file $ENV_FILE is owned by uid $owner, not by uid $EUID that runs etcd-dr; run: chown $EUID $ENV_FILE"
    parse_settings "$ENV_FILE"
    require_setting ETCD_DR_CLUSTER "name this cluster's snapshots in the store"
    : "${ETCD_DR_PREFIX:=etcd}"
    : "${ETCD_DR_COMPRESSION:=zstd}"
    : "${ETCD_DR_STATE_DIR:=/var/lib/etcd-dr}"
    : "${ETCD_DR_METRICS_DIR:=/var/lib/prometheus/node-exporter}"
    : "${ETCD_DR_MANIFEST_DIR:=/etc/kubernetes/manifests}"
    : "${ETCD_DR_PKI_DIR:=/etc/kubernetes/pki}"
    : "${ETCD_DR_STOP_TIMEOUT:=60}"
    : "${ETCD_DR_VERIFY_TIMEOUT:=180}"
    : "${ETCD_DR_ON_CALENDAR:=*:0/15}"
    : "${ETCD_DR_RANDOMIZED_DELAY:=60s}"
    : "${ETCD_DR_PEER_PORT:=2380}"
    # etcd's own hard limit on its database is 8 GiB by default (--quota-backend-bytes); twice that
    # leaves room for a raised quota and still stops a snapshot that would fill the disk.
    : "${ETCD_DR_MAX_SNAPSHOT_BYTES:=17179869184}"
    # What a restore adds to the snapshot's revision (etcdutl --bump-revision): past anything the
    # standby's clients saw, so none sees time go backwards.
    : "${ETCD_DR_BUMP_REVISION:=1000000000}"
    validate_settings
    mkdir -p "$ETCD_DR_STATE_DIR"
    chmod 700 "$ETCD_DR_STATE_DIR"
    note_errors_in "$ETCD_DR_STATE_DIR"
}

# parse_settings FILE: KEY=value lines, read as data and never run. A value is one word as
# lib/toolkit.ts writes it ('single quoted', with '\'' for a quote), "double quoted" without $ ` \,
# or bare. The file used to be sourced: a value such as $(...) or an unquoted space ran as root.
# sets: the ETCD_DR_* keys the file names (a setting from the environment is kept when the file does not name it)
parse_settings() {
    local file=$1 line number=0 key raw value
    while IFS= read -r line || [[ -n "$line" ]]; do
        number=$((number + 1))
        line="${line%$'\r'}"
        [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
        [[ "$line" =~ ^(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] ||
            die "line $number of $ENV_FILE is not KEY=value; write it as KEY='value'"
        key="${BASH_REMATCH[2]}" raw="${BASH_REMATCH[3]}"
        is_setting_key "$key" || die "line $number of $ENV_FILE sets $key, which is not an etcd-dr setting; check its spelling"
        value="$(settings_value "$raw")" || die "line $number of $ENV_FILE: the value of $key is not one quoted word; write it as $key='value'"
        printf -v "$key" '%s' "$value"
    done <"$file"
}

is_setting_key() {
    local key=$1 known
    for known in "${SETTINGS_KEYS[@]}"; do
        [[ "$key" == "$known" ]] && return 0
    done
    return 1
}

# settings_value RAW: prints the word RAW stands for in a shell; fails for anything a shell would
# expand or split (it is never handed to one).
settings_value() {
    local raw=$1 out=""
    if [[ "$raw" =~ ^[A-Za-z0-9_./:,@%+=*-]*$ ]]; then
        printf '%s' "$raw"
        return 0
    fi
    if [[ "$raw" =~ ^\"([^\"\$\`\\]*)\"$ ]]; then
        printf '%s' "${BASH_REMATCH[1]}"
        return 0
    fi
    # 'part'\''part'...: single-quoted runs joined by escaped quotes.
    while [[ -n "$raw" ]]; do
        if [[ "$raw" =~ ^\'([^\']*)\'(.*)$ ]]; then
            out+="${BASH_REMATCH[1]}"
            raw="${BASH_REMATCH[2]}"
        elif [[ "$raw" == "\\'"* ]]; then
            out+="'"
            raw="${raw:2}"
        else
            return 1
        fi
    done
    printf '%s' "$out"
}

# Each setting checked once, here, with a line that names it: a bad value found later (a timeout of
# "60s" in arithmetic, a prefix with "..") fails far from its cause, or not at all.
validate_settings() {
    local name
    [[ "$ETCD_DR_CLUSTER" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] ||
        die "ETCD_DR_CLUSTER '$ETCD_DR_CLUSTER' is not a cluster name (letters, digits, . _ -)"
    [[ "$ETCD_DR_PREFIX" =~ ^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/?$ && ! "/$ETCD_DR_PREFIX/" =~ /\.\.?/ ]] ||
        die "ETCD_DR_PREFIX '$ETCD_DR_PREFIX' is not an object-name prefix (segments of letters, digits, . _ -; no . or .. segment)"
    case "$ETCD_DR_COMPRESSION" in
        gzip | zstd | none) ;;
        *) die "ETCD_DR_COMPRESSION '$ETCD_DR_COMPRESSION' is not gzip, zstd or none" ;;
    esac
    for name in ETCD_DR_STOP_TIMEOUT ETCD_DR_VERIFY_TIMEOUT ETCD_DR_MAX_SNAPSHOT_BYTES; do
        [[ "${!name}" =~ ^[1-9][0-9]{0,17}$ ]] || die "$name '${!name}' is not a whole number (seconds or bytes, no unit)"
    done
    [[ "$ETCD_DR_BUMP_REVISION" =~ ^(0|[1-9][0-9]{0,14})$ ]] ||
        die "ETCD_DR_BUMP_REVISION '$ETCD_DR_BUMP_REVISION' is not a whole number of revisions below 10^15"
    if [[ ! "$ETCD_DR_PEER_PORT" =~ ^[1-9][0-9]{0,4}$ ]] || ((ETCD_DR_PEER_PORT > 65535)); then
        die "ETCD_DR_PEER_PORT '$ETCD_DR_PEER_PORT' is not a TCP port"
    fi
    [[ "$ETCD_DR_RANDOMIZED_DELAY" =~ ^[0-9]+(s|min|m|h)?$ ]] ||
        die "ETCD_DR_RANDOMIZED_DELAY '$ETCD_DR_RANDOMIZED_DELAY' is not a systemd time span such as 60s"
    # It goes into a unit file: nothing that could end the line or start another directive.
    [[ "$ETCD_DR_ON_CALENDAR" =~ ^[A-Za-z0-9\ :/.,*~-]+$ ]] ||
        die "ETCD_DR_ON_CALENDAR '$ETCD_DR_ON_CALENDAR' is not a systemd calendar expression"
    if [[ -n "${ETCD_DR_MEMBERS:-}" && ! "$ETCD_DR_MEMBERS" =~ ^[A-Za-z0-9.-]+(,[A-Za-z0-9.-]*)*$ ]]; then
        die "ETCD_DR_MEMBERS '$ETCD_DR_MEMBERS' is not a comma-separated list of host names"
    fi
    for name in ETCD_DR_WRITE_URL ETCD_DR_READ_URL; do
        # The URL is a secret: the message names the setting, not its value.
        if [[ -n "${!name:-}" && ! "${!name}" =~ ^https?://[^[:space:]\"\\]+/o/?$ ]]; then
            die "$name is not a pre-authenticated request URL (https://.../o/)"
        fi
    done
    for name in ETCD_DR_STATE_DIR ETCD_DR_METRICS_DIR ETCD_DR_MANIFEST_DIR ETCD_DR_PKI_DIR; do
        [[ "${!name}" == /* ]] || die "$name '${!name}' is not an absolute path"
    done
    if [[ -n "${ETCD_DR_ENCRYPTION_KEY_FILE:-}" && ! -r "$ETCD_DR_ENCRYPTION_KEY_FILE" ]]; then
        die "encryption key file $ETCD_DR_ENCRYPTION_KEY_FILE cannot be read"
    fi
    return 0
}

require_setting() {
    local name=$1 why=$2
    [[ -n "${!name:-}" ]] || die "$name is not set in $ENV_FILE; it is needed to $why"
}

snapshot_root() { echo "${ETCD_DR_PREFIX%/}/${ETCD_DR_CLUSTER}"; }

# The seconds since the epoch that a snapshot id names (check_id first).
id_time() {
    local s=$1
    date -u -d "${s:0:4}-${s:4:2}-${s:6:2}T${s:9:2}:${s:11:2}:${s:13:2}Z" +%s
}

# How far ahead of this node's clock a snapshot id may be: the clocks of two sites differ a little.
# Beyond that the id is forged or its maker's clock is wrong, and it would sort as the newest.
readonly ID_CLOCK_SKEW=300

check_id() {
    [[ -n "${1:-}" ]] || die "name the snapshot id (YYYYMMDDTHHMMSSZ-r<revision>); \`etcd-dr list\` shows them"
    [[ "$1" =~ $ID_PATTERN ]] || die "'$1' is not a snapshot id (YYYYMMDDTHHMMSSZ-r<revision>); \`etcd-dr list\` shows them"
    is_id "$1" || die "'$1' is not a snapshot id: ${1%%-r*} is not a real time"
}

# is_id TEXT: true when TEXT is a snapshot id of a real time (no ERROR line: for listings).
is_id() {
    local s=$1
    [[ "$s" =~ $ID_PATTERN ]] || return 1
    # date normalises an impossible time (month 13, 30 February, 24:00) to another one, or refuses it.
    [[ "$(date -u -d "${s:0:4}-${s:4:2}-${s:6:2}T${s:9:2}:${s:11:2}:${s:13:2}Z" +%Y%m%dT%H%M%SZ 2>/dev/null || true)" == "${s%%-r*}" ]]
}

# id_in_future ID: true when ID is dated later than now (plus the allowed clock skew). Ids sort as
# their times do, so a comparison of text does it, in bash alone (a listing asks for every id).
id_in_future() {
    local now limit
    printf -v now '%(%s)T' -1
    TZ=UTC printf -v limit '%(%Y%m%dT%H%M%SZ)T' "$((now + ID_CLOCK_SKEW))"
    [[ "${1%%-r*}" > "$limit" ]]
}

# This site's control-plane host names, sorted and comma-separated.
expected_members() {
    require_setting ETCD_DR_MEMBERS "know this site's control-plane host names"
    tr ',' '\n' <<<"$ETCD_DR_MEMBERS" | sed '/^$/d' | sort | paste -sd, -
}
