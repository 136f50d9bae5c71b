#!/usr/bin/env bash
# Lab instances: the local cloud's compute API. An instance is a systemd-nspawn machine booting the
# OCI-like image of lab/image.sh, on its site's bridge, configured by cloud-init from a NoCloud seed
# (meta-data, network-config, and the user data given, byte for byte), as an OCI instance is.
#
#   instance.sh create --site primary|standby --name NAME --address IP/24 --gateway IP \
#                      --user-data FILE --ssh-key PUBKEY_FILE
#       Boots a new instance and prints it as one JSON object (see `list --json`). Returns once the
#       machine runs; SSH answers a few seconds later (wait-ssh). Builds the image first if needed.
#       `--user-data -` reads the user data from stdin (keeps a secret off the disk and the argv).
#   instance.sh delete --site SITE --name NAME
#       Powers the instance off (orderly, then killed after 30s) and removes all it had. Deleting an
#       instance that does not exist succeeds and says so.
#   instance.sh list [--json]
#       A table, or a JSON array of {site, name, machine, address, prefix, gateway, bridge,
#       instanceId, created, state: running|stopped, pid}.
#   instance.sh reset --site SITE --name NAME
#       A power cut and a boot, as OCI's RESET instance action: every process of the machine is
#       killed at once (no shutdown), then it boots again from the same disk (overlay, containerd
#       dir) with the same address; prints it as list --json does. SSH answers a few seconds later.
#   instance.sh wait-ssh --site SITE --name NAME [--timeout SECONDS]   (default 180)
#       Waits until the instance's sshd answers, then prints its SSH host keys in known_hosts form
#       ("ADDRESS TYPE KEY"), read from the instance's own disk, for pinning.
#   instance.sh down-all
#       Removes every instance and all it left: processes, overlays, containerd dirs, cgroups in every
#       host hierarchy, pid files, bridges this script made. Survives a run that died halfway.
#
# Exit codes: 0 done; 2 invalid input or usage (nothing was changed); 1 anything else (one ERROR line
# on stderr says what and what to do). Needs root. Sourced, it only defines functions.
#
# Names: site primary -> bridge edr-br-p, 10.250.1.0/24, host 10.250.1.1 (standby: -s, 10.250.2.0/24);
# instance NAME on site primary is machine edri-p-NAME. State: $ETCD_DR_LAB_DIR/instances/SITE/NAME/
# (default /var/lib/etcd-dr-lab), cgroups: /sys/fs/cgroup/<hierarchy>/<own path>/edri-?-NAME.
# Nothing is routed or NATed off the lab bridges: the default route points at the host, which does
# not forward.
set -Eeuo pipefail
shopt -s nullglob

INSTANCE_LAB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly INSTANCE_LAB
readonly INSTANCE_LAB_DIR="${ETCD_DR_LAB_DIR:-/var/lib/etcd-dr-lab}"
readonly INSTANCES="$INSTANCE_LAB_DIR/instances"
readonly INSTANCE_SITES=(primary standby)
# W1: what runc (nested) needs beyond nspawn's default syscall filter.
readonly INSTANCE_SYSCALLS='@keyring @mount @privileged @clock @module @raw-io @reboot @swap @cpu-emulation @debug @obsolete'
readonly INSTANCE_STOP_SECONDS=30
readonly INSTANCE_MACHINE_GLOB='edri-[ps]-*'
# The lab's service address (lab/cloud.sh): the instances' resolver. Nothing answers DNS there, as
# nothing outside the lab is reachable; a resolver must exist for CoreDNS to start.
readonly INSTANCE_SERVICE_ADDRESS=10.250.0.1
readonly INSTANCE_PEERING_OCTET=254

# shellcheck source=image.sh disable=SC1091 # checked on its own (make lint)
source "$INSTANCE_LAB/image.sh"

log() { printf 'instance: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
invalid() { log "ERROR: $*"; exit 2; }

# ---------------------------------------------------------------------------------------------
# names and addresses (pure)

site_known() { [[ " ${INSTANCE_SITES[*]} " == *" $1 "* ]]; }
site_index() { [[ "$1" == primary ]] && echo 1 || echo 2; }
site_letter() { [[ "$1" == primary ]] && echo p || echo s; }
site_bridge() { echo "edr-br-$(site_letter "$1")"; }
site_host_address() { echo "10.250.$(site_index "$1").1"; }
machine_name() { echo "edri-$(site_letter "$1")-$2"; }
instance_dir() { echo "$INSTANCES/$1/$2"; }

# A DNS label (OCI's hostnameLabel), short enough for the machine name edri-?-NAME (64 at most).
name_valid() { [[ "$1" =~ ^[a-z0-9]([a-z0-9-]{0,55}[a-z0-9])?$ ]]; }

ipv4_valid() {
    local IFS=. octet
    [[ "$1" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
    for octet in $1; do
        ((10#$octet <= 255)) || return 1
    done
}

# Prints what is wrong with ADDRESS/PREFIX on SITE, nothing when it is a usable instance address.
address_problem() {
    local site=$1 cidr=$2 ip prefix subnet last
    subnet="10.250.$(site_index "$site")"
    if [[ "$cidr" != */* ]]; then
        echo "--address $cidr has no prefix length; give it as $subnet.N/24"
        return
    fi
    ip="${cidr%/*}"
    prefix="${cidr#*/}"
    if ! ipv4_valid "$ip" || [[ ! "$prefix" =~ ^[0-9]+$ ]]; then
        echo "--address $cidr is not an IPv4 address with a prefix length; give it as $subnet.N/24"
    elif [[ "$prefix" != 24 ]]; then
        echo "--address $cidr has prefix /$prefix, but the $site subnet is $subnet.0/24; use /24"
    elif [[ "${ip%.*}" != "$subnet" ]]; then
        echo "--address $ip is outside the $site subnet $subnet.0/24; use an address in it"
    else
        last="${ip##*.}"
        if ((10#$last < 2 || 10#$last > 254)); then
            echo "--address $ip is the network, broadcast or host address of $subnet.0/24; use $subnet.2 to $subnet.254"
        fi
    fi
}

# ---------------------------------------------------------------------------------------------
# instance records

# instance.env holds only validated values (no spaces, no quotes): KEY=VALUE lines.
record_get() {
    local file=$1 key=$2
    sed -n "s/^$key=//p" "$file" | head -n1
}

nspawn_pid() {
    local dir=$1 pid machine
    [[ -f "$dir/nspawn.pid" ]] || return 1
    pid="$(cat "$dir/nspawn.pid")"
    machine="$(record_get "$dir/instance.env" MACHINE)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    # Only our own systemd-nspawn: a reused PID belongs to someone else.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "^systemd-nspawn .*--machine=$machine " || return 1
    echo "$pid"
}

instance_json() {
    local dir=$1 file="$1/instance.env" pid state=stopped
    if pid="$(nspawn_pid "$dir")"; then
        state=running
    else
        pid=null
    fi
    printf '{"site":"%s","name":"%s","machine":"%s","address":"%s","prefix":%s,"gateway":"%s","bridge":"%s","instanceId":"%s","created":"%s","state":"%s","pid":%s}\n' \
        "$(record_get "$file" SITE)" "$(record_get "$file" NAME)" "$(record_get "$file" MACHINE)" \
        "$(record_get "$file" ADDRESS)" "$(record_get "$file" PREFIX)" "$(record_get "$file" GATEWAY)" \
        "$(record_get "$file" BRIDGE)" "$(record_get "$file" INSTANCE_ID)" "$(record_get "$file" CREATED)" "$state" "$pid"
}

all_instance_dirs() {
    local dir
    for dir in "$INSTANCES"/*/*/; do
        [[ -f "$dir/instance.env" ]] && echo "${dir%/}"
    done
    return 0
}

# ---------------------------------------------------------------------------------------------
# host resources: lock, bridge, overlay, cgroups

require_root() {
    [[ $EUID -eq 0 ]] || invalid "lab instances need root (containers, bridges, mounts, cgroups); run as root"
    local tool
    for tool in systemd-nspawn ip flock findmnt setsid ssh-keygen mount umount; do
        command -v "$tool" >/dev/null || invalid "$tool is missing; run \`make deps\`"
    done
}

# One change at a time (instances are created in parallel by the program).
take_lock() {
    mkdir -p "$INSTANCES"
    exec {INSTANCE_LOCK}>"$INSTANCES/.lock"
    flock "$INSTANCE_LOCK"
}

# A site's bridge; a bridge made here is noted so that down-all may remove it.
ensure_bridge() {
    local site=$1 br
    br="$(site_bridge "$site")"
    if ! ip link show "$br" >/dev/null 2>&1; then
        ip link add name "$br" type bridge
        ip addr add "$(site_host_address "$site")/24" dev "$br"
        mkdir -p "$INSTANCES/.bridges"
        touch "$INSTANCES/.bridges/$br"
    fi
    ip link set "$br" up
}

# "MOUNTPOINT OWN_PATH" for every cgroup hierarchy of the host: where this process sits in each
# (a v1 hierarchy is matched to its /proc/self/cgroup line by its set of controllers).
cgroup_hierarchies() {
    awk '
        function key(list,    n, parts, i, j, t, out) {
            n = split(list, parts, ",")
            for (i = 2; i <= n; i++)
                for (j = i; j > 1 && parts[j - 1] > parts[j]; j--) { t = parts[j]; parts[j] = parts[j - 1]; parts[j - 1] = t }
            for (i = 1; i <= n; i++) out = out (i > 1 ? "," : "") parts[i]
            return out
        }
        BEGIN { split("blkio cpu cpuacct cpuset devices freezer hugetlb memory misc net_cls net_prio perf_event pids rdma", c, " "); for (i in c) controller[c[i]] = 1 }
        FNR == NR {
            id = $0; sub(/:.*/, "", id)
            rest = substr($0, length(id) + 2); list = rest; sub(/:.*/, "", list)
            path = substr(rest, length(list) + 2)
            if (id == 0) unified = path; else own[key(list)] = path
            next
        }
        $1 ~ /^\/sys\/fs\/cgroup\// {
            if ($2 == "cgroup2") { print $1, unified; next }
            n = split($3, options, ","); wanted = ""
            for (i = 1; i <= n; i++) if (options[i] in controller || options[i] ~ /^name=/) wanted = wanted (wanted == "" ? "" : ",") options[i]
            wanted = key(wanted)
            if (wanted != "" && wanted in own) print $1, own[wanted]
        }
    ' /proc/self/cgroup <(findmnt -rn -t cgroup,cgroup2 -o TARGET,FSTYPE,FS-OPTIONS)
}

# W5: the machine gets its own subtree in every hierarchy before nspawn starts, so its cgroup namespace
# (and all that nested containers make) lives there and nowhere else.
make_cgroups() {
    local dir=$1 machine=$2 target path cg
    : >"$dir/cgroups"
    while read -r target path; do
        cg="$target${path%/}/$machine"
        mkdir -p "$cg"
        echo "$cg" >>"$dir/cgroups"
        if [[ -f "$cg/cpuset.cpus" ]]; then
            cat "$(dirname "$cg")/cpuset.cpus" >"$cg/cpuset.cpus"
            cat "$(dirname "$cg")/cpuset.mems" >"$cg/cpuset.mems"
        fi
    done < <(cgroup_hierarchies)
}

# Every cgroup directory an instance named MACHINE_GLOB has in any hierarchy, also those of runs whose
# records are gone (a machine's memory cgroup sits under whatever cgroup created it).
lab_cgroup_dirs() {
    local glob=${1:-$INSTANCE_MACHINE_GLOB}
    find /sys/fs/cgroup -mindepth 2 -maxdepth 6 -type d -name "$glob" -prune -print 2>/dev/null
    return 0
}

cgroup_members() {
    local cg
    for cg in "$@"; do
        [[ -d "$cg" ]] && find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null
    done | sort -un
    return 0
}

remove_cgroups() {
    local cg
    for cg in "$@"; do
        for _ in 1 2 3 4 5; do
            [[ -d "$cg" ]] || break
            find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || sleep 0.2
        done
        [[ ! -d "$cg" ]] || log "could not remove $cg (processes left in it?); run \`lab/instance.sh down-all\` again"
    done
}

unmount_under() {
    local dir=$1 mount
    while read -r mount; do
        umount "$mount" 2>/dev/null || umount -l "$mount"
    done < <(awk -v dir="$dir/" 'index($2, dir) == 1 { print $2 }' /proc/mounts | sort -r)
}

# Every process whose root file system is an instance overlay: what a killed systemd-nspawn left.
# (mountinfo: the 5th field is the mount point; the host's own processes see the overlays elsewhere.)
overlay_processes() {
    local upper
    # shellcheck disable=SC2001,SC2016 # escape a path for grep -E; nothing to expand
    upper="$(sed 's/[][\.*^$()+?{}|]/\\&/g' <<<"upperdir=$INSTANCES/")"
    grep -lE "^[^ ]+ [^ ]+ [^ ]+ [^ ]+ / .*$upper" /proc/[0-9]*/mountinfo 2>/dev/null | cut -d/ -f3
    return 0
}

# SIGKILL, until nothing is left, for everything in the given cgroups (ours alone: W5).
kill_members() {
    local pids
    for _ in $(seq 1 20); do
        pids="$(cgroup_members "$@")"
        [[ -n "$pids" ]] || return 0
        # shellcheck disable=SC2086 # a list of PIDs
        kill -KILL $pids 2>/dev/null || true
        sleep 0.2
    done
    log "processes survive SIGKILL in $*"
}

# ---------------------------------------------------------------------------------------------
# one instance

write_seed() {
    local dir=$1 site=$2 name=$3 cidr=$4 gateway=$5 user_data=$6 ssh_key=$7 instance_id=$8 seed line
    seed="$dir/merged/var/lib/cloud/seed/nocloud"
    install -d -m 0700 "$seed"
    {
        echo "instance-id: $instance_id"
        echo "local-hostname: $name"
        echo "public-keys:"
        while read -r line || [[ -n "$line" ]]; do
            [[ -n "$line" && "$line" != \#* ]] && printf "  - '%s'\n" "${line//\'/\'\'}"
        done <"$ssh_key"
    } >"$seed/meta-data"
    local other
    other="$( [[ "$site" == primary ]] && echo standby || echo primary)"
    # The other site is reached through the peering router (lab/cloud.sh peering), as an OCI subnet's
    # route table sends the peer VCN to its DRG; without the peering, nothing answers there.
    cat >"$seed/network-config" <<YAML
version: 2
ethernets:
  host0:
    addresses: [$cidr]
    routes:
      - to: 0.0.0.0/0
        via: $gateway
      - to: 10.250.$(site_index "$other").0/24
        via: 10.250.$(site_index "$site").$INSTANCE_PEERING_OCTET
YAML
    echo "nameserver $INSTANCE_SERVICE_ADDRESS" >"$dir/merged/etc/resolv.conf"
    if [[ "$user_data" == - ]]; then
        cat >"$seed/user-data"
    else
        cp -- "$user_data" "$seed/user-data"
    fi
    chmod 0600 "$seed/meta-data" "$seed/network-config" "$seed/user-data"
}

start_nspawn() {
    local dir=$1 machine=$2 name=$3 bridge=$4 cg
    (
        exec {INSTANCE_LOCK}>&-
        while read -r cg; do
            echo "$BASHPID" >"$cg/cgroup.procs"
        done <"$dir/cgroups"
        cd /
        export SYSTEMD_NSPAWN_API_VFS_WRITABLE=1
        exec setsid systemd-nspawn --quiet --boot --register=no --keep-unit --console=read-only \
            --directory="$dir/merged" --machine="$machine" --hostname="$name" \
            --network-bridge="$bridge" --resolv-conf=off --timezone=off --link-journal=no \
            --capability=all --system-call-filter="$INSTANCE_SYSCALLS" \
            --bind="$dir/containerd:/var/lib/containerd" --bind=/dev/kmsg
    ) >"$dir/console.log" 2>&1 </dev/null &
    echo "$!" >"$dir/nspawn.pid"
}

# Orderly power-off (nspawn turns SIGTERM into the machine's poweroff), then SIGKILL after the timeout.
stop_instance() {
    local dir=$1 pid started=$SECONDS cgroups=()
    [[ -f "$dir/cgroups" ]] && mapfile -t cgroups <"$dir/cgroups"
    if pid="$(nspawn_pid "$dir")"; then
        kill -TERM "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null && ((SECONDS - started < INSTANCE_STOP_SECONDS)); do
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$(basename "$dir") did not power off in ${INSTANCE_STOP_SECONDS}s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        else
            log "$(basename "$dir") powered off in $((SECONDS - started))s"
        fi
    fi
    [[ ${#cgroups[@]} -eq 0 ]] || kill_members "${cgroups[@]}"
    rm -f "$dir/nspawn.pid"
}

remove_instance() {
    local dir=$1 cgroups=()
    stop_instance "$dir"
    [[ -f "$dir/cgroups" ]] && mapfile -t cgroups <"$dir/cgroups"
    unmount_under "$dir"
    [[ ${#cgroups[@]} -eq 0 ]] || remove_cgroups "${cgroups[@]}"
    if awk -v dir="$dir/" 'index($2, dir) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
        die "$dir still has mounts; unmount them, then run \`lab/instance.sh down-all\`"
    fi
    rm -rf "$dir"
}

# ---------------------------------------------------------------------------------------------
# commands

# Fills the caller's site/name (and, for create, the rest) from the command line.
parse_flags() {
    local allowed=$1
    shift
    while (($#)); do
        [[ " $allowed " == *" $1 "* ]] || invalid "unknown option '$1'; $(usage_line)"
        [[ $# -ge 2 ]] || invalid "option $1 needs a value; $(usage_line)"
        case "$1" in
            --site) site=$2 ;;
            --name) name=$2 ;;
            --address) address=$2 ;;
            --gateway) gateway=$2 ;;
            --user-data) user_data=$2 ;;
            --ssh-key) ssh_key=$2 ;;
            --timeout) timeout=$2 ;;
        esac
        shift 2
    done
}

usage_line() {
    echo "usage: instance.sh create --site primary|standby --name NAME --address IP/24 --gateway IP --user-data FILE --ssh-key FILE | delete --site SITE --name NAME | list [--json] | reset --site SITE --name NAME | wait-ssh --site SITE --name NAME [--timeout S] | down-all"
}

validate_site_name() {
    [[ -n "$site" ]] || invalid "--site is missing; give primary or standby"
    site_known "$site" || invalid "unknown site '$site'; give primary or standby"
    [[ -n "$name" ]] || invalid "--name is missing; give the instance's host name (a DNS label)"
    name_valid "$name" || invalid "--name '$name' is not a DNS label of at most 57 characters (a-z, 0-9, inner '-'); give a host name like cp1"
}

# Every check create makes before it changes anything.
validate_create() {
    local problem host
    validate_site_name
    [[ -n "$address" ]] || invalid "--address is missing; give the instance's address as IP/24 in its site's subnet"
    problem="$(address_problem "$site" "$address")"
    [[ -z "$problem" ]] || invalid "$problem"
    host="$(site_host_address "$site")"
    [[ -n "$gateway" ]] || invalid "--gateway is missing; on $site it is the lab host, $host"
    [[ "$gateway" == "$host" ]] || invalid "--gateway $gateway is not the $site lab host; the only gateway on $site is $host"
    [[ -n "$user_data" ]] || invalid "--user-data is missing; give the cloud-init user data file (or - for stdin)"
    [[ "$user_data" == - || ( -f "$user_data" && -r "$user_data" ) ]] || invalid "--user-data $user_data is not a readable file; give the cloud-init user data file"
    [[ -n "$ssh_key" ]] || invalid "--ssh-key is missing; give a public key file (authorized_keys lines)"
    [[ -f "$ssh_key" && -r "$ssh_key" ]] || invalid "--ssh-key $ssh_key is not a readable file; give a public key file"
    if grep -q 'PRIVATE KEY' "$ssh_key" || ! ssh-keygen -l -f "$ssh_key" >/dev/null 2>&1; then
        invalid "--ssh-key $ssh_key holds no SSH public key; give the .pub file"
    fi
}

# Called with the lock held: what another instance already uses.
check_free() {
    local dir ip="${address%/*}" stale=()
    [[ ! -e "$(instance_dir "$site" "$name")" ]] ||
        invalid "instance $name already exists on $site; delete it first (lab/instance.sh delete --site $site --name $name)"
    for dir in $(all_instance_dirs); do
        [[ "$(record_get "$dir/instance.env" ADDRESS)" == "$ip" && "$(record_get "$dir/instance.env" SITE)" == "$site" ]] &&
            invalid "--address $ip is taken by instance $(record_get "$dir/instance.env" NAME) on $site; use another address"
    done
    mapfile -t stale < <(lab_cgroup_dirs "$(machine_name "$site" "$name")")
    [[ ${#stale[@]} -eq 0 || -z "$(cgroup_members "${stale[@]}")" ]] ||
        invalid "processes of an earlier $name on $site are still running; run \`lab/instance.sh down-all\` first"
    return 0
}

# Set while create is half done: on any exit but success, what it made is removed again.
CREATING=""
on_exit() {
    local status=$?
    if [[ -n "$CREATING" && $status -ne 0 ]]; then
        log "create failed; removing what it made of $CREATING"
        remove_instance "$CREATING" || true
    fi
}

cmd_create() {
    local site="" name="" address="" gateway="" user_data="" ssh_key="" timeout=""
    parse_flags "--site --name --address --gateway --user-data --ssh-key" "$@"
    validate_create
    require_root
    local image dir machine bridge instance_id started=$SECONDS
    image="$(image_build)"
    take_lock
    check_free
    dir="$(instance_dir "$site" "$name")"
    machine="$(machine_name "$site" "$name")"
    bridge="$(site_bridge "$site")"
    instance_id="$machine-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
    trap on_exit EXIT
    CREATING="$dir"
    mkdir -p "$dir/upper" "$dir/work" "$dir/merged" "$dir/containerd"
    cat >"$dir/instance.env" <<ENV
SITE=$site
NAME=$name
MACHINE=$machine
ADDRESS=${address%/*}
PREFIX=${address#*/}
GATEWAY=$gateway
BRIDGE=$bridge
INSTANCE_ID=$instance_id
IMAGE=$image
CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ENV
    ensure_bridge "$site"
    mount -t overlay overlay -o "lowerdir=$image,upperdir=$dir/upper,workdir=$dir/work" "$dir/merged"
    write_seed "$dir" "$site" "$name" "$address" "$gateway" "$user_data" "$ssh_key" "$instance_id"
    make_cgroups "$dir" "$machine"
    start_nspawn "$dir" "$machine" "$name" "$bridge"
    sleep 0.5
    nspawn_pid "$dir" >/dev/null || die "systemd-nspawn for $machine exited at once; see $dir/console.log"
    CREATING=""
    exec {INSTANCE_LOCK}>&-
    log "$site/$name ($machine, ${address%/*}) started in $((SECONDS - started))s"
    instance_json "$dir"
}

cmd_delete() {
    local site="" name="" address="" gateway="" user_data="" ssh_key="" timeout="" dir started=$SECONDS
    parse_flags "--site --name" "$@"
    validate_site_name
    require_root
    take_lock
    dir="$(instance_dir "$site" "$name")"
    if [[ ! -d "$dir" ]]; then
        log "no instance $name on $site; nothing to delete"
        return 0
    fi
    remove_instance "$dir"
    log "$site/$name deleted in $((SECONDS - started))s"
}

cmd_reset() {
    local site="" name="" address="" gateway="" user_data="" ssh_key="" timeout="" dir pid machine cgroups=()
    parse_flags "--site --name" "$@"
    validate_site_name
    require_root
    take_lock
    dir="$(instance_dir "$site" "$name")"
    [[ -f "$dir/instance.env" ]] || invalid "no instance $name on $site; create it first"
    machine="$(record_get "$dir/instance.env" MACHINE)"
    [[ -f "$dir/cgroups" ]] && mapfile -t cgroups <"$dir/cgroups"
    # SIGKILL to nspawn and to every member of the machine's cgroups: nothing runs a shutdown.
    if pid="$(nspawn_pid "$dir")"; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    [[ ${#cgroups[@]} -eq 0 ]] || kill_members "${cgroups[@]}"
    rm -f "$dir/nspawn.pid"
    ensure_bridge "$site"
    start_nspawn "$dir" "$machine" "$name" "$(record_get "$dir/instance.env" BRIDGE)"
    sleep 0.5
    nspawn_pid "$dir" >/dev/null || die "systemd-nspawn for $machine exited at once after the reset; see $dir/console.log"
    exec {INSTANCE_LOCK}>&-
    log "$site/$name ($machine) reset: powered off at once and booted again"
    instance_json "$dir"
}

cmd_list() {
    local dir json=false first=true
    case "${1:-}" in
        --json) json=true ;;
        "") ;;
        *) invalid "unknown option '$1'; usage: instance.sh list [--json]" ;;
    esac
    if $json; then
        printf '['
        for dir in $(all_instance_dirs); do
            $first || printf ','
            first=false
            instance_json "$dir" | tr -d '\n'
        done
        printf ']\n'
        return 0
    fi
    printf '%-8s %-20s %-16s %-26s %s\n' SITE NAME ADDRESS MACHINE STATE
    for dir in $(all_instance_dirs); do
        instance_json "$dir" | sed -E 's/.*"site":"([^"]*)","name":"([^"]*)","machine":"([^"]*)","address":"([^"]*)".*"state":"([^"]*)".*/\1 \2 \4 \3 \5/' |
            xargs printf '%-8s %-20s %-16s %-26s %s\n'
    done
}

ssh_answers() {
    local ip=$1 banner
    # shellcheck disable=SC2016 # $1 expands in the inner shell
    banner="$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/22" && head -c 8 <&3' _ "$ip" 2>/dev/null)" || return 1
    [[ "$banner" == SSH-2.0* ]]
}

cmd_wait_ssh() {
    local site="" name="" address="" gateway="" user_data="" ssh_key="" timeout=180 dir ip key started=$SECONDS
    parse_flags "--site --name --timeout" "$@"
    validate_site_name
    [[ "$timeout" =~ ^[0-9]+$ ]] || invalid "--timeout $timeout is not a number of seconds"
    require_root
    dir="$(instance_dir "$site" "$name")"
    [[ -f "$dir/instance.env" ]] || invalid "no instance $name on $site; create it first"
    ip="$(record_get "$dir/instance.env" ADDRESS)"
    until ssh_answers "$ip"; do
        nspawn_pid "$dir" >/dev/null || die "instance $name on $site is not running; see $dir/console.log"
        ((SECONDS - started < timeout)) || die "instance $name on $site ($ip) did not answer SSH in ${timeout}s; see $dir/console.log"
        sleep 0.5
    done
    log "$site/$name answers SSH at $ip after $((SECONDS - started))s"
    for key in "$dir"/merged/etc/ssh/ssh_host_*_key.pub; do
        printf '%s %s\n' "$ip" "$(cut -d' ' -f1,2 "$key")"
    done
}

cmd_down_all() {
    require_root
    local dir pid started=$SECONDS waited=0 cgroups=() br count=0
    take_lock
    # Ask every machine to power off: recorded ones, then any systemd-nspawn or machine left over.
    for dir in $(all_instance_dirs); do
        count=$((count + 1))
        pid="$(nspawn_pid "$dir")" && kill -TERM "$pid" 2>/dev/null
    done
    for pid in $(pgrep -f "^systemd-nspawn .*--directory=$INSTANCES/" || true); do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $(overlay_processes); do
        if [[ "$(awk '/^NSpid:/ { print $NF }' "/proc/$pid/status" 2>/dev/null)" == 1 ]]; then
            kill -RTMIN+3 "$pid" 2>/dev/null || true
        fi
    done
    while { [[ -n "$(overlay_processes)" ]] || pgrep -f "^systemd-nspawn .*--directory=$INSTANCES/" >/dev/null; } &&
        ((waited < INSTANCE_STOP_SECONDS * 5)); do
        sleep 0.2
        waited=$((waited + 1))
    done
    # Whatever is still there is killed: members of the instances' cgroups, overlay-rooted processes,
    # and their systemd-nspawn.
    mapfile -t cgroups < <(lab_cgroup_dirs)
    [[ ${#cgroups[@]} -eq 0 ]] || kill_members "${cgroups[@]}"
    for pid in $(overlay_processes) $(pgrep -f "^systemd-nspawn .*--directory=$INSTANCES/" || true); do
        kill -KILL "$pid" 2>/dev/null || true
    done
    unmount_under "$INSTANCES"
    mapfile -t cgroups < <(lab_cgroup_dirs)
    [[ ${#cgroups[@]} -eq 0 ]] || remove_cgroups "${cgroups[@]}"
    for br in "$INSTANCES"/.bridges/*; do
        br="$(basename "$br")"
        if ip link show "$br" >/dev/null 2>&1 && [[ -z "$(ip -o link show master "$br")" ]]; then
            ip link del "$br"
        fi
    done
    if awk -v dir="$INSTANCES/" 'index($2, dir) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
        die "mounts under $INSTANCES remain; unmount them and run \`lab/instance.sh down-all\` again"
    fi
    rm -rf "$INSTANCES"
    log "down-all in $((SECONDS - started))s: $count instance(s) and everything they left are gone"
}

instance_main() {
    local command="${1:-}"
    shift || true
    case "$command" in
        create) cmd_create "$@" ;;
        delete) cmd_delete "$@" ;;
        reset) cmd_reset "$@" ;;
        list) cmd_list "$@" ;;
        wait-ssh) cmd_wait_ssh "$@" ;;
        down-all) cmd_down_all "$@" ;;
        *) invalid "$(usage_line)" ;;
    esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    instance_main "$@"
fi
