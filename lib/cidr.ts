// IPv4 CIDR math for VCNs and subnets. Pure functions, no Pulumi.

export interface Cidr {
    /** Network address as an unsigned 32-bit integer. */
    readonly base: number;
    readonly prefix: number;
}

const CIDR_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Parses "a.b.c.d/n"; returns undefined when malformed or when host bits are set. */
export function parseCidr(text: string): Cidr | undefined {
    const match = CIDR_PATTERN.exec(text.trim());
    if (!match) {
        return undefined;
    }
    const octets = match.slice(1, 5).map(Number);
    const prefix = Number(match[5]);
    if (octets.some((o) => o > 255) || prefix > 32) {
        return undefined;
    }
    const address = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
    const base = (address & prefixMask(prefix)) >>> 0;
    // "10.0.0.1/16" is almost always a typo for a network; refuse it rather than guess.
    return base === address ? { base, prefix } : undefined;
}

export function formatCidr(cidr: Cidr): string {
    return `${formatAddress(cidr.base)}/${cidr.prefix}`;
}

export function formatAddress(address: number): string {
    return [24, 16, 8, 0].map((shift) => (address >>> shift) & 0xff).join(".");
}

function prefixMask(prefix: number): number {
    return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function lastAddress(cidr: Cidr): number {
    return (cidr.base + size(cidr) - 1) >>> 0;
}

function size(cidr: Cidr): number {
    return 2 ** (32 - cidr.prefix);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
    return a.base <= lastAddress(b) && b.base <= lastAddress(a);
}

/** Same as `cidrsOverlap` for strings; malformed input never overlaps (it is reported elsewhere). */
export function cidrTextsOverlap(a: string, b: string): boolean {
    const pa = parseCidr(a);
    const pb = parseCidr(b);
    return pa !== undefined && pb !== undefined && cidrsOverlap(pa, pb);
}

/** The `index`-th subnet of `parent` that is `newBits` longer, like Terraform's cidrsubnet(). */
export function subnet(parent: Cidr, newBits: number, index: number): Cidr {
    const prefix = parent.prefix + newBits;
    if (prefix > 32 || index < 0 || index >= 2 ** newBits) {
        throw new Error(`subnet ${index} of ${formatCidr(parent)} with ${newBits} new bits does not exist`);
    }
    return { base: (parent.base + index * 2 ** (32 - prefix)) >>> 0, prefix };
}

/**
 * The address `offset` hosts into `cidr`. OCI reserves the first two and the last address of every
 * subnet, so offsets below 2 or at the end are refused.
 */
export function hostAddress(cidr: Cidr, offset: number): string {
    if (offset < 2 || offset >= size(cidr) - 1) {
        throw new Error(`host offset ${offset} is outside the usable range of ${formatCidr(cidr)}`);
    }
    return formatAddress(cidr.base + offset);
}
