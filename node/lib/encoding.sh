# etcd-dr toolkit, node/lib/encoding.sh: how a bundle's objects are stored, compression then
# encryption, and the way back.
# shellcheck shell=bash

compress_ext() {
    case "$ETCD_DR_COMPRESSION" in gzip) echo ".gz" ;; zstd) echo ".zst" ;; none) echo "" ;; esac
}

# reads: ETCD_DR_COMPRESSION, ETCD_DR_ENCRYPTION_KEY_FILE (no key file: not encrypted)
encode() {
    local in=$1 out=$2
    case "$ETCD_DR_COMPRESSION" in
        gzip) gzip -c -6 "$in" ;;
        zstd) zstd -q -c -3 "$in" ;;
        none) cat "$in" ;;
    esac >"$out.plain"
    if [[ -n "${ETCD_DR_ENCRYPTION_KEY_FILE:-}" ]]; then
        openssl enc -aes-256-cbc -pbkdf2 -iter 100000 -salt -pass "file:$ETCD_DR_ENCRYPTION_KEY_FILE" -in "$out.plain" -out "$out"
        rm -f "$out.plain"
    else
        mv "$out.plain" "$out"
    fi
}

# decode IN OUT COMPRESSION ENCRYPTION; fails (without output) on a wrong key or damaged data
decode() {
    local in=$1 out=$2 compression=$3 encryption=$4 stage="$2.stage"
    if [[ "$encryption" != none ]]; then
        [[ -n "${ETCD_DR_ENCRYPTION_KEY_FILE:-}" ]] || { log "the snapshot is encrypted but ETCD_DR_ENCRYPTION_KEY_FILE is not set"; return 1; }
        openssl enc -d -aes-256-cbc -pbkdf2 -iter 100000 -pass "file:$ETCD_DR_ENCRYPTION_KEY_FILE" -in "$in" -out "$stage" 2>/dev/null || { rm -f "$stage"; return 1; }
    else
        cp "$in" "$stage"
    fi
    case "$compression" in
        gzip) gzip -dc "$stage" >"$out" 2>/dev/null ;;
        zstd) zstd -q -dc "$stage" >"$out" 2>/dev/null ;;
        none) cp "$stage" "$out" ;;
        *) false ;;
    esac || { rm -f "$stage" "$out"; return 1; }
    rm -f "$stage"
}

sha256() { sha256sum "$1" | cut -d' ' -f1; }
