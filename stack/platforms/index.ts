// The one place a platform name becomes code.

import { Platform } from "../config";
import { PlatformAdapter } from "./platform";

/**
 * Each adapter is loaded when its platform is first asked for: a stack loads its own platform's
 * components and provider SDK only. `@pulumi/oci` alone is ~150 modules that a lab or existing
 * stack never uses, read on every preview and up.
 */
export const PLATFORM_ADAPTERS: Record<Platform, PlatformAdapter> = {
    get oci() {
        return (require("./oci") as typeof import("./oci")).ociPlatform;
    },
    get existing() {
        return (require("./existing") as typeof import("./existing")).existingPlatform;
    },
    get lab() {
        return (require("./lab") as typeof import("./lab")).labPlatform;
    },
};

export type { BuiltSite, PlatformAdapter, SiteContext } from "./platform";
