#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine, and nothing twice:
#   ensure-deps.sh npm            node packages from package-lock.json
#   ensure-deps.sh apt PKG...     Debian packages that are not installed yet
set -euo pipefail

log() { printf 'ensure-deps: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT

ensure_npm() {
    local stamp="$ROOT/node_modules/.etcd-dr-lock"
    if [[ -f "$stamp" ]] && cmp -s "$ROOT/package-lock.json" "$stamp"; then
        return 0
    fi
    log "installing node packages (npm ci)"
    # On stderr: `make bench` keeps stdout for its JSON lines.
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error) >&2
    cp "$ROOT/package-lock.json" "$stamp"
}

ensure_apt() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    [[ $EUID -eq 0 ]] || die "Debian packages ${missing[*]} are missing; run as root or install them"
    log "installing Debian packages: ${missing[*]}"
    # A fresh machine has no package lists yet; refresh them once per boot at most.
    if [[ ! -f /run/etcd-dr-apt-updated ]]; then
        apt-get update -qq
        touch /run/etcd-dr-apt-updated
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

main() {
    local what="${1:-}"
    shift || true
    case "$what" in
        npm) ensure_npm ;;
        apt) ensure_apt "$@" ;;
        *) die "usage: ensure-deps.sh npm | apt PKG..." ;;
    esac
}

main "$@"
