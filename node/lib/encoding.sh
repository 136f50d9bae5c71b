# etcd-dr toolkit, node/lib/encoding.sh: how a bundle's objects are stored, compression then
# encryption, and the way back; and the key that authenticates a manifest.
#
# Every stage is a stream (file -> compressor -> openssl -> file): memory stays flat however large
# the database is, and no intermediate plaintext file is written next to the encrypted one.
# shellcheck shell=bash

compress_ext() {
    case "$ETCD_DR_COMPRESSION" in gzip) echo ".gz" ;; zstd) echo ".zst" ;; none) echo "" ;; esac
}

# The encryption this site writes and accepts: with a key file, nothing but encrypted bundles.
site_encryption() {
    if [[ -n "${ETCD_DR_ENCRYPTION_KEY_FILE:-}" ]]; then echo aes-256-cbc-pbkdf2; else echo none; fi
}

# reads: ETCD_DR_COMPRESSION, ETCD_DR_ENCRYPTION_KEY_FILE (no key file: not encrypted)
# A node that writes or reads COMPRESSION needs its tool (the node bootstrap installs zstd).
require_compressor() {
    [[ "$1" == none ]] || command -v "$1" >/dev/null 2>&1 ||
        die "$1 is not installed on $(hostname -s), and this site's snapshots use it; install it (apt-get install $1) or set backup.compression to another of gzip, zstd, none"
}

encode() {
    local in=$1 out=$2
    case "$ETCD_DR_COMPRESSION" in
        gzip) gzip -c -6 <"$in" ;;
        # gzip -6 took 5-6 s of an 11 s backup of a 115 MiB database; zstd -3 takes under 1 s.
        # One thread: with a worker per core zstd holds 50-70 MiB, with --single-thread 7 MiB,
        # and the toolkit's peak memory must not grow with the database or the node's cores.
        zstd) zstd -q -c -3 --single-thread <"$in" ;;
        none) cat "$in" ;;
    esac | if [[ -n "${ETCD_DR_ENCRYPTION_KEY_FILE:-}" ]]; then
        # -pass file: keeps the key out of openssl's arguments.
        openssl enc -aes-256-cbc -pbkdf2 -iter 100000 -salt -pass "file:$ETCD_DR_ENCRYPTION_KEY_FILE"
    else
        cat
    fi >"$out"
}

# decode IN OUT COMPRESSION ENCRYPTION MAX_BYTES: 0 when OUT holds the decoded bytes; 1 (and no
# OUT) on a wrong key or damaged data; 3 (and no OUT) when it decodes to more than MAX_BYTES, as a
# small object made to decompress into a huge one would. Callers check the object's sha256 against
# its authenticated manifest first, so only the site's own bytes ever reach openssl and gzip.
decode() {
    local in=$1 out=$2 compression=$3 encryption=$4 max=$5 status=0
    if [[ "$encryption" != none && -z "${ETCD_DR_ENCRYPTION_KEY_FILE:-}" ]]; then
        log "the snapshot is encrypted but ETCD_DR_ENCRYPTION_KEY_FILE is not set"
        return 1
    fi
    [[ "$compression" != zstd && "$compression" != gzip ]] || require_compressor "$compression"
    {
        case "$encryption" in
            none) cat "$in" ;;
            aes-256-cbc-pbkdf2) openssl enc -d -aes-256-cbc -pbkdf2 -iter 100000 -pass "file:$ETCD_DR_ENCRYPTION_KEY_FILE" -in "$in" ;;
            *) false ;;
        esac | case "$compression" in
            gzip) gzip -dc ;;
            zstd) zstd -q -dc ;;
            none) cat ;;
            *) false ;;
        esac | head -c "$((max + 1))" >"$out"
    } 2>/dev/null || status=$?
    if [[ $status -eq 0 && "$(stat -c %s "$out")" -gt "$max" ]]; then
        status=3
    elif [[ $status -ne 0 ]]; then
        # head stopped reading at the cap (the decompressor then dies of SIGPIPE): too large, not damaged.
        status=1
        if [[ -f "$out" && "$(stat -c %s "$out")" -gt "$max" ]]; then status=3; fi
    fi
    if [[ $status -ne 0 ]]; then
        rm -f "$out"
        return "$status"
    fi
}

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# The key that authenticates manifests, as hex: SHA-256 of a fixed label and the key file's first
# line (the password openssl reads with -pass file:). Whoever holds the store's PARs can write any
# object, but without this key cannot write a manifest this site accepts. The key never leaves
# this shell: read, printf and the pipe carry it, no process argument does.
manifest_mac_key() {
    local password=""
    IFS= read -r password <"$ETCD_DR_ENCRYPTION_KEY_FILE" || true
    [[ -n "$password" ]] || die "encryption key file $ETCD_DR_ENCRYPTION_KEY_FILE is empty"
    printf 'etcd-dr manifest hmac v1\n%s' "$password" | sha256sum | cut -c1-64
}

# hmac_sha256 KEY_HEX: HMAC-SHA256 (RFC 2104) of stdin, as hex. Built from sha256sum because
# openssl takes an HMAC key only as an argument (-hmac, -macopt), which any local user reads in ps.
hmac_sha256() {
    local key=$1 ipad="" opad="" i byte inner
    [[ "$key" =~ ^[0-9a-f]{64}$ ]] || die "an HMAC key must be 32 bytes of hex"
    # A 32-byte key is padded with zeros to SHA-256's 64-byte block.
    for ((i = 0; i < 64; i++)); do
        byte=0
        ((i < 32)) && byte=$((16#${key:i*2:2}))
        printf -v ipad '%s\\x%02x' "$ipad" $((byte ^ 0x36))
        printf -v opad '%s\\x%02x' "$opad" $((byte ^ 0x5c))
    done
    inner="$({ printf '%b' "$ipad"; cat; } | sha256sum | cut -c1-64)"
    # The inner digest goes into the outer hash as bytes, not as hex.
    for ((i = 0; i < 64; i += 2)); do
        opad+="\\x${inner:i:2}"
    done
    printf '%b' "$opad" | sha256sum | cut -c1-64
}
