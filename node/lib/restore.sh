# etcd-dr toolkit, node/lib/restore.sh: `etcd-dr restore <phase> ID`, the failover on a kubeadm
# site, phase by phase:
#   on every control-plane node: prepare, stop, apply, start; then verify on one of them;
#   on every node: restart-kubelet; then reconcile on one control-plane node.
# Each phase is safe to run again: a phase that finished for the id now on disk is a no-op, and an
# interrupted apply resumes from its journal (the marker files under restore/<id>/).
# shellcheck shell=bash

# The static pods a restore stops, in the order it stops them: the apiserver first, because it
# holds etcd's client connections (etcd then takes ~7 s to stop instead of ~0.2 s) and ignores
# SIGTERM for its whole 30 s grace period.
readonly CONTROL_PLANE_PODS=(kube-apiserver kube-controller-manager kube-scheduler etcd)

restore_dir() { echo "$ETCD_DR_STATE_DIR/restore/$1"; }

# What frees room on the etcd data volume, where a restore writes its copy beside the data.
readonly DATA_VOLUME_ADVICE="free some space on the etcd data volume (older rollback copies are the .etcd-dr-before-* dirs in it) or raise its size"

# Which snapshot this node's etcd data belongs to (or is being swapped to): written before the
# data dir changes, so markers of an earlier restore of the same id are never taken for this one.
on_disk_file() { echo "$ETCD_DR_STATE_DIR/restore/on-disk"; }
on_disk_id() { cat "$(on_disk_file)" 2>/dev/null || true; }

restored_and_running() {
    [[ "$(on_disk_id)" == "$1" && -f "$(restore_dir "$1")/started" ]]
}

now_utc() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# Rollback copies inside the data volume, named .etcd-dr-before-<id>[.<epoch>].
rollback_dirs() {
    local data_dir=$1
    find "$data_dir" -mindepth 1 -maxdepth 1 -type d -name '.etcd-dr-before-*' -printf '%T@ %p\n' | sort -n | cut -d' ' -f2-
}

# An earlier restore of this id left markers and a rollback copy; the data on disk is another
# snapshot's now, so this restore starts over. Its rollback copy is kept under a dated name.
# reads: ETCD_DATA_DIR (discover_etcd)
forget_attempt() {
    local id=$1 dir before
    dir="$(restore_dir "$id")"
    rm -rf "$dir/stopped" "$dir/restored" "$dir/applied" "$dir/started" "$dir/rollback" "$dir/rollback.tmp"
    before="$ETCD_DATA_DIR/.etcd-dr-before-$id"
    if [[ -d "$before" ]]; then
        mv -T "$before" "$before.$(date -u +%s)"
    fi
    rm -rf "$ETCD_DATA_DIR/.etcd-dr-restore-$id"
}

# ETCD_DR_MANIFEST_SHA256 (environment, optional): the sha256 of the manifest Pulumi's prechecks
# read. Given, prepare takes that manifest or none: a snapshot written again under the same id
# since the checks is refused here, so no member restores other bytes than the others (review #18).
# reads: SNAP_REVISION (fetch_and_check), ETCD_DATA_DIR (discover_etcd)
cmd_restore_prepare() {
    local id=$1 dir members expected pinned=${ETCD_DR_MANIFEST_SHA256:-}
    [[ -z "$pinned" || "$pinned" =~ ^[0-9a-f]{64}$ ]] ||
        die "ETCD_DR_MANIFEST_SHA256 '$pinned' is not a sha256 (64 lower-case hex digits); leave it unset to take the manifest the store has"
    dir="$(restore_dir "$id")"
    # A node that applied this id from other bytes keeps them (apply is then a no-op): it would
    # serve another snapshot than the members that prepare what the prechecks read.
    if [[ -n "$pinned" && -f "$dir/applied" && -f "$dir/manifest.json" && "$(on_disk_id)" == "$id" ]]; then
        local applied
        applied="$(sha256 "$dir/manifest.json")"
        [[ "$applied" == "$pinned" ]] ||
            die "snapshot $id is applied on $(hostname -s) from another manifest (sha256 $applied) than the restore was checked with (sha256 $pinned): the id was written again since; restore under a new snapshot id"
    fi
    mkdir -p "$dir"
    chmod 700 "$dir"
    discover_etcd
    require_etcd_tools
    rm -rf "$dir/download"
    mkdir -p "$dir/download"
    fetch_and_check "$id" "$dir/download" "$pinned"
    members="$(manifest_members "$dir/download/manifest.json")"
    expected="$(expected_members)"
    [[ "$members" == "$expected" ]] ||
        die "snapshot $id was taken from members $members but this site's control plane is $expected; restore needs the same host names"
    grep -qx "$(hostname -s)" < <(tr ',' '\n' <<<"$expected") ||
        die "this node ($(hostname -s)) is not one of the control-plane members $expected"
    # The Secrets in the database are as the primary's apiserver stored them: encrypted at rest with
    # its EncryptionConfiguration's keys, which no snapshot carries. Without the same configuration
    # here they cannot be read after the restore (pods cannot mount them): refuse before any stop.
    local theirs ours
    theirs="$(manifest_value "$dir/download/manifest.json" apiserverEncryption)"
    if [[ -n "$theirs" && "$theirs" != unknown ]]; then
        ours="$(apiserver_encryption)"
        [[ "$ours" == unknown || "$ours" == "$theirs" ]] ||
            die "snapshot $id was taken where the apiserver encrypts Secrets at rest with another EncryptionConfiguration ($theirs; this node: $ours); its Secrets could not be read here: give this site's apiservers the primary's --encryption-provider-config file first"
    fi
    # Only once the snapshot is known good: a refused one leaves an earlier attempt as it was.
    if [[ "$(on_disk_id)" != "$id" ]]; then
        forget_attempt "$id"
    fi
    # apply writes the restored copy beside the current data, after the control plane has stopped;
    # a data volume without room for it is found here, while everything still runs.
    local bytes volume=$ETCD_DATA_DIR
    bytes="$(manifest_value "$dir/download/manifest.json" snapshotBytes)"
    [[ -d "$volume" ]] || volume="$(dirname "$volume")"
    require_free_space "$volume" $((${bytes:-0} * 2)) "restoring $id into $ETCD_DATA_DIR" "$DATA_VOLUME_ADVICE"
    mv -f "$dir/download/snapshot.db" "$dir/snapshot.db"
    mv -f "$dir/download/pki.tar" "$dir/pki.tar"
    cp "$dir/download/manifest.json" "$dir/manifest.json"
    rm -rf "$dir/download"
    echo "$SNAP_REVISION" >"$dir/prepared"
    echo "prepared snapshot $id on $(hostname -s): revision $SNAP_REVISION, members $members"
}

# wait_until SECONDS TEST...: runs TEST every half second until it succeeds; fails after SECONDS.
wait_until() {
    local timeout=$1 deadline
    shift
    deadline=$((SECONDS + timeout))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

pod_stopped() { ! static_pod_running "$1"; }
ports_free() { [[ -z "$(busy_control_plane_ports)" ]]; }

# stop_pod NAME GRACE KILL_AFTER: the manifest moves out, the kubelet stops the pod; after GRACE
# seconds the runtime stops what is left (the playbook's force-stop), SIGKILL after KILL_AFTER.
stop_pod() {
    local pod=$1 grace=$2 kill_after=$3 stopped="$ETCD_DR_STATE_DIR/stopped-manifests" id
    if [[ -f "$ETCD_DR_MANIFEST_DIR/$pod.yaml" ]]; then
        mv -f "$ETCD_DR_MANIFEST_DIR/$pod.yaml" "$stopped/"
    fi
    wait_until "$grace" pod_stopped "$pod" && return 0
    log "$pod is still running ${grace}s after its manifest moved out; stopping it through the runtime"
    for id in $(static_pod_containers "$pod"); do
        crictl_node stop --timeout "$kill_after" "$id" >/dev/null || true
    done
    wait_until 15 pod_stopped "$pod" || die "$pod still runs on $(hostname -s) after the runtime stopped it; see \`crictl ps --name $pod\`"
}

cmd_restore_stop() {
    local id=$1 stopped="$ETCD_DR_STATE_DIR/stopped-manifests" started=$SECONDS pod manifest
    if restored_and_running "$id"; then
        echo "snapshot $id is already restored and started on $(hostname -s); nothing to stop"
        return 0
    fi
    [[ -f "$(restore_dir "$id")/prepared" ]] || die "snapshot $id is not prepared on this node; run \`etcd-dr restore prepare $id\` first"
    mkdir -p "$stopped"
    # The apiserver sits out its 30 s grace period after SIGTERM and keeps no state: a short wait,
    # then SIGKILL. etcd and the others get SIGTERM and time to finish.
    stop_pod kube-apiserver "${ETCD_DR_APISERVER_STOP_GRACE:-3}" 0
    for pod in "${CONTROL_PLANE_PODS[@]}"; do
        [[ "$pod" == kube-apiserver ]] || stop_pod "$pod" "$ETCD_DR_STOP_TIMEOUT" 5
    done
    # Any other static pod goes too: it may read etcd or the apiserver (kubeadm writes only the four).
    for manifest in "$ETCD_DR_MANIFEST_DIR"/*.yaml; do
        mv -f "$manifest" "$stopped/"
    done
    wait_until 30 ports_free ||
        die "ports $(busy_control_plane_ports) are still bound on $(hostname -s) after the control plane stopped; see \`ss -ltnp\`"
    now_utc >"$(restore_dir "$id")/stopped"
    echo "stopped the control plane on $(hostname -s) in $((SECONDS - started))s (manifests in $stopped)"
}

# This site's members as etcd's --initial-cluster: "cp1=https://cp1:2380,cp2=...".
initial_cluster() {
    local members
    # Not inside the pipeline's here-string, where a failure would go unnoticed.
    members="$(expected_members)"
    tr ',' '\n' <<<"$members" | while read -r member; do
        printf '%s=https://%s:%s,' "$member" "$member" "$ETCD_DR_PEER_PORT"
    done | sed 's/,$//'
}

# Points the (stopped) etcd manifest's peer flags at host names, as the playbook's restore does.
rewrite_peer_flags() {
    local manifest=$1 name=$2 cluster=$3
    sed -i \
        -e "s|^\([[:space:]]*- --initial-advertise-peer-urls=\).*|\1https://${name}:${ETCD_DR_PEER_PORT}|" \
        -e "s|^\([[:space:]]*- --initial-cluster=\).*|\1${cluster}|" \
        "$manifest"
}

# Names the restored snapshot in a static pod's annotations. The kubelet derives a static pod's UID
# from its manifest, so the pod comes back as a new pod: no crash-loop back-off carried over from
# the instance that lost its etcd (seen at 20-27 s on a real kubelet).
annotate_restored() {
    local manifest=$1 id=$2
    sed -i '/^    etcd-dr\/restored-snapshot: /d' "$manifest"
    if grep -q '^  annotations:' "$manifest"; then
        sed -i "0,/^  annotations:/s||  annotations:\n    etcd-dr/restored-snapshot: \"${id}\"|" "$manifest"
    else
        sed -i "0,/^metadata:/s||metadata:\n  annotations:\n    etcd-dr/restored-snapshot: \"${id}\"|" "$manifest"
    fi
}

# The rollback material: the sa keys and the manifests as they were before this restore. Written
# once, before anything changes, through a temporary dir renamed into place; a resumed apply
# never overwrites it with what an interrupted run already changed.
keep_rollback_material() {
    local dir=$1 stopped="$ETCD_DR_STATE_DIR/stopped-manifests"
    [[ -d "$dir/rollback" ]] && return 0
    rm -rf "$dir/rollback.tmp"
    mkdir -p "$dir/rollback.tmp/manifests"
    chmod 700 "$dir/rollback.tmp"
    cp -p "$stopped"/*.yaml "$dir/rollback.tmp/manifests/"
    local key
    for key in sa.key sa.pub; do
        [[ ! -f "$ETCD_DR_PKI_DIR/$key" ]] || cp -p "$ETCD_DR_PKI_DIR/$key" "$dir/rollback.tmp/"
    done
    sync -f "$dir/rollback.tmp" 2>/dev/null || sync
    mv -T "$dir/rollback.tmp" "$dir/rollback"
}

# The snapshot's sa keys replace this site's, each by rename, so tokens the primary issued stay valid.
install_sa_keys() {
    local dir=$1 unpacked
    # An apply killed while unpacking left its half-written copy of the primary's keys here.
    rm -rf "$ETCD_DR_PKI_DIR"/.etcd-dr-sa.*
    unpacked="$(mktemp -d "$ETCD_DR_PKI_DIR/.etcd-dr-sa.XXXXXX")"
    tar -C "$unpacked" -xf "$dir/pki.tar" sa.key sa.pub
    chmod 600 "$unpacked/sa.key"
    chmod 644 "$unpacked/sa.pub"
    mv -f "$unpacked/sa.key" "$ETCD_DR_PKI_DIR/sa.key"
    mv -f "$unpacked/sa.pub" "$ETCD_DR_PKI_DIR/sa.pub"
    rmdir "$unpacked"
}

# Keeps the newest ETCD_DR_KEEP_ROLLBACKS rollback copies in the data volume (at least the one
# this restore made); older ones are removed, newest last, so a full disk frees the oldest first.
prune_rollbacks() {
    local data_dir=$1 keep=${ETCD_DR_KEEP_ROLLBACKS:-2} dirs count old
    ((keep >= 1)) || keep=1
    mapfile -t dirs < <(rollback_dirs "$data_dir")
    count=${#dirs[@]}
    for old in "${dirs[@]:0:$((count > keep ? count - keep : 0))}"; do
        rm -rf "$old"
        log "removed the old rollback copy $old (ETCD_DR_KEEP_ROLLBACKS=$keep)"
    done
}

# The snapshot in plaintext (its database, and pki.tar with the primary's sa.key) is needed until
# it is applied, and not after: the data dir and /etc/kubernetes/pki hold what it became.
forget_plaintext() {
    rm -f "$1/snapshot.db" "$1/pki.tar"
}

# reads: ETCD_DATA_DIR (discover_etcd)
cmd_restore_apply() {
    local id=$1 dir name cluster data_dir staging before pod
    dir="$(restore_dir "$id")"
    if [[ -f "$dir/applied" && "$(on_disk_id)" == "$id" ]]; then
        # A prepare run again for an applied id stages the plaintext again; it goes here.
        forget_plaintext "$dir"
        echo "snapshot $id is already applied on $(hostname -s); nothing to do"
        return 0
    fi
    [[ -f "$dir/prepared" ]] || die "snapshot $id is not prepared on this node; run \`etcd-dr restore prepare $id\` first"
    [[ -f "$dir/stopped" ]] || die "the control plane was not stopped for $id on this node; run \`etcd-dr restore stop $id\` first"
    for pod in etcd kube-apiserver; do
        ! static_pod_running "$pod" || die "$pod is running on $(hostname -s); run \`etcd-dr restore stop $id\` first"
    done
    discover_etcd
    require_etcd_tools
    name="$(hostname -s)"
    cluster="$(initial_cluster)"
    data_dir="$ETCD_DATA_DIR"
    # Inside the data dir, so the swap is a rename on one file system, also when it is a mount point.
    staging="$data_dir/.etcd-dr-restore-$id"
    before="$data_dir/.etcd-dr-before-$id"
    mkdir -p "$data_dir"
    chmod 700 "$data_dir"

    keep_rollback_material "$dir"
    if [[ ! -f "$dir/restored" ]]; then
        rm -rf "$staging"
        # The restored copy sits beside the current data until the swap (and the old data stays).
        local bytes
        bytes="$(manifest_value "$dir/manifest.json" snapshotBytes)"
        require_free_space "$data_dir" $((${bytes:-0} * 2)) "restoring $id" "$DATA_VOLUME_ADVICE"
        # A revision bump past anything the standby's clients saw, and the old revisions marked
        # compacted: watchers and informers relist instead of missing events (etcd's advice for
        # restoring a Kubernetes cluster).
        etcdutl snapshot restore "$dir/snapshot.db" \
            --name "$name" \
            --initial-cluster "$cluster" \
            --initial-cluster-token "etcd-dr-${id}" \
            --initial-advertise-peer-urls "https://${name}:${ETCD_DR_PEER_PORT}" \
            --bump-revision "${ETCD_DR_BUMP_REVISION:-1000000000}" --mark-compacted \
            --data-dir "$staging" >"$dir/restore.log" 2>&1 ||
            die "etcdutl snapshot restore of $id failed on $name: $(tail -n1 "$dir/restore.log")"
        now_utc >"$dir/restored"
    fi

    echo "$id" | write_atomically "$(on_disk_file)"
    if [[ -d "$staging/member" ]]; then
        if [[ -d "$data_dir/member" ]]; then
            [[ ! -e "$before/member" ]] ||
                die "$data_dir/member and the rollback copy $before/member both exist; move one aside by hand, then run apply again"
            mkdir -p "$before"
            chmod 700 "$before"
            mv -T "$data_dir/member" "$before/member"
        fi
        mv -T "$staging/member" "$data_dir/member"
    fi
    [[ -d "$data_dir/member" ]] || die "$data_dir/member is missing after the swap; the restored data is in $dir (restore.log)"
    rm -rf "$staging"

    install_sa_keys "$dir"
    local manifest
    rewrite_peer_flags "$ETCD_DR_STATE_DIR/stopped-manifests/etcd.yaml" "$name" "$cluster"
    for manifest in "$ETCD_DR_STATE_DIR/stopped-manifests"/*.yaml; do
        annotate_restored "$manifest" "$id"
    done
    now_utc >"$dir/applied"
    forget_plaintext "$dir"
    prune_rollbacks "$data_dir"
    echo "applied snapshot $id on $name into $data_dir (the data before it kept at $before)"
}

cmd_restore_start() {
    local id=$1 stopped="$ETCD_DR_STATE_DIR/stopped-manifests" manifest moved=0 started=$SECONDS
    if restored_and_running "$id"; then
        echo "snapshot $id is already started on $(hostname -s); nothing to do"
        return 0
    fi
    [[ -f "$(restore_dir "$id")/applied" && "$(on_disk_id)" == "$id" ]] ||
        die "snapshot $id is not applied on this node; run \`etcd-dr restore apply $id\` first"
    # etcd first: the apiserver that comes back finds its store already starting.
    if [[ -f "$stopped/etcd.yaml" ]]; then
        mv -f "$stopped/etcd.yaml" "$ETCD_DR_MANIFEST_DIR/"
        moved=1
    fi
    for manifest in "$stopped"/*.yaml; do
        mv -f "$manifest" "$ETCD_DR_MANIFEST_DIR/"
        moved=$((moved + 1))
    done
    [[ -f "$ETCD_DR_MANIFEST_DIR/etcd.yaml" ]] || die "no etcd manifest to start in $ETCD_DR_MANIFEST_DIR"
    # Quorum needs the other members, which start in parallel; verify waits for health.
    wait_until "${ETCD_DR_START_TIMEOUT:-120}" static_pod_running etcd ||
        die "the kubelet did not start etcd on $(hostname -s) within ${ETCD_DR_START_TIMEOUT:-120}s; see \`journalctl -u kubelet\` and \`crictl ps -a --name etcd\`"
    now_utc >"$(restore_dir "$id")/started"
    echo "started the control plane on $(hostname -s) (${moved} manifests moved back; etcd running after $((SECONDS - started))s)"
}

apiserver_ready() {
    [[ "$(curl -sk --max-time 5 https://127.0.0.1:6443/readyz 2>/dev/null)" == ok ]]
}

admin_kubectl() {
    kubectl --kubeconfig "${ETCD_DR_KUBECONFIG:-/etc/kubernetes/admin.conf}" --request-timeout=10s "$@"
}

# A leader election lease taken since SINCE (epoch seconds): the restored data holds the primary's
# leases, so the controller-manager and scheduler are only working once they hold new ones.
lease_taken_since() {
    local lease=$1 since=$2 acquired
    acquired="$(admin_kubectl -n kube-system get lease "$lease" -o 'jsonpath={.spec.acquireTime}' 2>/dev/null)" || return 1
    [[ -n "$acquired" ]] && (($(date -u -d "$acquired" +%s) >= since))
}

# Hands a lease the restored data still gives the primary's controller-manager or scheduler back
# to this site at once: with the holder cleared, client-go's elector takes it at its next retry
# (2 s) instead of waiting out the primary's lease duration from when it first saw it (15 s and
# more). The patch carries the resourceVersion read, so it changes nothing once a new leader wrote
# the lease (a conflict, ignored).
release_primary_lease() {
    local lease=$1 since=$2 read version acquired
    read="$(admin_kubectl -n kube-system get lease "$lease" -o 'jsonpath={.metadata.resourceVersion} {.spec.acquireTime}' 2>/dev/null)" || return 0
    read -r version acquired <<<"$read"
    [[ -n "$version" && -n "$acquired" ]] || return 0
    (($(date -u -d "$acquired" +%s) < since)) || return 0
    admin_kubectl -n kube-system patch lease "$lease" --type merge \
        -p "{\"metadata\":{\"resourceVersion\":\"$version\"},\"spec\":{\"holderIdentity\":null}}" >/dev/null 2>&1 || true
}

# Every member must hold the same data: etcd's hash of the keys up to one revision (endpoint
# hashkv --rev, the revision this member serves) compared across members. Members restored from
# different bytes under one id, or a member whose apply did not land, differ there (review #4, #18).
# reads: ETCD_ENDPOINT and the certificates (discover_etcd)
cmd_restore_verify() {
    local id=$1 dir expected deadline health members peers revision want problem="" since lease hashes verdict hashkv="" bump
    local begun=$SECONDS last_problem=""
    dir="$(restore_dir "$id")"
    [[ -f "$dir/manifest.json" ]] || die "snapshot $id was never prepared on this node"
    discover_etcd
    expected="$(expected_members)"
    want="$(manifest_value "$dir/manifest.json" etcdRevision)"
    # The bump apply restored with (the same setting): the restored data serves the snapshot's
    # revision plus it, and the status says it, for whoever compares revisions across the failover.
    bump=$ETCD_DR_BUMP_REVISION
    deadline=$((SECONDS + ETCD_DR_VERIFY_TIMEOUT))
    while :; do
        problem=""
        if ! health="$(etcdctl_local endpoint health --cluster 2>&1)"; then
            problem="not every member is healthy: $(tr '\n' ' ' <<<"$health")"
        else
            members="$(etcdctl_local member list | awk -F', ' '{ print $3 }' | sort | paste -sd, -)"
            peers="$(etcdctl_local member list | awk -F', ' '{ print $4 }' | sort | paste -sd, -)"
            revision="$(etcdctl_local endpoint status -w fields | field Revision)"
            if [[ "$members" != "$expected" ]]; then
                problem="members are $members, expected $expected"
            elif [[ "$peers" != "$(tr ',' '\n' <<<"$expected" | sed "s|.*|https://&:${ETCD_DR_PEER_PORT}|" | sort | paste -sd, -)" ]]; then
                problem="peer URLs are $peers, expected host-name URLs"
            elif ((revision < want + bump)); then
                problem="revision $revision is below the snapshot's $want plus the restore's bump $bump (ETCD_DR_BUMP_REVISION)"
            elif ! apiserver_ready; then
                problem="the apiserver's /readyz on $(hostname -s) is not ok"
            # Last: it reads every key on every member, once the rest holds.
            elif ! hashes="$(members_hashkv "$revision" 2>&1)"; then
                problem="not every member gave etcd's hash of the keys at revision $revision: $(tail -n1 <<<"$hashes")"
            elif verdict="$(hashkv_agreement "$hashes" "$expected")"; [[ "$verdict" == differ\ * ]]; then
                # One revision, one history: no wait makes these agree.
                die "restore of $id does not verify: the members hold different data at revision $revision (etcdctl endpoint hashkv: ${verdict#differ }); restore again under a new snapshot id, which every member prepares from one manifest"
            elif [[ "$verdict" != same\ * ]]; then
                problem="${verdict#wait }"
                [[ -n "$problem" ]] || problem="the members' hashes at revision $revision could not be compared"
            fi
        fi
        [[ -z "$problem" ]] && break
        ((SECONDS < deadline)) || die "restore of $id does not verify after ${ETCD_DR_VERIFY_TIMEOUT}s: $problem"
        # What verify waits for, each time it changes: where a failover's time goes, in the log.
        [[ "$problem" == "${last_problem:-}" ]] || log "verify waits ($((SECONDS - begun))s): $problem"
        last_problem=$problem
        sleep 1
    done
    since="$(date -u -d "$(cat "$dir/stopped")" +%s)"
    for lease in kube-controller-manager kube-scheduler; do
        release_primary_lease "$lease" "$since"
    done
    for lease in kube-controller-manager kube-scheduler; do
        lease_taken_since "$lease" "$since" || log "verify waits ($((SECONDS - begun))s): the $lease lease is not this site's yet"
        wait_until $((deadline > SECONDS ? deadline - SECONDS : 1)) lease_taken_since "$lease" "$since" ||
            die "restore of $id: the $lease lease is still the primary's after ${ETCD_DR_VERIFY_TIMEOUT}s; see \`kubectl -n kube-system get lease $lease -o yaml\`"
    done
    log "verify done in $((SECONDS - begun))s"
    hashkv="${verdict#same }"
    printf '{"id": "%s", "revision": %s, "snapshotRevision": %s, "bumpRevision": %s, "verifiedAt": "%s", "members": "%s", "hashKv": %s}\n' \
        "$id" "$revision" "$want" "$bump" "$(now_utc)" "$members" "$hashkv" | write_atomically "$ETCD_DR_STATE_DIR/restore-last.json"
    echo "verified snapshot $id: members $members healthy and equal (hashkv $hashkv at revision $revision), revision $revision (snapshot $want + bump $bump), apiserver ready, controller-manager and scheduler leading"
    # For Pulumi: the machine-readable form of the same facts (lib/nodeReport.ts parses it).
    report_result verify "\"revision\":${revision},\"members\":[\"${members//,/\",\"}\"]"
}

# An IPv4 address as one number.
ipv4_number() {
    local IFS=. a b c d
    read -r a b c d <<<"$1"
    echo $(((a << 24) | (b << 16) | (c << 8) | d))
}

# True when ADDRESS lies inside CIDR (both IPv4).
in_cidr() {
    local bits=${2#*/} mask address network
    mask=$((bits == 0 ? 0 : (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF))
    address="$(ipv4_number "$1")"
    network="$(ipv4_number "${2%/*}")"
    (((address & mask) == (network & mask)))
}

CNI_BRIDGE=${CNI_BRIDGE:-cni0}
FLANNEL_SUBNET_FILE=${FLANNEL_SUBNET_FILE:-/run/flannel/subnet.env}

# The pod range the restored cluster gives this node, read as the node itself (kubelet.conf: the
# node authorizer lets a node read its own Node object; workers have no admin.conf).
node_pod_cidr() {
    kubectl --kubeconfig "${ETCD_DR_KUBELET_KUBECONFIG:-/etc/kubernetes/kubelet.conf}" --request-timeout=10s \
        get node "$(hostname -s)" -o 'jsonpath={.spec.podCIDR}' 2>/dev/null
}

# The range flannel runs this node with now (FLANNEL_SUBNET=10.244.4.1/24); empty without flannel.
flannel_subnet() { sed -n 's/^FLANNEL_SUBNET=//p' "$FLANNEL_SUBNET_FILE" 2>/dev/null || true; }

# The CNI bridge's address with its prefix; empty where the CNI makes no bridge (Calico).
bridge_address() { ip -4 -o addr show dev "$CNI_BRIDGE" 2>/dev/null | awk '{ print $4; exit }' || true; }

pod_cidr_known() { [[ -n "$(node_pod_cidr)" ]]; }

# Pod sandboxes on the pod network whose address lies outside RANGE, as "id namespace/name address"
# lines. Host-network sandboxes have no address of their own and are never listed. Fails when
# crictl cannot list them (the caller says so: a die in here would only end a subshell).
stale_sandboxes() {
    local range=$1 ids id line address
    ids="$(crictl_node pods --state ready -q)" || return 1
    for id in $ids; do
        line="$(crictl_node inspectp -o go-template --template '{{.status.metadata.namespace}}/{{.status.metadata.name}} {{.status.network.ip}}' "$id" 2>/dev/null)" || continue
        address=${line#* }
        [[ -n "$address" && "$address" != "$line" ]] || continue
        in_cidr "$address" "$range" || echo "$id $line"
    done
}

# The restored Node objects carry the primary's pod range under each node name, which is this
# node's own only if both sites registered their nodes in the same order. When it is not, every
# trace of the old range on this node must go before the kubelet starts the restored pods and
# reconcile rolls them: flannel's subnet file (the CNI plugin makes each sandbox, and the bridge,
# from it: the e2e of b8a312c saw the rolled pods take the old range from a file left behind
# because the node had no bridge yet), the bridge (the bridge plugin refuses one that holds another
# range), and the sandboxes the running kubelet already started from the old file after the
# restore (stopped, so the kubelet makes them again). Flannel writes the restored range when it
# next starts: the restored flannel pod the kubelet starts, or reconcile's roll of it. Nothing here
# waits for flannel, which reaches the API through the service address that only kube-proxy
# recreated by reconcile may answer. A CNI plugin call already under way can still use the old
# file, so this repeats until a pass finds nothing stale. Without flannel's file or bridge (another
# CNI, whose pod addresses need not lie in the Node's range) it does nothing.
reset_pod_network() {
    local host range pass stale subnet bridge id name address sandboxes
    host="$(hostname -s)"
    [[ -e "$FLANNEL_SUBNET_FILE" || -n "$(bridge_address)" ]] || return 0
    wait_until "$ETCD_DR_VERIFY_TIMEOUT" pod_cidr_known ||
        die "the restored Node $host has no pod range after ${ETCD_DR_VERIFY_TIMEOUT}s; see \`kubectl get node $host -o yaml\`"
    range="$(node_pod_cidr)"
    for pass in 1 2 3 4 5; do
        stale=0
        subnet="$(flannel_subnet)"
        if [[ -n "$subnet" ]] && ! in_cidr "${subnet%/*}" "$range"; then
            rm -f -- "$FLANNEL_SUBNET_FILE"
            echo "removed flannel's subnet file on $host ($subnet): flannel writes the restored pod range $range when it next starts"
            stale=1
        fi
        bridge="$(bridge_address)"
        if [[ -n "$bridge" ]] && ! in_cidr "${bridge%/*}" "$range"; then
            ip link delete "$CNI_BRIDGE" || [[ -z "$(bridge_address)" ]] ||
                die "cannot remove the CNI bridge $CNI_BRIDGE ($bridge) on $host; remove it with \`ip link delete $CNI_BRIDGE\` and run the step again"
            echo "removed the CNI bridge $CNI_BRIDGE ($bridge) on $host: the restored pod range of this node is $range"
            stale=1
        fi
        # Listed first, into a variable: a failure inside `<<<"$(...)"` would go unnoticed.
        sandboxes="$(stale_sandboxes "$range")" ||
            die "crictl cannot list the pod sandboxes on $host; is containerd running?"
        while read -r id name address; do
            [[ -n "$id" ]] || continue
            { crictl_node stopp "$id" >/dev/null && crictl_node rmp "$id" >/dev/null; } ||
                die "cannot stop the pod sandbox $id ($name, $address) on $host; see \`crictl inspectp $id\`"
            echo "stopped the sandbox of $name on $host ($address, outside $range): the kubelet makes it again in the restored range"
            stale=1
        done <<<"$sandboxes"
        ((stale)) || return 0
    done
    die "pods on $host still come up outside the restored pod range $range after $pass passes; see \`crictl pods\` and $FLANNEL_SUBNET_FILE"
}

# restarts the kubelet once per restored snapshot: it re-registers its node and re-reads the pods
# bound to it from the restored data. Runs on every node, workers too. The pod network is reset
# first, so that no pod the restarted kubelet starts takes the old range.
cmd_restore_restart_kubelet() {
    local id=$1 done_file="$ETCD_DR_STATE_DIR/restore/kubelet-restarted-for"
    if [[ "$(cat "$done_file" 2>/dev/null || true)" == "$id" ]]; then
        echo "the kubelet on $(hostname -s) was already restarted for $id; nothing to do"
        return 0
    fi
    reset_pod_network
    systemctl restart kubelet
    wait_until 30 systemctl is-active --quiet kubelet || die "the kubelet on $(hostname -s) is not active after its restart; see \`journalctl -u kubelet\`"
    echo "$id" | write_atomically "$done_file"
    echo "kubelet restarted on $(hostname -s) for $id"
}

# Every namespace's deployments, daemonsets and statefulsets as "namespace kind/name" lines.
workloads() {
    admin_kubectl get deployments,daemonsets,statefulsets --all-namespaces \
        -o 'jsonpath={range .items[*]}{.metadata.namespace}{" "}{.kind}{"/"}{.metadata.name}{"\n"}{end}'
}

# The cluster side of a failover, once per id, as the playbook does after a restore: kube-proxy
# and the control-plane pods recreated, every workload rolled so its pods start on this site's
# nodes with this site's addresses.
cmd_restore_reconcile() {
    local id=$1 done_file="$ETCD_DR_STATE_DIR/restore/reconciled-for" namespace workload rolled=0
    if [[ "$(cat "$done_file" 2>/dev/null || true)" == "$id" ]]; then
        echo "the cluster was already reconciled for $id; nothing to do"
        return 0
    fi
    command -v kubectl >/dev/null 2>&1 || die "kubectl is not installed on $(hostname -s); reconcile runs on a control-plane node"
    wait_until "$ETCD_DR_VERIFY_TIMEOUT" apiserver_ready || die "the apiserver on $(hostname -s) is not ready; run \`etcd-dr restore verify $id\` first"
    # Listed first, into a variable: a failing `< <(workloads)` goes unnoticed, and the run would
    # report "0 workloads rolled" and never roll them.
    local list
    list="$(workloads)" || die "cannot list the workloads to roll on $(hostname -s) (see the kubectl error above); nothing was rolled"
    admin_kubectl -n kube-system delete pod -l k8s-app=kube-proxy --wait=false >/dev/null
    admin_kubectl -n kube-system delete pod -l tier=control-plane --wait=false >/dev/null
    # One rollout per namespace, naming all its workloads: each kubectl start costs about a second
    # on a busy control-plane node, and this is on the failover's critical path.
    local -A by_namespace=()
    while read -r namespace workload; do
        [[ -n "$workload" ]] || continue
        by_namespace[$namespace]+=" $workload"
    done <<<"$list"
    local -a names
    for namespace in "${!by_namespace[@]}"; do
        read -ra names <<<"${by_namespace[$namespace]}"
        admin_kubectl -n "$namespace" rollout restart "${names[@]}" >/dev/null
        rolled=$((rolled + ${#names[@]}))
    done
    echo "$id" | write_atomically "$done_file"
    echo "reconciled the cluster for $id: kube-proxy and control-plane pods recreated, $rolled workloads rolled"
}

cmd_restore() {
    local phase=${1:-} id=${2:-}
    case "$phase" in
        prepare | stop | apply | start | verify | restart-kubelet | reconcile) ;;
        *) die "restore needs a phase: prepare, stop, apply, start, verify, restart-kubelet or reconcile, then the snapshot id" ;;
    esac
    check_id "$id"
    mkdir -p "$ETCD_DR_STATE_DIR/restore"
    exec 8>"$ETCD_DR_STATE_DIR/restore.lock"
    flock -w 600 8 || die "another restore step is running on this node"
    # A step killed outright (SIGKILL, a power cut) runs no trap, and its download may hold the
    # decrypted database. The lock is ours: no running step is using any download dir.
    rm -rf "$ETCD_DR_STATE_DIR"/restore/*/download
    "cmd_restore_${phase//-/_}" "$id"
}
