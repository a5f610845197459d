/** Every API handler this broker serves; ApiVersions advertises exactly these. */
import { apiVersions } from "./api-versions.js";
import { fetch } from "./fetch.js";
import { initProducerId } from "./init-producer-id.js";
import { listOffsets } from "./list-offsets.js";
import { metadata } from "./metadata.js";
import { produce } from "./produce.js";
import type { ApiHandler } from "./types.js";

export const HANDLERS: ApiHandler[] = [produce, fetch, listOffsets, metadata, apiVersions, initProducerId];
