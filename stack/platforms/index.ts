// The one place a platform name becomes code.

import { Platform } from "../config";
import { existingPlatform } from "./existing";
import { labPlatform } from "./lab";
import { ociPlatform } from "./oci";
import { PlatformAdapter } from "./platform";

export const PLATFORM_ADAPTERS: Record<Platform, PlatformAdapter> = {
    oci: ociPlatform,
    existing: existingPlatform,
    lab: labPlatform,
};

export type { BuiltSite, PlatformAdapter, SiteContext } from "./platform";
