# etcd-dr toolkit, node/lib/etcd.sh: the local etcd member and the control plane around it, found
# through kubeadm's static-pod manifests and the container runtime (crictl), never by process
# name; etcdctl's answers about the member and about snapshot files.
# shellcheck shell=bash

etcd_manifest() {
    local live="$ETCD_DR_MANIFEST_DIR/etcd.yaml" stopped="$ETCD_DR_STATE_DIR/stopped-manifests/etcd.yaml"
    if [[ -f "$live" ]]; then
        echo "$live"
    elif [[ -f "$stopped" ]]; then
        echo "$stopped"
    else
        die "no etcd static-pod manifest at $live (nor a stopped one under $ETCD_DR_STATE_DIR); is this a control-plane node?"
    fi
}

# The value of one --flag=value of the etcd command in the manifest.
manifest_flag() {
    local manifest=$1 flag=$2
    sed -n "s/^[[:space:]]*- --${flag}=\(.*\)$/\1/p" "$manifest" | head -n1 | tr -d '"'"'"
}

# The etcd version a manifest runs: the tag of its image (".../etcd:3.6.6-0" is 3.6.6).
manifest_etcd_version() {
    sed -n 's/^[[:space:]]*image:[[:space:]]*[^[:space:]]*\/etcd:v\{0,1\}\([0-9][0-9.]*\).*$/\1/p' "$1" | head -n1
}

# The first client URL etcd listens on at loopback; kubeadm writes https://127.0.0.1:2379.
manifest_local_endpoint() {
    manifest_flag "$1" listen-client-urls | tr ',' '\n' | grep -m1 '^https://127\.0\.0\.1:' || true
}

# sets: ETCD_CA, ETCD_CERT, ETCD_KEY, ETCD_DATA_DIR, ETCD_ENDPOINT, ETCD_VERSION (read by etcdctl_local and restore)
discover_etcd() {
    local manifest
    manifest="$(etcd_manifest)"
    ETCD_CA="$(manifest_flag "$manifest" trusted-ca-file)"
    ETCD_CERT="$(manifest_flag "$manifest" cert-file)"
    ETCD_KEY="$(manifest_flag "$manifest" key-file)"
    # shellcheck disable=SC2034  # read by restore.sh
    ETCD_DATA_DIR="$(manifest_flag "$manifest" data-dir)"
    # shellcheck disable=SC2034  # read by require_etcd_tools
    ETCD_VERSION="$(manifest_etcd_version "$manifest")"
    [[ -n "$ETCD_CA" && -n "$ETCD_CERT" && -n "$ETCD_KEY" && -n "$ETCD_DATA_DIR" ]] ||
        die "$manifest lacks --trusted-ca-file, --cert-file, --key-file or --data-dir"
    ETCD_ENDPOINT="${ETCD_DR_ENDPOINT:-$(manifest_local_endpoint "$manifest")}"
    ETCD_ENDPOINT="${ETCD_ENDPOINT:-https://127.0.0.1:2379}"
}

# The tool's version as `<tool> version` prints it ("etcdutl version: 3.6.6").
tool_version() {
    "$1" version 2>/dev/null | sed -n "s/^$1 version: //p" | head -n1
}

# etcdctl and etcdutl at the version of the etcd this node runs: a snapshot written or restored by
# another minor version can be refused or, worse, restored with a schema the member does not read.
# reads: ETCD_VERSION (discover_etcd)
require_etcd_tools() {
    local tool have
    for tool in etcdctl etcdutl; do
        command -v "$tool" >/dev/null 2>&1 ||
            die "$tool is not installed on $(hostname -s); the node bootstrap installs it at the cluster's etcd version ${ETCD_VERSION:-?} (kube-bootstrap.sh install_etcd_tools), or install it by hand into /usr/local/bin"
        have="$(tool_version "$tool")"
        [[ -z "${ETCD_VERSION:-}" || "$have" == "$ETCD_VERSION" ]] ||
            die "$tool on $(hostname -s) is ${have:-of unknown version} but etcd runs $ETCD_VERSION; install $tool $ETCD_VERSION (the etcd image's /usr/local/bin has it)"
    done
}

# reads: ETCD_ENDPOINT, ETCD_CA, ETCD_CERT, ETCD_KEY (discover_etcd)
etcdctl_local() {
    etcdctl --endpoints="$ETCD_ENDPOINT" --cacert="$ETCD_CA" --cert="$ETCD_CERT" --key="$ETCD_KEY" \
        --command-timeout="${ETCD_COMMAND_TIMEOUT:-30s}" "$@"
}

# `etcdctl snapshot save` holds --command-timeout for the whole stream (without the flag it has no
# limit and can hang for ever): 30 s failed a 1.18 GB save on a busy lab node ("could not write
# snapshot: context deadline exceeded"). Its budget grows with the database: 2 minutes plus a
# second per 4 MiB (7 minutes for 1.2 GB, 36 for 8 GB).
snapshot_save_timeout() { echo "$((120 + ${ETCD_DB_SIZE:-0} / 4194304))s"; }

# `etcdctl -w fields` prints `"Key" : value` lines; this reads one.
field() {
    local key=$1
    sed -n "s/^\"${key}\" : \"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" | head -n1
}

# reads: ETCD_ENDPOINT and the certificates (discover_etcd)
is_leader() {
    local status member leader
    status="$(etcdctl_local endpoint status -w fields)" || die "the local etcd at $ETCD_ENDPOINT does not answer"
    member="$(field MemberID <<<"$status")"
    leader="$(field Leader <<<"$status")"
    [[ -n "$member" && "$member" == "$leader" ]]
}

# members_hashkv REV: etcd's hash of the keys up to revision REV on every member (`etcdctl endpoint
# hashkv --cluster --rev`), one "member<TAB>hash<TAB>compact revision<TAB>hash revision" line each,
# by member name (a client URL no member lists stays as it is). Fails, with etcdctl's reason on
# stderr, when a member cannot answer: one that has not reached REV yet, or has compacted past it.
# reads: ETCD_ENDPOINT and the certificates (discover_etcd)
members_hashkv() {
    local rev=$1 json list name urls url record endpoint hash compact hashed
    json="$(etcdctl_local endpoint hashkv --cluster --rev="$rev" -w json)" || return 1
    # `member list`: "ID, status, name, peer URLs, client URLs, is learner"; the URLs comma-joined.
    list="$(etcdctl_local member list)" || return 1
    local -A name_of=()
    while IFS=$'\t' read -r name urls; do
        for url in ${urls//,/ }; do name_of["$url"]=$name; done
    done < <(awk -F', ' '{ print $3 "\t" $5 }' <<<"$list")
    # -w json: [{"Endpoint":"https://...","HashKV":{"header":{...},"hash":N,"compact_revision":N,"hash_revision":N}},...]
    # on one line; a field that is 0 is left out (protobuf's omitempty).
    while IFS= read -r record; do
        [[ "$record" =~ ^\{\"Endpoint\":\"([^\"]+)\" ]] || continue
        endpoint=${BASH_REMATCH[1]} hash=0 compact=0 hashed=0
        [[ "$record" =~ \"hash\":([0-9]+) ]] && hash=${BASH_REMATCH[1]}
        [[ "$record" =~ \"compact_revision\":([0-9]+) ]] && compact=${BASH_REMATCH[1]}
        [[ "$record" =~ \"hash_revision\":([0-9]+) ]] && hashed=${BASH_REMATCH[1]}
        printf '%s\t%s\t%s\t%s\n' "${name_of[$endpoint]:-$endpoint}" "$hash" "$compact" "$hashed"
    done <<<"${json//'{"Endpoint":'/$'\n{"Endpoint":'}"
}

# hashkv_agreement TABLE EXPECTED: reads members_hashkv's lines and this site's members (sorted,
# comma-separated), and prints one verdict line:
#   same HASH         every member answered, at one compact revision, with HASH;
#   wait WHY          not comparable yet (a member missing, a compaction under way): ask again;
#   differ WHAT       the members hold different data: WHAT names each one's hash and who differs.
hashkv_agreement() {
    local table=$1 expected=$2 name hash compact hashed answered compacts hashes
    local -A by_hash=()
    # A member with two client URLs answers twice: once each.
    table="$(awk -F'\t' 'NF == 4 && !seen[$1]++' <<<"$table")"
    answered="$(cut -f1 <<<"$table" | sort | paste -sd, -)"
    [[ "$answered" == "$expected" ]] || { echo "wait etcd's hash came from ${answered:-no member}, the members are $expected"; return 0; }
    compacts="$(cut -f3,4 <<<"$table" | sort -u | wc -l)"
    # Compaction changes what a hash covers: only hashes over one history compare.
    ((compacts == 1)) || { echo "wait the members hashed at different compact revisions (a compaction is under way)"; return 0; }
    local listing=""
    while IFS=$'\t' read -r name hash compact hashed; do
        by_hash[$hash]+="${by_hash[$hash]:+,}$name"
        listing+="${listing:+, }$name $hash"
    done < <(sort <<<"$table")
    hashes=${#by_hash[@]}
    if ((hashes == 1)); then
        echo "same ${!by_hash[*]}"
        return 0
    fi
    # The members most of them agree with, if one hash is held by more members than any other.
    local most="" top=0 tied=false members count
    for hash in "${!by_hash[@]}"; do
        members=${by_hash[$hash]}
        count=$(($(tr -cd , <<<"$members" | wc -c) + 1))
        if ((count > top)); then
            top=$count most=$members tied=false
        elif ((count == top)); then
            tied=true
        fi
    done
    if $tied; then
        echo "differ $listing; no hash is held by more members than any other"
    else
        local others verb=differs
        others="$(tr ',' '\n' <<<"$expected" | grep -vxF -f <(tr ',' '\n' <<<"$most") | paste -sd, -)"
        [[ "$others" != *,* ]] || verb=differ
        echo "differ $listing; $others $verb from $most"
    fi
}

# snapshot_status FILE: etcd's snapshot status of a database file; fails unless it has a revision.
# sets: SNAP_REVISION, SNAP_HASH, SNAP_KEYS (read by write_manifest, record_backup and the commands' reports)
snapshot_status() {
    local file=$1 out
    if command -v etcdutl >/dev/null 2>&1; then
        out="$(etcdutl snapshot status "$file" -w fields)" || return 1
    else
        out="$(etcdctl snapshot status "$file" -w fields 2>/dev/null)" || return 1
    fi
    SNAP_REVISION="$(field Revision <<<"$out")"
    # shellcheck disable=SC2034  # read by write_manifest (manifest.sh)
    SNAP_HASH="$(field Hash <<<"$out")"
    SNAP_KEYS="$(field TotalKey <<<"$out")"
    [[ -n "$SNAP_KEYS" ]] || SNAP_KEYS="$(field Keys <<<"$out")"
    [[ "$SNAP_REVISION" =~ ^[0-9]+$ ]]
}

# What encrypts Secrets at rest on this node's apiserver: "none", "sha256:<digest>" of the
# EncryptionConfiguration its --encryption-provider-config names (the file holds the keys, so
# equal digests mean the same keys), or "unknown" when that file cannot be read here.
# Restored Secrets are readable only by an apiserver with the configuration that wrote them.
apiserver_encryption() {
    local manifest="$ETCD_DR_MANIFEST_DIR/kube-apiserver.yaml" config
    [[ -f "$manifest" ]] || manifest="$ETCD_DR_STATE_DIR/stopped-manifests/kube-apiserver.yaml"
    if [[ ! -f "$manifest" ]]; then
        echo unknown
        return 0
    fi
    config="$(manifest_flag "$manifest" encryption-provider-config)"
    if [[ -z "$config" ]]; then
        echo none
    elif [[ -r "$config" ]]; then
        echo "sha256:$(sha256 "$config")"
    else
        echo unknown
    fi
}

# --- the container runtime -------------------------------------------------------------------

crictl_node() {
    crictl --runtime-endpoint "${ETCD_DR_CRI_ENDPOINT:-unix:///run/containerd/containerd.sock}" --timeout 10s "$@"
}

# Ids of the running containers of one kubeadm static pod (crictl's --name is a regular expression).
static_pod_containers() {
    crictl_node ps -q --state Running --name "^$1\$" --label io.kubernetes.pod.namespace=kube-system
}

static_pod_running() {
    local ids
    ids="$(static_pod_containers "$1")" || die "crictl cannot list containers on $(hostname -s); is containerd running?"
    [[ -n "$ids" ]]
}

# The control-plane ports still bound on this node (host network: etcd 2379/2380, apiserver 6443).
busy_control_plane_ports() {
    ss -Hltn '( sport = :2379 or sport = :2380 or sport = :6443 )' | awk '{ sub(/.*:/, "", $4); print $4 }' | sort -u | paste -sd, -
}
