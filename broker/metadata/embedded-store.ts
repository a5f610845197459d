/**
 * The single broker's ClusterStore: a MemoryClusterStore whose durable state (cluster id,
 * topics, the last controller and broker epochs given, the producer-id high mark, SCRAM
 * credentials and ACL bindings) is the file `<data dir>/samsa-metadata.json`, version 3
 * (cluster-document.ts; docs/decisions/0028).
 *
 * Guarantees:
 * - A change is on disk (tmp file, fdatasync, rename, directory fsync: storage/fs.ts
 *   writeFileAtomic) before any reader or watcher sees it; a crash leaves the old file or the new
 *   one, and a leftover temp file is never read.
 * - Epochs survive restarts: a registration or election after reopening takes a larger epoch
 *   than any before, and producer ids are never handed out twice.
 * - A version 1 file (file-store.ts) or version 2 file is migrated and rewritten as version 3 on
 *   open.
 * - Registrations and controller terms are in-process: a session lives until it is closed.
 */
import * as path from "node:path";
import type { Logger } from "pino";
import { KafkaError } from "../../protocol/errors.js";
import { NodeFs, type StorageFs, writeFileAtomic } from "../../storage/fs.js";
import { decodeDocument, encodeDocument } from "./cluster-document.js";
import { METADATA_FILE, newClusterId } from "./file-store.js";
import { type DurableClusterState, emptyClusterState, MemoryClusterStore } from "./memory-store.js";

export interface EmbeddedStoreOptions {
  /** The configured cluster id; a data directory of another cluster is refused. */
  clusterId?: string | null;
  sfs?: StorageFs;
  log?: Logger;
}

export class EmbeddedClusterStore extends MemoryClusterStore {
  private constructor(
    initial: DurableClusterState,
    save: (state: DurableClusterState) => Promise<void>,
    logger?: Logger,
  ) {
    super({ initial, save, logger });
  }

  /** Opens (or creates) the store of `dataDir`; the file is version 3 once this resolves. */
  static async open(dataDir: string, options: EmbeddedStoreOptions = {}): Promise<EmbeddedClusterStore> {
    const sfs = options.sfs ?? new NodeFs();
    await sfs.mkdirp(dataDir);
    const file = path.join(dataDir, METADATA_FILE);
    const data = await sfs.readFile(file);
    const read = data
      ? decodeDocument(file, data, options.log)
      : { state: emptyClusterState(options.clusterId ?? newClusterId()), rewrite: true };
    const configured = options.clusterId;
    if (configured && read.state.clusterId !== configured) {
      throw new KafkaError(
        "INCONSISTENT_CLUSTER_ID",
        `data dir ${dataDir} belongs to cluster ${read.state.clusterId}, configured ${configured}`,
      );
    }
    const save = (state: DurableClusterState) => writeDocument(sfs, file, state);
    if (read.rewrite) await save(read.state);
    return new EmbeddedClusterStore(read.state, save, options.log);
  }
}

/** Replaces the file; a failure is KAFKA_STORAGE_ERROR (the change it carried is refused). */
async function writeDocument(sfs: StorageFs, file: string, state: DurableClusterState): Promise<void> {
  try {
    await writeFileAtomic(sfs, file, encodeDocument(state));
  } catch (err) {
    throw new KafkaError(
      "KAFKA_STORAGE_ERROR",
      `metadata file ${file} could not be written: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}
