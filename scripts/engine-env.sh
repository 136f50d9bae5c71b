# shellcheck shell=bash
# Sourced by make targets and tests: puts the offline engine first on PATH and configures Pulumi
# to run without a network: a local file:// backend, no plugin downloads, no update checks.
#   source scripts/engine-env.sh            (builds the engine first if it is not cached)

_etcd_dr_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_etcd_dr_engine="$("$_etcd_dr_root/scripts/build-engine.sh")" || return 1

export PATH="$_etcd_dr_engine/bin:$PATH"
# A Pulumi home of our own, whose plugin cache holds exactly the providers built above.
export PULUMI_HOME="${ETCD_DR_CACHE:-$HOME/.cache/etcd-dr}/pulumi-home"
mkdir -p "$PULUMI_HOME/plugins"
# Real directories (Pulumi skips symlinked ones) holding hard links to the cached binaries.
for _etcd_dr_plugin in "$_etcd_dr_engine"/plugins/*/pulumi-resource-*; do
    _etcd_dr_dir="$PULUMI_HOME/plugins/$(basename "$(dirname "$_etcd_dr_plugin")")"
    mkdir -p "$_etcd_dr_dir"
    ln -f "$_etcd_dr_plugin" "$_etcd_dr_dir/" 2>/dev/null || cp -f "$_etcd_dr_plugin" "$_etcd_dr_dir/"
done
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://${ETCD_DR_STATE_DIR:-$_etcd_dr_root/.state}}"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-etcd-dr-local-only}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_SKIP_CONFIRMATIONS=true
export PULUMI_DIY_BACKEND_GZIP=false
# Upstream's command provider dials $SSH_AUTH_SOCK for every remote command, even with a private
# key, and fails them all when the socket is gone (a closed session's forwarded agent): drop a stale
# one; a live agent stays usable.
if [[ -n "${SSH_AUTH_SOCK:-}" && ! -S "$SSH_AUTH_SOCK" ]]; then
    unset SSH_AUTH_SOCK
fi
mkdir -p "$PULUMI_HOME" "${PULUMI_BACKEND_URL#file://}"
unset _etcd_dr_root _etcd_dr_engine _etcd_dr_plugin _etcd_dr_dir
