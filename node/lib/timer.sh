# etcd-dr toolkit, node/lib/timer.sh: the systemd timer that runs `etcd-dr backup` on a schedule.
# shellcheck shell=bash

readonly UNIT_DIR=/etc/systemd/system

# reads: ENV_FILE, ETCD_DR_ON_CALENDAR, ETCD_DR_RANDOMIZED_DELAY
cmd_install_timer() {
    local self
    # A timer whose every run would fail (no etcdctl/etcdutl at the etcd's version) is refused now,
    # in the install step Pulumi shows, not at 3 a.m. in the journal.
    discover_etcd
    require_etcd_tools
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
    systemctl enable --now etcd-dr-backup.timer >/dev/null 2>&1 || die "systemctl could not enable etcd-dr-backup.timer"
    echo "etcd-dr-backup.timer enabled: OnCalendar=${ETCD_DR_ON_CALENDAR} RandomizedDelaySec=${ETCD_DR_RANDOMIZED_DELAY}"
}

cmd_remove_timer() {
    systemctl disable --now etcd-dr-backup.timer >/dev/null 2>&1 || true
    rm -f "$UNIT_DIR/etcd-dr-backup.timer" "$UNIT_DIR/etcd-dr-backup.service"
    systemctl daemon-reload
    echo "etcd-dr-backup.timer removed"
}
