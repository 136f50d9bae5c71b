# etcd-dr toolkit, node/lib/log.sh: logging and failure.
# Every failure ends the run with one line on stderr, "etcd-dr: ERROR: <what failed>", and a
# non-zero exit: explicit refusals through die, anything unexpected through the ERR trap below.
# shellcheck shell=bash

# The text of the ERROR line that ends this run; finish_backup records it in the status file.
LAST_ERROR=""
# Where a failing subshell leaves its ERROR text for the main shell (see fail); empty until
# load_settings has made the state dir.
ERROR_NOTE=""

# The run's own stderr, kept: a failure (or a signal) can happen inside a command whose stderr goes
# to a log file (`etcdctl snapshot save ... 2>&1 >save.log`), and the ERROR line must still reach
# whoever ran etcd-dr, not that file.
exec {STDERR_FD}>&2

log() {
    printf 'etcd-dr: %s\n' "$*" >&2
    # Runs by hand or over SSH leave a trail in the journal too; under systemd stderr already goes there.
    if [[ -z "${INVOCATION_ID:-}" ]] && command -v logger >/dev/null 2>&1; then
        logger -t etcd-dr -- "$*" 2>/dev/null || true
    fi
}

# note_errors_in DIR: from now on a failing subshell leaves its message in DIR, one file per run.
# sets: ERROR_NOTE
note_errors_in() {
    ERROR_NOTE="$1/.error.$$"
}

# A note that no failure picked up (a subshell's failure its caller handled) goes with the run.
# reads: ERROR_NOTE
forget_error_note() {
    [[ -z "$ERROR_NOTE" ]] || rm -f "$ERROR_NOTE"
}

# fail STATUS MESSAGE: ends the run with MESSAGE as its one ERROR line.
# A failure inside $(...) or a pipeline happens in a subshell. That subshell cannot set the main
# shell's LAST_ERROR, and its line would not be the last one (the main shell fails next). So a
# subshell writes MESSAGE to ERROR_NOTE and exits quietly, and the main shell's ERR trap reports
# it. The first note wins: it names the cause, and the subshells failing after it are consequences.
# sets: LAST_ERROR; reads: ERROR_NOTE
fail() {
    local status=$1 message=$2
    if ((BASH_SUBSHELL > 0)) && [[ -n "$ERROR_NOTE" ]]; then
        if [[ ! -s "$ERROR_NOTE" ]]; then
            printf '%s\n' "$message" 2>/dev/null >"$ERROR_NOTE" || log "ERROR: $message"
        fi
        exit "$status"
    fi
    forget_error_note
    # shellcheck disable=SC2034  # read by finish_backup (backup.sh)
    LAST_ERROR="$message"
    log "ERROR: $message" 2>&"$STDERR_FD"
    exit "$status"
}

die() {
    fail 1 "$*"
}

# The ERR trap. errtrace and inherit_errexit (set in node/etcd-dr) bring every unexpected failure
# here, also inside functions and $(...): the run ends with one line naming the failed command,
# or naming the cause a failing subshell left in ERROR_NOTE.
# reads: ERROR_NOTE
on_error() {
    local status=$? line=$1 command=$2 message
    message="'${command}' failed with status ${status} (line ${line}); nothing after it ran"
    if ((BASH_SUBSHELL == 0)) && [[ -n "$ERROR_NOTE" && -s "$ERROR_NOTE" ]]; then
        message="$(<"$ERROR_NOTE")"
    fi
    fail "$status" "$message"
}
trap 'on_error "$LINENO" "$BASH_COMMAND"' ERR

# What a run leaves behind is decided here, once, however the run ends: success, die, an unexpected
# failure, or SIGTERM (systemd's TimeoutStartSec, a cancelled SSH session). Work files hold
# plaintext (the database, sa.key), and a half-written one is worse than none.
# Paths removed when the run ends, however it ends.
REMOVE_ON_EXIT=()
# Paths removed only when the run fails (a verified download the caller would have used).
REMOVE_ON_FAILURE=()
# A function run, before the removals, when the run fails (backup records the failure with it).
ON_FAILURE=""

remove_on_exit() { REMOVE_ON_EXIT+=("$@"); }
remove_on_failure() { REMOVE_ON_FAILURE+=("$@"); }

# reads: REMOVE_ON_EXIT, REMOVE_ON_FAILURE, ON_FAILURE
on_exit() {
    local status=$?
    # Only the main shell cleans up: a subshell's end is not the run's.
    ((BASH_SUBSHELL == 0)) || return "$status"
    trap - ERR
    if ((status != 0)); then
        [[ -z "$ON_FAILURE" ]] || "$ON_FAILURE" "$status" || true
        ((${#REMOVE_ON_FAILURE[@]} == 0)) || rm -rf -- "${REMOVE_ON_FAILURE[@]}" || true
    fi
    ((${#REMOVE_ON_EXIT[@]} == 0)) || rm -rf -- "${REMOVE_ON_EXIT[@]}" || true
    return "$status"
}
trap on_exit EXIT
# A signal ends the run through die: one ERROR line, the failure recorded, the work files removed.
trap 'die "stopped by SIGTERM"' TERM
trap 'die "stopped by SIGINT"' INT
trap 'die "stopped by SIGHUP (the SSH session ended?)"' HUP

# report_result PHASE JSON-FIELDS: one `etcd-dr-result {...}` line on stdout, the form Pulumi reads
# back (lib/nodeReport.ts). Fields are trusted JSON members written by the caller.
report_result() {
    local phase=$1 fields=$2
    printf 'etcd-dr-result {"phase":"%s","node":"%s",%s}\n' "$phase" "$(hostname -s)" "$fields"
}
