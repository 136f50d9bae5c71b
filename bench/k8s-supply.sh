#!/usr/bin/env bash
# Benchmark line for the lab's Kubernetes supply, from the cached build (never rebuilds it):
#   {"bench":"k8s-supply","coldSeconds":N,"warmSeconds":N,"cacheBytes":N}
# coldSeconds is what the cold build recorded; warmSeconds is a warm `supply/build.sh` timed now;
# cacheBytes is the supply directory's size on disk.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT

log() { printf 'bench k8s-supply: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

main() {
    local started ended dir cold warm bytes
    started="$(date +%s.%N)"
    dir="$("$ROOT/supply/build.sh" --cached-only 2>/dev/null)" || die "no cached supply: run make k8s-supply first"
    ended="$(date +%s.%N)"
    warm="$(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.2f", b - a }')"
    cold="$(cat "$dir/build-seconds" 2>/dev/null)" || die "$dir has no build-seconds"
    [[ "$cold" =~ ^[0-9]+$ ]] || die "$dir/build-seconds does not hold a number of seconds"
    bytes="$(du -sb "$dir" | cut -f1)"
    printf '{"bench":"k8s-supply","coldSeconds":%s,"warmSeconds":%s,"cacheBytes":%s}\n' "$cold" "$warm" "$bytes"
}

main "$@"
