/**
 * Offset checkpoint files of a data directory, in Kafka's text format: a version line (0), a count
 * line, then one "topic partition offset" line per partition. Written atomically (tmp + rename).
 */
import type { StorageFs } from "./fs.js";
import { writeFileAtomic } from "./fs.js";

export const RECOVERY_POINT_CHECKPOINT = "recovery-point-offset-checkpoint";
export const LOG_START_OFFSET_CHECKPOINT = "log-start-offset-checkpoint";
export const HIGH_WATERMARK_CHECKPOINT = "replication-offset-checkpoint";

/** Key of a partition in checkpoint maps. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

export async function readCheckpoint(sfs: StorageFs, file: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const data = await sfs.readFile(file);
  if (!data) return out;
  const lines = data
    .toString("utf8")
    .split("\n")
    .filter((l) => l.length > 0);
  const count = Number(lines[1]);
  // A damaged checkpoint is treated as absent: recovery then starts from the log's beginning.
  if (lines[0] !== "0" || lines.length !== count + 2) return out;
  for (const line of lines.slice(2)) {
    const parts = line.split(" ");
    const partition = Number(parts[1]);
    const offset = Number(parts[2]);
    if (parts.length !== 3 || !Number.isInteger(partition) || !Number.isSafeInteger(offset)) return new Map();
    out.set(partitionKey(parts[0], partition), offset);
  }
  return out;
}

export async function writeCheckpoint(
  sfs: StorageFs,
  file: string,
  entries: { topic: string; partition: number; offset: number }[],
): Promise<void> {
  const lines = ["0", String(entries.length), ...entries.map((e) => `${e.topic} ${e.partition} ${e.offset}`)];
  await writeFileAtomic(sfs, file, Buffer.from(`${lines.join("\n")}\n`));
}
