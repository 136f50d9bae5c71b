# etcd-dr toolkit, node/lib/manifest.sh: a snapshot's manifest.json. This file writes it in a
# fixed, line-per-field layout so that sed can read it back (no jq on the nodes); lib/snapshot.ts
# reads the same files as JSON, and test/fixtures/manifest.golden.json pins the layout for both.
# shellcheck shell=bash

readonly MANIFEST_FORMAT=1

# manifest_value FILE KEY: one top-level scalar, without its quotes.
manifest_value() {
    local file=$1 key=$2
    sed -n "s/^  \"${key}\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$file" | head -n1
}

manifest_members() {
    sed -n 's/^  "members": \[\(.*\)\],$/\1/p' "$1" | tr -d '" ' | tr ',' '\n' | sort | paste -sd, -
}

# "name<TAB>size<TAB>sha256" per object
manifest_objects() {
    sed -n 's/^    {"name": "\([^"]*\)", "size": \([0-9]*\), "sha256": "\([0-9a-f]*\)"},\{0,1\}$/\1\t\2\t\3/p' "$1"
}

# write_manifest OUT ID MEMBERS ETCD_VERSION PLAIN_SHA256 OBJECT_FILE...
# reads: SNAP_REVISION, SNAP_HASH, SNAP_KEYS (snapshot_status of the saved database);
#        ETCD_DR_CLUSTER, ETCD_DR_COMPRESSION, ETCD_DR_ENCRYPTION_KEY_FILE, ETCD_DR_KUBERNETES_VERSION
write_manifest() {
    local out=$1 id=$2 members=$3 etcd_version=$4 plain_sha=$5
    shift 5
    local created encryption="none" objects="" name file
    created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    [[ -n "${ETCD_DR_ENCRYPTION_KEY_FILE:-}" ]] && encryption="aes-256-cbc-pbkdf2"
    for file in "$@"; do
        name="$(basename "$file")"
        objects+="${objects:+,$'\n'}    {\"name\": \"${name}\", \"size\": $(stat -c %s "$file"), \"sha256\": \"$(sha256 "$file")\"}"
    done
    cat >"$out" <<JSON
{
  "formatVersion": ${MANIFEST_FORMAT},
  "id": "${id}",
  "createdAt": "${created}",
  "cluster": "${ETCD_DR_CLUSTER}",
  "sourceHost": "$(hostname -s)",
  "members": ["${members//,/\",\"}"],
  "etcdRevision": ${SNAP_REVISION},
  "etcdHash": ${SNAP_HASH:-0},
  "etcdTotalKeys": ${SNAP_KEYS:-0},
  "etcdVersion": "${etcd_version}",
  "kubernetesVersion": "${ETCD_DR_KUBERNETES_VERSION:-unknown}",
  "compression": "${ETCD_DR_COMPRESSION}",
  "encryption": "${encryption}",
  "snapshotSha256": "${plain_sha}",
  "objects": [
${objects}
  ]
}
JSON
}
