#!/usr/bin/env bash
# The lab's Object Storage: the emulator (lab/objstore) serving one endpoint per lab region on the
# service address, and a client of its admin API. The lab platform's SnapshotStore component calls
# this as the oci platform calls OCI's Object Storage API: buckets, pre-authenticated requests,
# replication policies, lifecycle rules and MakeBucketWritable.
#
#   store.sh start | stop | status          the emulator (lab/cloud.sh up and down call these)
#   store.sh endpoint REGION                the region's endpoint URL
#   store.sh bucket-create REGION BUCKET    creates the bucket; prints it as JSON
#   store.sh par-create REGION BUCKET NAME ACCESS_TYPE LISTING PREFIX EXPIRES
#                                           creates a PAR; prints only its URL (a secret)
#   store.sh par-delete REGION BUCKET NAME  deletes the bucket's PARs of that name (none: says so)
#   store.sh replication-create REGION BUCKET NAME DEST_REGION DEST_BUCKET
#                                           a policy on BUCKET (in its REGION) into DEST_BUCKET
#   store.sh lifecycle-put REGION BUCKET    the bucket's lifecycle rules, as JSON on stdin
#   store.sh make-writable REGION BUCKET    ends the replication into BUCKET, from REGION only
#
# Regions: lab-primary and lab-standby. Exit codes: 0 done; 2 invalid input (nothing changed);
# 1 anything else, with one ERROR line naming what the store answered. Needs root for start/stop.
# Sourced, it only defines functions.
set -Eeuo pipefail

STORE_LAB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly STORE_LAB
readonly STORE_DIR="${ETCD_DR_LAB_DIR:-/var/lib/etcd-dr-lab}/store"
readonly STORE_CACHE="${ETCD_DR_CACHE:-$HOME/.cache/etcd-dr}/lab"
readonly STORE_ADDRESS=10.250.0.1
readonly STORE_NAMESPACE=lab
# The admin API's bearer token as a curl header file, so the token is never in a process's argv.
readonly STORE_AUTH="$STORE_DIR/admin-auth.header"

store_log() { printf 'store: %s\n' "$*" >&2; }
store_die() { store_log "ERROR: $*"; exit 1; }
store_invalid() { store_log "ERROR: $*"; exit 2; }

region_port() {
    case "$1" in
        lab-primary) echo 8180 ;;
        lab-standby) echo 8280 ;;
        *) store_invalid "'$1' is not a lab region; use lab-primary or lab-standby" ;;
    esac
}

store_endpoint() {
    local port
    port="$(region_port "$1")"
    echo "http://$STORE_ADDRESS:$port"
}

store_binary() {
    local digest out
    digest="$(cat "$STORE_LAB"/objstore/*.go "$STORE_LAB/objstore/go.mod" | sha256sum | cut -c1-12)"
    out="$STORE_CACHE/objstore-$digest"
    if [[ ! -x "$out" ]]; then
        command -v go >/dev/null || PATH="/usr/local/go/bin:$PATH"
        mkdir -p "$STORE_CACHE"
        (cd "$STORE_LAB/objstore" && go build -trimpath -o "$out.tmp" .) || store_die "building the object-store emulator failed"
        mv "$out.tmp" "$out"
    fi
    echo "$out"
}

store_pid() {
    local pid
    pid="$(cat "$STORE_DIR/objstore.pid" 2>/dev/null)" || return 1
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

store_config() {
    cat <<JSON
{
  "namespace": "$STORE_NAMESPACE",
  "regions": [
    {"name": "lab-primary", "listen": "$STORE_ADDRESS:$(region_port lab-primary)"},
    {"name": "lab-standby", "listen": "$STORE_ADDRESS:$(region_port lab-standby)"}
  ],
  "dataDir": "$STORE_DIR/data",
  "adminTokenFile": "$STORE_DIR/admin-token",
  "replicationLag": {"baseSeconds": ${ETCD_DR_LAB_REPLICATION_BASE_SECONDS:-1}, "bytesPerSecond": 16777216, "jitterSeconds": 1}
}
JSON
}

store_start() {
    local binary deadline
    if store_pid >/dev/null; then
        return 0
    fi
    binary="$(store_binary)"
    mkdir -p "$STORE_DIR/data"
    chmod 700 "$STORE_DIR"
    if [[ ! -s "$STORE_DIR/admin-token" ]]; then
        (umask 077 && openssl rand -hex 32 >"$STORE_DIR/admin-token")
    fi
    (umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$STORE_DIR/admin-token")" >"$STORE_AUTH")
    store_config >"$STORE_DIR/config.json"
    setsid "$binary" -config "$STORE_DIR/config.json" >>"$STORE_DIR/objstore.log" 2>&1 </dev/null &
    echo $! >"$STORE_DIR/objstore.pid"
    deadline=$((SECONDS + 10))
    until curl -s -o /dev/null "$(store_endpoint lab-primary)/n/"; do
        ((SECONDS < deadline)) || store_die "the object-store emulator did not start; see $STORE_DIR/objstore.log"
        sleep 0.2
    done
    store_log "object storage up: lab-primary $(store_endpoint lab-primary), lab-standby $(store_endpoint lab-standby)"
}

store_stop() {
    local pid waited=0
    if pid="$(store_pid)"; then
        kill -TERM "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null && ((waited < 50)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    # One started by an earlier run whose pid file is gone.
    for pid in $(pgrep -f "objstore-[0-9a-f]+ -config $STORE_DIR/config.json" || true); do
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -f "$STORE_DIR/objstore.pid"
}

store_status() {
    if store_pid >/dev/null; then echo "object storage up"; else echo "object storage down"; return 3; fi
}

# admin METHOD REGION PATH [curl args...]: one admin API call; prints the answer's body. A refusal
# ends the run with one line carrying the store's code and message.
admin() {
    local method=$1 region=$2 path=$3 out status
    shift 3
    [[ -r "$STORE_AUTH" ]] || store_die "the lab's object storage is not running; run \`lab/cloud.sh up\`"
    out="$(mktemp)"
    status="$(curl -sS --max-time 30 -o "$out" -w '%{http_code}' -H @"$STORE_AUTH" -X "$method" "$@" \
        "$(store_endpoint "$region")/n/$STORE_NAMESPACE$path")" || { rm -f "$out"; store_die "$method $path in $region: the store does not answer"; }
    if [[ "$status" != 2* ]]; then
        local answer
        answer="$(tr -d '\n' <"$out")"
        rm -f "$out"
        store_die "$method $path in $region answered $status: $answer"
    fi
    cat "$out"
    rm -f "$out"
}

json_body() { node -e 'process.stdout.write(JSON.stringify(Object.fromEntries(process.argv.slice(1).map((a) => a.split(/=(.*)/s).slice(0, 2)))))' -- "$@"; }

json_field() { node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];if(v===undefined)process.exit(1);process.stdout.write(String(v))})' -- "$1"; }

require_args() {
    local want=$1 usage=$2
    shift 2
    (($# == want)) || store_invalid "usage: store.sh $usage"
    local arg
    for arg in "$@"; do
        [[ -n "$arg" ]] || store_invalid "usage: store.sh $usage (no argument may be empty)"
    done
}

cmd_bucket_create() {
    require_args 2 "bucket-create REGION BUCKET" "$@"
    region_port "$1" >/dev/null
    admin POST "$1" /b/ -H 'Content-Type: application/json' --data-binary "$(json_body "name=$2" compartmentId=lab)"
    echo
}

cmd_par_create() {
    require_args 7 "par-create REGION BUCKET NAME ACCESS_TYPE LISTING PREFIX EXPIRES" "$@"
    local region=$1 bucket=$2 name=$3 access=$4 listing=$5 prefix=$6 expires=$7 body
    region_port "$region" >/dev/null
    body="$(json_body "name=$name" "accessType=$access" "bucketListingAction=$listing" "objectName=$prefix" "timeExpires=$expires")"
    admin POST "$region" "/b/$bucket/p/" -H 'Content-Type: application/json' --data-binary "$body" | json_field fullPath
}

cmd_par_delete() {
    require_args 3 "par-delete REGION BUCKET NAME" "$@"
    local region=$1 bucket=$2 name=$3 ids id
    ids="$(admin GET "$region" "/b/$bucket/p/" |
        node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>{for(const p of JSON.parse(s))if(p.name===process.argv[1])console.log(p.id)})' -- "$name")"
    if [[ -z "$ids" ]]; then
        store_log "no PAR named $name on $bucket; nothing to delete"
        return 0
    fi
    for id in $ids; do
        admin DELETE "$region" "/b/$bucket/p/$id" >/dev/null
    done
    echo "deleted PAR $name of $bucket"
}

cmd_replication_create() {
    require_args 5 "replication-create REGION BUCKET NAME DEST_REGION DEST_BUCKET" "$@"
    region_port "$1" >/dev/null
    region_port "$4" >/dev/null
    admin POST "$1" "/b/$2/replicationPolicies" -H 'Content-Type: application/json' \
        --data-binary "$(json_body "name=$3" "destinationRegionName=$4" "destinationBucketName=$5")"
    echo
}

cmd_lifecycle_put() {
    require_args 2 "lifecycle-put REGION BUCKET (rules as JSON on stdin)" "$@"
    region_port "$1" >/dev/null
    admin PUT "$1" "/b/$2/l" -H 'Content-Type: application/json' --data-binary @-
    echo
}

cmd_make_writable() {
    require_args 2 "make-writable REGION BUCKET" "$@"
    region_port "$1" >/dev/null
    admin POST "$1" "/b/$2/actions/makeBucketWritable" >/dev/null
    echo "bucket $2 in $1 takes writes"
}

store_main() {
    local command=${1:-}
    shift || true
    case "$command" in
        start) store_start ;;
        stop) store_stop ;;
        status) store_status ;;
        endpoint) require_args 1 "endpoint REGION" "$@" && store_endpoint "$1" ;;
        bucket-create | par-create | par-delete | replication-create | lifecycle-put | make-writable) "cmd_${command//-/_}" "$@" ;;
        *) store_invalid "usage: store.sh start|stop|status|endpoint|bucket-create|par-create|par-delete|replication-create|lifecycle-put|make-writable ..." ;;
    esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    store_main "$@"
fi
