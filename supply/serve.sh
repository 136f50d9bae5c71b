#!/usr/bin/env bash
# The lab's package server and registry, from the cached supply (supply/build.sh):
#   supply/serve.sh start ADDR...   on each address: the package repositories over HTTP (supplytool
#                                   serve) and the images (Debian's docker-registry, read-only)
#   supply/serve.sh stop            stops what start started, and nothing else
#   supply/serve.sh status          one line per service; exit 0 when all run, 3 when none does, 1 otherwise
#   supply/serve.sh registry-config ADDR:PORT STORAGE READONLY   prints a docker-registry config
# One process per service and address, each with a pid file and a log in the run directory.
# Environment:
#   ETCD_DR_SUPPLY_HTTP_PORT      package server port (8080)
#   ETCD_DR_SUPPLY_REGISTRY_PORT  registry port (5000)
#   ETCD_DR_POD_SUBNET            podSubnet written into the flannel manifest (10.244.0.0/16)
#   ETCD_DR_SUPPLY_RUN            run directory (~/.cache/etcd-dr/k8s-run)
#   ETCD_DR_SUPPLY_DIR            the supply to serve (default: what supply/build.sh prints)
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly CACHE_BASE="${ETCD_DR_CACHE:-$HOME/.cache/etcd-dr}"
RUN_DIR="${ETCD_DR_SUPPLY_RUN:-$CACHE_BASE/k8s-run}"
RUN_DIR="${RUN_DIR%/}"
readonly RUN_DIR
readonly HTTP_PORT="${ETCD_DR_SUPPLY_HTTP_PORT:-8080}"
readonly REGISTRY_PORT="${ETCD_DR_SUPPLY_REGISTRY_PORT:-5000}"
readonly POD_SUBNET="${ETCD_DR_POD_SUBNET:-10.244.0.0/16}"
# The programs this script starts; stop kills processes of these only.
readonly PROGRAMS=(supplytool docker-registry)

log() { printf 'supply serve: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
trap 'die "failed at line $LINENO: $BASH_COMMAND"' ERR

usage() {
    die "usage: supply/serve.sh start ADDR... | stop | status | registry-config ADDR:PORT STORAGE READONLY"
}

registry_config() {
    local listen="$1" storage="$2" readonly="$3"
    cat <<EOF
version: 0.1
log:
  level: info
  formatter: text
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: $storage
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: false
  maintenance:
    uploadpurging:
      enabled: false
    readonly:
      enabled: $readonly
http:
  addr: $listen
  headers:
    X-Content-Type-Options: [nosniff]
EOF
}

supply_dir() {
    if [[ -n "${ETCD_DR_SUPPLY_DIR:-}" ]]; then
        [[ -f "$ETCD_DR_SUPPLY_DIR/.complete" ]] || die "$ETCD_DR_SUPPLY_DIR is not a complete supply"
        echo "$ETCD_DR_SUPPLY_DIR"
    else
        "$ROOT/supply/build.sh"
    fi
}

# The pid in a pid file, if that process is alive and is one this script started from this run
# directory (a recycled pid belongs to someone else).
live_pid() {
    local pidfile="$1" pid
    [[ -f "$pidfile" ]] || return 1
    pid="$(head -n 1 "$pidfile")"
    [[ "$pid" =~ ^[0-9]+$ ]] && is_ours "$pid" && echo "$pid"
}

# A process is ours when it runs one of PROGRAMS with this run directory in its arguments.
is_ours() {
    local pid="$1" args prog
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    args="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    prog="$(basename "$(head -n 1 <<<"$args")")"
    [[ " ${PROGRAMS[*]} " == *" $prog "* ]] || return 1
    grep -qF -- "$RUN_DIR/" <<<"$args"
}

wait_ready() {
    local name="$1" pid="$2" url="$3"
    for _ in $(seq 1 100); do
        if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$RUN_DIR/$name.log" >&2 || true
            die "$name exited at start; log: $RUN_DIR/$name.log"
        fi
        sleep 0.1
    done
    tail -n 20 "$RUN_DIR/$name.log" >&2 || true
    kill "$pid" 2>/dev/null || true
    die "$name did not answer $url within 10 s; log: $RUN_DIR/$name.log"
}

# Terminates our own processes: TERM, then KILL after 5 s.
terminate() {
    local pid alive=()
    kill -TERM "$@" 2>/dev/null || true
    for _ in $(seq 1 50); do
        alive=()
        for pid in "$@"; do
            if kill -0 "$pid" 2>/dev/null && is_ours "$pid"; then alive+=("$pid"); fi
        done
        [[ ${#alive[@]} -eq 0 ]] && return 0
        sleep 0.1
    done
    log "killing pids ${alive[*]} after 5 s"
    kill -KILL "${alive[@]}" 2>/dev/null || true
}

# Starts one service unless it already runs from the same supply; one that serves an older supply
# (its directory is gone once a new one is built) is restarted. $1 is the service's name, $2 the
# supply directory, $3 its readiness URL, the rest its command. The pid file holds the pid and the
# supply directory.
start_one() {
    local name="$1" dir="$2" url="$3" pidfile="$RUN_DIR/$1.pid" pid
    shift 3
    if pid="$(live_pid "$pidfile")"; then
        if [[ "$(sed -n 2p "$pidfile")" == "$dir" ]]; then
            log "$name already running (pid $pid)"
            return 0
        fi
        log "$name (pid $pid) serves an older supply: restarting it"
        terminate "$pid"
    fi
    setsid "$@" >"$RUN_DIR/$name.log" 2>&1 </dev/null &
    pid=$!
    printf '%s\n%s\n' "$pid" "$dir" >"$pidfile"
    wait_ready "$name" "$pid" "$url"
    log "$name running (pid $pid): $url"
}

start() {
    local dir addr overlay manifest
    [[ $# -gt 0 ]] || usage
    dir="$(supply_dir)"
    mkdir -p "$RUN_DIR"
    for addr in "$@"; do
        [[ "$addr" =~ ^[A-Za-z0-9.-]+$ ]] || die "'$addr' is not an address to listen on"
        registry_config "$addr:$REGISTRY_PORT" "$dir/registry" true >"$RUN_DIR/registry-$addr.yml"
        start_one "registry-$addr" "$dir" "http://$addr:$REGISTRY_PORT/v2/" docker-registry serve "$RUN_DIR/registry-$addr.yml"
        # The flannel manifest names this address's registry; the rest is served from the supply as built.
        overlay="$RUN_DIR/www-$addr"
        manifest="$overlay/cni/kube-flannel.yml"
        mkdir -p "$overlay/cni"
        sed -e "s#@IMAGE_REPOSITORY@#$addr:$REGISTRY_PORT/$(jq -r .registryPath "$dir/supply.json")#g" \
            -e "s#@POD_SUBNET@#$POD_SUBNET#g" "$dir/www/cni/kube-flannel.yml.in" >"$manifest.tmp"
        mv "$manifest.tmp" "$manifest"
        start_one "http-$addr" "$dir" "http://$addr:$HTTP_PORT/$(jq -r .kubernetesAptPath "$dir/supply.json")/Release" \
            "$dir/bin/supplytool" serve -listen "$addr:$HTTP_PORT" -root "$overlay" -root "$dir/www"
    done
}

# Stops every service of this run directory: those in pid files, and any of ours a run that died
# halfway left without one. Survives stale pid files.
stop() {
    local pidfile pid pids=() proc
    [[ -d "$RUN_DIR" ]] || { log "nothing to stop"; return 0; }
    for pidfile in "$RUN_DIR"/*.pid; do
        [[ -f "$pidfile" ]] || continue
        if pid="$(live_pid "$pidfile")"; then pids+=("$pid"); fi
    done
    while read -r proc; do
        pid="${proc#/proc/}"
        pid="${pid%/cmdline}"
        [[ " ${pids[*]} " == *" $pid "* ]] && continue
        if is_ours "$pid"; then pids+=("$pid"); fi
    done < <(grep -lsF -- "$RUN_DIR/" /proc/[0-9]*/cmdline || true)
    if [[ ${#pids[@]} -gt 0 ]]; then
        log "stopping pids ${pids[*]}"
        terminate "${pids[@]}"
    else
        log "nothing running"
    fi
    rm -f "$RUN_DIR"/*.pid "$RUN_DIR"/registry-*.yml
    rm -rf "$RUN_DIR"/www-*
}

status() {
    local pidfile name pid running=0 total=0
    for pidfile in "$RUN_DIR"/*.pid; do
        [[ -f "$pidfile" ]] || continue
        name="$(basename "$pidfile" .pid)"
        total=$((total + 1))
        if pid="$(live_pid "$pidfile")"; then
            running=$((running + 1))
            echo "$name pid $pid running"
        else
            echo "$name pid $(head -n 1 "$pidfile") dead"
        fi
    done
    [[ $total -eq 0 ]] && echo "no services"
    [[ $running -eq 0 ]] && return 3
    [[ $running -eq $total ]]
}

main() {
    local cmd="${1:-}"
    shift || true
    case "$cmd" in
        start) start "$@" ;;
        stop) stop ;;
        status) status || exit $? ;;
        registry-config) [[ $# -eq 3 ]] || usage; registry_config "$@" ;;
        *) usage ;;
    esac
}

main "$@"
