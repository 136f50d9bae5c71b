# etcd-dr toolkit, node/lib/manifest.sh: a snapshot's manifest.json. This file writes it in a
# fixed, line-per-field layout so that sed can read it back (no jq on the nodes); lib/snapshot.ts
# reads the same files as JSON, and test/fixtures/manifest.golden.json pins the layout for both.
#
# Authentication: on a site with an encryption key, line 2 of the manifest is
#   "hmacSha256": "<HMAC-SHA256 of every other line, keyed by manifest_mac_key>",
# The manifest pins every object's size and sha256, and the database's and pki.tar's plaintext
# sha256, so the one MAC covers the whole snapshot. A PAR holder can write objects, not this MAC.
# shellcheck shell=bash

# 2: authenticated (hmacSha256), snapshotBytes, pkiSha256. 1: neither; accepted only on a site without a key.
readonly MANIFEST_FORMAT=2
# pki.tar holds sa.key and sa.pub: a few KiB. Anything near this is not one.
readonly PKI_MAX_BYTES=1048576

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

# manifest_load FILE: the same readings as manifest_value and manifest_objects, in one pass and in
# bash alone. A listing checks every manifest in the store, and a process per field per manifest
# makes `etcd-dr list` take minutes on a busy node.
# sets: MANIFEST (top-level scalars by key; the first of a repeated key, as manifest_value),
#       MANIFEST_OBJECTS ("name<TAB>size<TAB>sha256" each), MANIFEST_OBJECT_LINES (lines that look like one)
declare -A MANIFEST=()
MANIFEST_OBJECTS=()
MANIFEST_OBJECT_LINES=0
manifest_load() {
    local line scalar='^  "([A-Za-z0-9]+)": "?([^",]*)"?,?$'
    local object='^    \{"name": "([^"]*)", "size": ([0-9]*), "sha256": "([0-9a-f]*)"\},?$'
    MANIFEST=() MANIFEST_OBJECTS=() MANIFEST_OBJECT_LINES=0
    while IFS= read -r line || [[ -n "$line" ]]; do
        if [[ "$line" =~ $scalar ]]; then
            [[ -v "MANIFEST[${BASH_REMATCH[1]}]" ]] || MANIFEST["${BASH_REMATCH[1]}"]=${BASH_REMATCH[2]}
        elif [[ "$line" == "    {"* ]]; then
            MANIFEST_OBJECT_LINES=$((MANIFEST_OBJECT_LINES + 1))
            if [[ "$line" =~ $object ]]; then
                MANIFEST_OBJECTS+=("${BASH_REMATCH[1]}"$'\t'"${BASH_REMATCH[2]}"$'\t'"${BASH_REMATCH[3]}")
            fi
        fi
    done <"$1"
}

# write_manifest OUT ID MEMBERS ETCD_VERSION DB_FILE PKI_FILE OBJECT_FILE...
# DB_FILE and PKI_FILE are the plaintext database and pki.tar: their sha256 (and the database's
# size, for a restore's free-space check) go in the manifest.
# createdAt is the id's own time: taken before the save, it is the oldest the data can be.
# reads: SNAP_REVISION, SNAP_HASH, SNAP_KEYS (snapshot_status of the saved database);
#        APISERVER_ENCRYPTION (apiserver_encryption, etcd.sh; "unknown" when unset);
#        ETCD_DR_CLUSTER, ETCD_DR_COMPRESSION, ETCD_DR_ENCRYPTION_KEY_FILE, ETCD_DR_KUBERNETES_VERSION
write_manifest() {
    local out=$1 id=$2 members=$3 etcd_version=$4 db_file=$5 pki_file=$6
    shift 6
    local objects="" name file body plain_sha pki_sha db_bytes
    plain_sha="$(sha256 "$db_file")"
    pki_sha="$(sha256 "$pki_file")"
    db_bytes="$(stat -c %s "$db_file")"
    for file in "$@"; do
        name="$(basename "$file")"
        objects+="${objects:+,$'\n'}    {\"name\": \"${name}\", \"size\": $(stat -c %s "$file"), \"sha256\": \"$(sha256 "$file")\"}"
    done
    body="$(
        cat <<JSON
{
  "formatVersion": ${MANIFEST_FORMAT},
  "id": "${id}",
  "createdAt": "${id:0:4}-${id:4:2}-${id:6:2}T${id:9:2}:${id:11:2}:${id:13:2}Z",
  "cluster": "${ETCD_DR_CLUSTER}",
  "sourceHost": "$(hostname -s)",
  "members": ["${members//,/\",\"}"],
  "etcdRevision": ${SNAP_REVISION},
  "etcdHash": ${SNAP_HASH:-0},
  "etcdTotalKeys": ${SNAP_KEYS:-0},
  "etcdVersion": "${etcd_version}",
  "kubernetesVersion": "${ETCD_DR_KUBERNETES_VERSION:-unknown}",
  "compression": "${ETCD_DR_COMPRESSION}",
  "encryption": "$(site_encryption)",
  "snapshotSha256": "${plain_sha}",
  "snapshotBytes": ${db_bytes},
  "pkiSha256": "${pki_sha}",
  "apiserverEncryption": "${APISERVER_ENCRYPTION:-unknown}",
  "objects": [
${objects}
  ]
}
JSON
    )"
    if [[ -n "${ETCD_DR_ENCRYPTION_KEY_FILE:-}" ]]; then
        local mac
        mac="$(printf '%s\n' "$body" | hmac_sha256 "$(manifest_mac_key)")"
        printf '{\n  "hmacSha256": "%s",\n%s\n' "$mac" "${body#\{$'\n'}" >"$out"
    else
        printf '%s\n' "$body" >"$out"
    fi
}

# The MAC key, derived once per run (a listing checks every manifest in the store).
MANIFEST_MAC_KEY=""

# manifest_authentic FILE: true when line 2 is an hmacSha256 of the rest under this site's key.
# sets: MANIFEST_MAC_KEY
manifest_authentic() {
    local file=$1 line
    line="$(sed -n 2p "$file")"
    [[ "$line" =~ ^\ \ \"hmacSha256\":\ \"([0-9a-f]{64})\",$ ]] || return 1
    local mac=${BASH_REMATCH[1]}
    [[ -n "$MANIFEST_MAC_KEY" ]] || MANIFEST_MAC_KEY="$(manifest_mac_key)"
    [[ "$(sed 2d "$file" | hmac_sha256 "$MANIFEST_MAC_KEY")" == "$mac" ]]
}

# manifest_acceptable FILE ID: true when FILE is a manifest this site accepts for snapshot ID;
# otherwise false, with MANIFEST_PROBLEM saying why in a few words. Everything a restore trusts
# is checked here, before any object is downloaded: who made it, that it is this cluster's and
# this id's, not dated in the future, and which objects (names, sizes) it may name.
# sets: MANIFEST_PROBLEM; MANIFEST, MANIFEST_OBJECTS (manifest_load)
# shellcheck disable=SC2034  # MANIFEST_PROBLEM is read by the callers (snapshots.sh)
manifest_acceptable() {
    local file=$1 id=$2 format encryption compression name size sum
    MANIFEST_PROBLEM=""
    if [[ -n "${ETCD_DR_ENCRYPTION_KEY_FILE:-}" ]]; then
        # Checked first: nothing else in a manifest means anything until it is known to be ours.
        manifest_authentic "$file" || {
            MANIFEST_PROBLEM="its manifest is not authenticated with this site's key (forged or altered, or ETCD_DR_ENCRYPTION_KEY_FILE is not the primary's key)"
            return 1
        }
    fi
    manifest_load "$file"
    encryption="${MANIFEST[encryption]:-}"
    [[ "$encryption" == "$(site_encryption)" ]] || {
        if [[ -n "${ETCD_DR_ENCRYPTION_KEY_FILE:-}" ]]; then
            MANIFEST_PROBLEM="it is not encrypted ('$encryption'), and this site accepts only encrypted snapshots"
        else
            MANIFEST_PROBLEM="it is encrypted ('$encryption'), and ETCD_DR_ENCRYPTION_KEY_FILE is not set"
        fi
        return 1
    }
    format="${MANIFEST[formatVersion]:-}"
    if [[ "$format" != "$MANIFEST_FORMAT" && ! ("$format" == 1 && -z "${ETCD_DR_ENCRYPTION_KEY_FILE:-}") ]]; then
        MANIFEST_PROBLEM="its manifest has format '$format', this toolkit reads $MANIFEST_FORMAT"
        return 1
    fi
    [[ "${MANIFEST[id]:-}" == "$id" ]] || { MANIFEST_PROBLEM="its manifest names another snapshot, '${MANIFEST[id]:-}'"; return 1; }
    [[ "${MANIFEST[cluster]:-}" == "$ETCD_DR_CLUSTER" ]] ||
        { MANIFEST_PROBLEM="it belongs to cluster '${MANIFEST[cluster]:-}', not '$ETCD_DR_CLUSTER'"; return 1; }
    ! id_in_future "$id" || { MANIFEST_PROBLEM="it is dated in the future (more than ${ID_CLOCK_SKEW}s ahead of this node's clock)"; return 1; }
    [[ "${MANIFEST[etcdRevision]:-}" == "${id##*-r}" ]] ||
        { MANIFEST_PROBLEM="its manifest's etcdRevision differs from the id's revision"; return 1; }
    compression="${MANIFEST[compression]:-}"
    local allowed
    case "$compression" in
        gzip) allowed=.gz ;;
        zstd) allowed=.zst ;;
        none) allowed="" ;;
        *) MANIFEST_PROBLEM="its compression '$compression' is unknown"; return 1 ;;
    esac
    [[ "$encryption" == none ]] || allowed+=.enc
    [[ "${MANIFEST[snapshotSha256]:-}" =~ ^[0-9a-f]{64}$ ]] || { MANIFEST_PROBLEM="its manifest has no snapshotSha256"; return 1; }
    if [[ "$format" == 2 ]]; then
        [[ "${MANIFEST[pkiSha256]:-}" =~ ^[0-9a-f]{64}$ ]] || { MANIFEST_PROBLEM="its manifest has no pkiSha256"; return 1; }
        size="${MANIFEST[snapshotBytes]:-}"
        if [[ ! "$size" =~ ^[0-9]{1,18}$ ]] || ((size > ETCD_DR_MAX_SNAPSHOT_BYTES)); then
            MANIFEST_PROBLEM="its database is '$size' bytes, more than the $ETCD_DR_MAX_SNAPSHOT_BYTES allowed (ETCD_DR_MAX_SNAPSHOT_BYTES)"
            return 1
        fi
    fi
    # Exactly the two objects a bundle has, each once: a name is a path on the restoring node.
    local listed="" seen=" "
    for object in "${MANIFEST_OBJECTS[@]}"; do
        IFS=$'\t' read -r name size sum <<<"$object"
        listed+="${listed:+ }$name"
        if [[ "$name" != "snapshot.db$allowed" && "$name" != "pki.tar$allowed" || "$seen" == *" $name "* ]]; then
            MANIFEST_PROBLEM="its manifest names the objects '$listed...'; a bundle of it has exactly snapshot.db$allowed and pki.tar$allowed"
            return 1
        fi
        seen+="$name "
        local cap=$ETCD_DR_MAX_SNAPSHOT_BYTES
        [[ "$name" == pki.tar* ]] && cap=$PKI_MAX_BYTES
        if ((${#size} > 18 || size > cap)); then
            MANIFEST_PROBLEM="its object $name is $size bytes, more than the $cap allowed"
            return 1
        fi
        [[ "$sum" =~ ^[0-9a-f]{64}$ ]] || { MANIFEST_PROBLEM="its object $name has no sha256"; return 1; }
    done
    if ((${#MANIFEST_OBJECTS[@]} != 2 || MANIFEST_OBJECT_LINES != 2)); then
        MANIFEST_PROBLEM="its manifest names the objects '$listed'; a bundle of it has exactly snapshot.db$allowed and pki.tar$allowed"
        return 1
    fi
    return 0
}
