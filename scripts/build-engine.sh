#!/usr/bin/env bash
# Builds the offline Pulumi engine from Go modules, at the versions package.json pins:
#   pulumi                    the upstream CLI (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
#   pulumi-language-nodejs    engine/cmd/pulumi-language-nodejs
#   pulumi-resource-command   engine/cmd/pulumi-resource-command
#   pulumi-resource-random    engine/cmd/pulumi-resource-random
#   pulumi-resource-kubernetes engine/cmd/pulumi-resource-kubernetes
# into one cache directory outside the repository: bin/ for the CLI and the language host, and
# plugins/ laid out like Pulumi's own plugin cache (resource-<name>-v<version>/), so the engine
# finds the providers by name and version. A second run with the same versions and sources finds
# everything there and builds nothing. Prints the directory on stdout.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly CACHE_ROOT="${ETCD_DR_CACHE:-$HOME/.cache/etcd-dr}/engine"

log() { printf 'engine: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

npm_version() {
    node -e 'const p=require(process.argv[1]); const v=(p.dependencies||{})[process.argv[2]]; if(!v){process.exit(1)} console.log(v.replace(/^[\^~v]/,""))' \
        "$ROOT/package.json" "$1" || die "package.json does not pin $1"
}

go_module_version() {
    awk -v mod="$1" '$1 == mod { print $2; exit }' "$ROOT/engine/go.mod"
}

find_go() {
    if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
        PATH="/usr/local/go/bin:$PATH"
    fi
    command -v go >/dev/null 2>&1 || die "Go is not installed; the engine is built from Go modules (install Go 1.26+)"
}

# The dynamic-provider launcher, as upstream ships it in @pulumi/pulumi's dist/: the engine starts
# plugins in the program's directory (ctx.Pwd), and node resolves @pulumi/pulumi from there the way
# require() does (up the parent directories, NODE_PATH), so a program whose node_modules is in a
# parent directory or a workspace root works too. Unlike upstream's, it fails with node's own
# "Cannot find module" when there is none, and exec's node so the engine's signals reach it.
launcher() {
    cat <<'SCRIPT'
#!/bin/sh
script="$(node -e "process.stdout.write(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))")" || exit 1
exec node "$script" "$@"
SCRIPT
}

# The engine's Go sources and the launcher: a change of either is a new engine directory.
sources_digest() {
    {
        (cd "$ROOT/engine" && find . -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) -print0 | sort -z | xargs -0 sha256sum)
        launcher
    } | sha256sum | cut -c1-12
}

build() {
    local out="$1" package="$2" version="$3" version_var="$4"
    log "building $(basename "$out") $version"
    (cd "$ROOT/engine" && go build -trimpath -ldflags "-s -w -X ${version_var}=${version}" -o "$out" "$package")
}

main() {
    local pulumi_v command_v random_v kubernetes_v pkg_v dir tmp started
    pulumi_v="$(npm_version @pulumi/pulumi)"
    command_v="$(npm_version @pulumi/command)"
    random_v="$(npm_version @pulumi/random)"
    kubernetes_v="$(npm_version @pulumi/kubernetes)"
    pkg_v="$(go_module_version github.com/pulumi/pulumi/pkg/v3)"
    [[ "$pkg_v" == "v$pulumi_v" ]] ||
        die "engine/go.mod builds the CLI from pkg/v3 $pkg_v but package.json pins @pulumi/pulumi $pulumi_v; make them equal"

    dir="$CACHE_ROOT/pulumi-${pulumi_v}_command-${command_v}_random-${random_v}_kubernetes-${kubernetes_v}_src-$(sources_digest)"
    if [[ -x "$dir/bin/pulumi" && -x "$dir/bin/pulumi-language-nodejs" && -x "$dir/bin/pulumi-resource-pulumi-nodejs" &&
        -x "$dir/plugins/resource-command-v$command_v/pulumi-resource-command" &&
        -x "$dir/plugins/resource-random-v$random_v/pulumi-resource-random" &&
        -x "$dir/plugins/resource-kubernetes-v$kubernetes_v/pulumi-resource-kubernetes" ]]; then
        log "cached: $dir"
        echo "$dir"
        return 0
    fi

    find_go
    started=$SECONDS
    tmp="$(mktemp -d "$CACHE_ROOT.tmp.XXXXXX" 2>/dev/null || { mkdir -p "$(dirname "$CACHE_ROOT")" && mktemp -d "$CACHE_ROOT.tmp.XXXXXX"; })"
    trap 'rm -rf "$tmp"' EXIT
    build "$tmp/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "v$pulumi_v" github.com/pulumi/pulumi/sdk/v3/go/common/version.Version
    build "$tmp/bin/pulumi-language-nodejs" ./cmd/pulumi-language-nodejs "$pulumi_v" main.version
    build "$tmp/plugins/resource-command-v$command_v/pulumi-resource-command" ./cmd/pulumi-resource-command "$command_v" main.version
    build "$tmp/plugins/resource-random-v$random_v/pulumi-resource-random" ./cmd/pulumi-resource-random "$random_v" main.version
    build "$tmp/plugins/resource-kubernetes-v$kubernetes_v/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes "$kubernetes_v" main.version
    # Dynamic providers run in the program's own @pulumi/pulumi, found as upstream's launcher finds it.
    launcher >"$tmp/bin/pulumi-resource-pulumi-nodejs"
    chmod 0755 "$tmp/bin/pulumi-resource-pulumi-nodejs"

    mkdir -p "$CACHE_ROOT"
    rm -rf "$dir"
    mv "$tmp" "$dir"
    trap - EXIT
    # Builds for other versions or sources are only cache; keep the disk to one engine.
    find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 -type d -name 'pulumi-*' ! -path "$dir" -exec rm -rf {} +
    log "built in $((SECONDS - started))s: $dir"
    echo "$dir"
}

main "$@"
