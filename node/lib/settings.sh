# etcd-dr toolkit, node/lib/settings.sh: the settings file, snapshot ids and this site's members.
# After load_settings every ETCD_DR_* setting named below is set, and any function may read it.
# shellcheck shell=bash

readonly ENV_FILE="${ETCD_DR_ENV:-/etc/etcd-dr/etcd-dr.env}"
readonly ID_PATTERN='^[0-9]{8}T[0-9]{6}Z-r[0-9]+$'

# sets: the ETCD_DR_* settings (the file's values, then defaults); ERROR_NOTE (note_errors_in)
load_settings() {
    [[ -r "$ENV_FILE" ]] || die "settings file $ENV_FILE is missing; it is written by Pulumi (NodeToolkit) or by hand"
    local mode
    mode="$(stat -c %a "$ENV_FILE")"
    [[ "$mode" == 600 || "$mode" == 400 ]] || die "settings file $ENV_FILE has mode $mode; it holds secrets, run: chmod 600 $ENV_FILE"
    # shellcheck source=/dev/null
    source "$ENV_FILE"
    require_setting ETCD_DR_CLUSTER "name this cluster's snapshots in the store"
    : "${ETCD_DR_PREFIX:=etcd}"
    : "${ETCD_DR_COMPRESSION:=gzip}"
    : "${ETCD_DR_STATE_DIR:=/var/lib/etcd-dr}"
    : "${ETCD_DR_METRICS_DIR:=/var/lib/prometheus/node-exporter}"
    : "${ETCD_DR_MANIFEST_DIR:=/etc/kubernetes/manifests}"
    : "${ETCD_DR_PKI_DIR:=/etc/kubernetes/pki}"
    : "${ETCD_DR_STOP_TIMEOUT:=60}"
    : "${ETCD_DR_VERIFY_TIMEOUT:=180}"
    : "${ETCD_DR_ON_CALENDAR:=*:0/15}"
    : "${ETCD_DR_RANDOMIZED_DELAY:=60s}"
    : "${ETCD_DR_PEER_PORT:=2380}"
    case "$ETCD_DR_COMPRESSION" in
        gzip | zstd | none) ;;
        *) die "ETCD_DR_COMPRESSION '$ETCD_DR_COMPRESSION' is not gzip, zstd or none" ;;
    esac
    if [[ -n "${ETCD_DR_ENCRYPTION_KEY_FILE:-}" && ! -r "$ETCD_DR_ENCRYPTION_KEY_FILE" ]]; then
        die "encryption key file $ETCD_DR_ENCRYPTION_KEY_FILE cannot be read"
    fi
    mkdir -p "$ETCD_DR_STATE_DIR"
    chmod 700 "$ETCD_DR_STATE_DIR"
    note_errors_in "$ETCD_DR_STATE_DIR"
}

require_setting() {
    local name=$1 why=$2
    [[ -n "${!name:-}" ]] || die "$name is not set in $ENV_FILE; it is needed to $why"
}

snapshot_root() { echo "${ETCD_DR_PREFIX%/}/${ETCD_DR_CLUSTER}"; }

check_id() {
    [[ -n "${1:-}" ]] || die "name the snapshot id (YYYYMMDDTHHMMSSZ-r<revision>); \`etcd-dr list\` shows them"
    [[ "$1" =~ $ID_PATTERN ]] || die "'$1' is not a snapshot id (YYYYMMDDTHHMMSSZ-r<revision>); \`etcd-dr list\` shows them"
    local s=$1
    # date normalises an impossible time (month 13, 30 February, 24:00) to another one, or refuses it.
    [[ "$(date -u -d "${s:0:4}-${s:4:2}-${s:6:2}T${s:9:2}:${s:11:2}:${s:13:2}Z" +%Y%m%dT%H%M%SZ 2>/dev/null)" == "${s%%-r*}" ]] ||
        die "'$1' is not a snapshot id: ${s%%-r*} is not a real time"
}

# This site's control-plane host names, sorted and comma-separated.
expected_members() {
    require_setting ETCD_DR_MEMBERS "know this site's control-plane host names"
    tr ',' '\n' <<<"$ETCD_DR_MEMBERS" | sed '/^$/d' | sort | paste -sd, -
}
