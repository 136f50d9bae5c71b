// Compute shapes: only flexible shapes take a shape configuration; a fixed shape (VM.Standard2.4)
// rejects one, so the program sends it only where OCI accepts it.

export function isFlexShape(shape: string): boolean {
    return /\.Flex$/.test(shape);
}

export function shapeConfigFor(shape: string, ocpus: number, memoryGbs: number): { ocpus: number; memoryInGbs: number } | undefined {
    return isFlexShape(shape) ? { ocpus, memoryInGbs: memoryGbs } : undefined;
}
