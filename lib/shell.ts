// Quoting for text that ends up in a POSIX shell on a node: settings files, sudo wrappers.

/** One shell word that expands to exactly `value`. */
export function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}
