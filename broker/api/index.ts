/** Every API handler this broker serves; ApiVersions advertises exactly these. */

import { alterConfigs } from "./alter-configs.js";
import { apiVersions } from "./api-versions.js";
import { createPartitions } from "./create-partitions.js";
import { createTopics } from "./create-topics.js";
import { deleteTopics } from "./delete-topics.js";
import { describeConfigs } from "./describe-configs.js";
import { describeLogDirs } from "./describe-log-dirs.js";
import { fetch } from "./fetch.js";
import { incrementalAlterConfigs } from "./incremental-alter-configs.js";
import { initProducerId } from "./init-producer-id.js";
import { listOffsets } from "./list-offsets.js";
import { metadata } from "./metadata.js";
import { produce } from "./produce.js";
import type { ApiHandler } from "./types.js";

export const HANDLERS: ApiHandler[] = [
  produce,
  fetch,
  listOffsets,
  metadata,
  apiVersions,
  initProducerId,
  createTopics,
  deleteTopics,
  createPartitions,
  describeConfigs,
  alterConfigs,
  incrementalAlterConfigs,
  describeLogDirs,
];
