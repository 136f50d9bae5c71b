# etcd-dr toolkit, node/lib/timer.sh: the systemd timer that runs `etcd-dr backup` on a schedule.
# shellcheck shell=bash

readonly UNIT_DIR=/etc/systemd/system

# Which install the timer on this node is now: the owner token of the last `install-timer --owner`
# (Pulumi's BackupSchedule gives one per settings and toolkit). A replacement installs the new
# timer first and runs the old resource's delete after it; that delete names the old owner and
# leaves the new timer alone (review #29: deleting first left a node without backups whenever the
# new install then failed).
timer_owner_file() { echo "$ETCD_DR_STATE_DIR/backup-timer.owner"; }

# timer_owner_args ARGS...: `--owner TOKEN` (and, for remove-timer, `--force`).
# sets: TIMER_OWNER, TIMER_FORCE
timer_owner_args() {
    TIMER_OWNER="" TIMER_FORCE=false
    while (($#)); do
        case "$1" in
            --owner)
                [[ "${2:-}" =~ ^[A-Za-z0-9._:-]{1,128}$ ]] || die "--owner needs a token (letters, digits, . _ : -)"
                TIMER_OWNER=$2
                shift
                ;;
            --force) TIMER_FORCE=true ;;
            *) die "unexpected argument '$1'; run \`etcd-dr help\`" ;;
        esac
        shift
    done
}

# install-timer [--owner TOKEN]: the units written atomically over any earlier ones and the timer
# restarted, so a new schedule applies at once; the timer is never absent in between.
# reads: ENV_FILE, ETCD_DR_ON_CALENDAR, ETCD_DR_RANDOMIZED_DELAY
cmd_install_timer() {
    local self
    timer_owner_args "$@"
    ! $TIMER_FORCE || die "install-timer takes --owner TOKEN, not --force"
    # A timer whose every run would fail (no etcdctl/etcdutl at the etcd's version) is refused now,
    # in the install step Pulumi shows, not at 3 a.m. in the journal.
    discover_etcd
    require_etcd_tools
    # The settings file may not exist yet when the install runs by hand; the backup checks again.
    require_compressor "${ETCD_DR_COMPRESSION:-zstd}"
    # The service runs this very file: on a node, the installed (assembled) toolkit.
    self="$(readlink -f "$0")"
    write_atomically "$UNIT_DIR/etcd-dr-backup.service" <<UNIT
[Unit]
Description=etcd-dr: snapshot etcd into the snapshot store (acts on the leader only)
Documentation=man:etcd-dr
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
Environment=ETCD_DR_ENV=${ENV_FILE}
ExecStart=${self} backup
Nice=10
IOSchedulingClass=best-effort
TimeoutStartSec=30min
UNIT
    write_atomically "$UNIT_DIR/etcd-dr-backup.timer" <<UNIT
[Unit]
Description=etcd-dr: scheduled etcd snapshots

[Timer]
OnCalendar=${ETCD_DR_ON_CALENDAR}
RandomizedDelaySec=${ETCD_DR_RANDOMIZED_DELAY}
Persistent=true
AccuracySec=1s
Unit=etcd-dr-backup.service

[Install]
WantedBy=timers.target
UNIT
    systemctl daemon-reload
    # restart, not enable --now: a running timer keeps the schedule it started with.
    { systemctl enable etcd-dr-backup.timer && systemctl restart etcd-dr-backup.timer; } >/dev/null 2>&1 ||
        die "systemctl could not enable and start etcd-dr-backup.timer; see \`systemctl status etcd-dr-backup.timer\`"
    [[ -z "$TIMER_OWNER" ]] || echo "$TIMER_OWNER" | write_atomically "$(timer_owner_file)"
    echo "etcd-dr-backup.timer enabled: OnCalendar=${ETCD_DR_ON_CALENDAR} RandomizedDelaySec=${ETCD_DR_RANDOMIZED_DELAY}"
}

# remove-timer [--owner TOKEN | --force]: removes the timer unless another install owns it now:
# with --owner, unless the last owned install was another token's; without, unless any was
# (an older delete that names no owner, run after a replacement). --force removes it anyway.
cmd_remove_timer() {
    local owner
    timer_owner_args "$@"
    owner="$(cat "$(timer_owner_file)" 2>/dev/null || true)"
    if ! $TIMER_FORCE && [[ -n "$owner" && "$owner" != "$TIMER_OWNER" ]]; then
        echo "etcd-dr-backup.timer left in place: a later install owns it now ($(timer_owner_file)); \`etcd-dr remove-timer --force\` removes it anyway"
        return 0
    fi
    systemctl disable --now etcd-dr-backup.timer >/dev/null 2>&1 || true
    rm -f "$UNIT_DIR/etcd-dr-backup.timer" "$UNIT_DIR/etcd-dr-backup.service"
    systemctl daemon-reload
    rm -f "$(timer_owner_file)"
    echo "etcd-dr-backup.timer removed"
}
