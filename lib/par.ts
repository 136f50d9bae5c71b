// Pre-authenticated request expiry: the one rule the config loader, the program's warning and the
// restore prechecks share. A PAR that has expired stops backups and restores without a sound.

export const PAR_WARNING_DAYS = 30;

/** Days until a PAR expires; negative when already expired. */
export function daysUntil(isoTime: string, now: Date): number {
    return (Date.parse(isoTime) - now.getTime()) / 86_400_000;
}

export function parExpired(isoTime: string, now: Date): boolean {
    return Date.parse(isoTime) <= now.getTime();
}

/** The warning a stack prints on every run while its PARs are near or past their expiry. */
export function parExpiryWarning(isoTime: string, now: Date): string | undefined {
    if (!isoTime) return undefined;
    const days = daysUntil(isoTime, now);
    if (days < 0) {
        return `etcd-dr:snapshots.parExpiresAt ${isoTime} is in the past: backups and restores will be refused; set a later time`;
    }
    if (days < PAR_WARNING_DAYS) {
        return `the snapshot store's pre-authenticated requests expire in ${Math.floor(days)} days (${isoTime}); raise etcd-dr:snapshots.parExpiresAt and run pulumi up`;
    }
    return undefined;
}
