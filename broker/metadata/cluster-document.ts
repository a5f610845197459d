/**
 * The embedded store's file, `samsa-metadata.json`, version 3: the durable part of a single
 * broker's cluster (cluster id, topics with their partition states, the last controller and
 * broker epochs given, the producer-id high mark, and since version 3 the SCRAM credentials, bytes
 * in base64, and the ACL bindings). Registrations and controller terms are not in it: they live
 * in the process.
 *
 * Reading proves before it trusts: every field is checked, and a file that breaks an invariant is
 * refused with KAFKA_STORAGE_ERROR naming the file and what is wrong, never half loaded. Two
 * repairs are made instead of refusals, as file-store.ts makes them: a stored topic config that is
 * unknown or invalid is dropped with a warning, and a topic without a valid id gets a new one;
 * either way the caller rewrites the file before anyone sees the state. Version 1 (file-store.ts)
 * is migrated: leader epochs kept, partition epochs starting from them, ISR as stored. Versions 1
 * and 2 have no credentials and no bindings: they are read as none, and the file is rewritten.
 */
import type { Logger } from "pino";
import { KafkaError } from "../../protocol/errors.js";
import { configRecord, keepValidTopicConfigs } from "../../storage/topic-configs.js";
import {
  ACL_BINDINGS_MAX,
  type AclBinding,
  aclBinding,
  aclBindingProblem,
  aclEntryOf,
  aclPatternOf,
  aclResourceKey,
} from "./acl-bindings.js";
import type { PartitionState, TopicState } from "./cluster.js";
import { topicProblem } from "./cluster-checks.js";
import { newTopicId, VALID_TOPIC_ID } from "./file-store.js";
import type { DurableClusterState } from "./memory-store.js";
import {
  readStoredScramCredential,
  SCRAM_CREDENTIALS_MAX,
  type ScramCredentialEntry,
  type ScramMechanism,
  type StoredScramCredential,
  scramEntryProblem,
  scramKey,
  storedScramCredential,
} from "./scram-credentials.js";

export const CLUSTER_DOCUMENT_VERSION = 3;

/** A credential as the file holds it. */
interface StoredScramEntry extends StoredScramCredential {
  user: string;
  mechanism: ScramMechanism;
}

/** The file as written (version 3). */
interface DocumentV3 extends Omit<DurableClusterState, "scramCredentials"> {
  version: 3;
  scramCredentials: StoredScramEntry[];
}

/** What reading a file gives: the state, and whether it must be rewritten before use. */
export interface ReadDocument {
  state: DurableClusterState;
  /** Migrated from version 1, or repaired (a config dropped, a topic id given). */
  rewrite: boolean;
}

/** The file's bytes for `state`. */
export function encodeDocument(state: DurableClusterState): Buffer {
  const doc: DocumentV3 = {
    version: 3,
    clusterId: state.clusterId,
    controllerEpoch: state.controllerEpoch,
    brokerEpoch: state.brokerEpoch,
    producerIdsIssued: state.producerIdsIssued,
    topics: [...state.topics],
    scramCredentials: state.scramCredentials.map((e) => ({
      user: e.user,
      mechanism: e.mechanism,
      ...storedScramCredential(e.credential),
    })),
    aclBindings: [...state.aclBindings],
  };
  return Buffer.from(`${JSON.stringify(doc, null, 2)}\n`);
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

/** Reads the file's bytes; throws KAFKA_STORAGE_ERROR naming `file` when it cannot be trusted. */
export function decodeDocument(file: string, data: Buffer, log?: Logger): ReadDocument {
  const refuse = (what: string) => new KafkaError("KAFKA_STORAGE_ERROR", `metadata file ${file}: ${what}`);
  let raw: unknown;
  try {
    raw = JSON.parse(data.toString("utf8"));
  } catch (err) {
    throw refuse(`unreadable: ${(err as Error).message}`);
  }
  if (!isObject(raw)) throw refuse("not a JSON object");
  if (raw.version !== 1 && raw.version !== 2 && raw.version !== 3) {
    throw refuse(`version ${JSON.stringify(raw.version)} is not one this broker reads (1 to 3)`);
  }
  const v1 = raw.version === 1;
  if (typeof raw.clusterId !== "string" || raw.clusterId.length === 0) throw refuse("no cluster id");
  const counters = v1
    ? { controllerEpoch: 0, brokerEpoch: 0, producerIdsIssued: raw.producerIdBlockEnd }
    : {
        controllerEpoch: raw.controllerEpoch,
        brokerEpoch: raw.brokerEpoch,
        producerIdsIssued: raw.producerIdsIssued,
      };
  for (const [name, value] of Object.entries(counters)) {
    if (!isCount(value)) throw refuse(`${name} is not a non-negative integer`);
  }
  if (!Array.isArray(raw.topics)) throw refuse("topics is not a list");
  let rewrite = raw.version !== CLUSTER_DOCUMENT_VERSION;
  const topics: TopicState[] = [];
  const names = new Set<string>();
  const ids = new Set<string>();
  for (const stored of raw.topics) {
    const read = readTopic(stored, v1, log);
    if (typeof read === "string") throw refuse(read);
    rewrite ||= read.repaired;
    const problem = topicProblem(read.topic);
    if (problem) throw refuse(`topic ${read.topic.name}: ${problem}`);
    if (names.has(read.topic.name)) throw refuse(`topic ${read.topic.name} appears twice`);
    if (ids.has(read.topic.id)) throw refuse(`topic id ${read.topic.id} is used twice`);
    names.add(read.topic.name);
    ids.add(read.topic.id);
    topics.push(read.topic);
  }
  return {
    state: {
      clusterId: raw.clusterId,
      ...(counters as Pick<DurableClusterState, "controllerEpoch" | "brokerEpoch" | "producerIdsIssued">),
      topics,
      ...readSecurity(raw, refuse),
    },
    rewrite,
  };
}

/** Version 3's credentials and bindings, each checked (none in older versions). */
function readSecurity(
  raw: Json,
  refuse: (what: string) => KafkaError,
): Pick<DurableClusterState, "scramCredentials" | "aclBindings"> {
  if (raw.version !== 3) return { scramCredentials: [], aclBindings: [] };
  if (!Array.isArray(raw.scramCredentials)) throw refuse("scramCredentials is not a list");
  if (!Array.isArray(raw.aclBindings)) throw refuse("aclBindings is not a list");
  if (raw.scramCredentials.length > SCRAM_CREDENTIALS_MAX)
    throw refuse(`more than ${SCRAM_CREDENTIALS_MAX} SCRAM credentials`);
  if (raw.aclBindings.length > ACL_BINDINGS_MAX) throw refuse(`more than ${ACL_BINDINGS_MAX} ACL bindings`);
  const scramCredentials: ScramCredentialEntry[] = [];
  const credentialKeys = new Set<string>();
  for (const stored of raw.scramCredentials) {
    const entry = readScramEntry(stored);
    if (typeof entry === "string") throw refuse(`a SCRAM credential: ${entry}`);
    const key = scramKey(entry.user, entry.mechanism);
    if (credentialKeys.has(key))
      throw refuse(`the ${entry.mechanism} credential of ${entry.user} appears twice`);
    credentialKeys.add(key);
    scramCredentials.push(entry);
  }
  const aclBindings: AclBinding[] = [];
  const bindingKeys = new Set<string>();
  for (const stored of raw.aclBindings) {
    if (!isObject(stored)) throw refuse("an ACL binding is not an object");
    const b = aclBinding(
      aclPatternOf(stored as unknown as AclBinding),
      aclEntryOf(stored as unknown as AclBinding),
    );
    const problem = aclBindingProblem(b);
    if (problem) throw refuse(`an ACL binding: ${problem}`);
    const key = JSON.stringify([aclResourceKey(b), b.principal, b.host, b.operation, b.permission]);
    if (bindingKeys.has(key)) throw refuse(`an ACL binding appears twice (${key})`);
    bindingKeys.add(key);
    aclBindings.push(b);
  }
  return { scramCredentials, aclBindings };
}

/** One stored credential (its fields picked one by one), or what is wrong with it. */
function readScramEntry(stored: unknown): ScramCredentialEntry | string {
  if (!isObject(stored)) return "not an object";
  try {
    const entry = {
      user: stored.user as string,
      mechanism: stored.mechanism as ScramMechanism,
      credential: readStoredScramCredential(stored),
    };
    return scramEntryProblem(entry) ?? entry;
  } catch (err) {
    return (err as Error).message;
  }
}

/** One stored topic (its fields picked one by one), or what is wrong with it. */
function readTopic(
  stored: unknown,
  v1: boolean,
  log?: Logger,
): { topic: TopicState; repaired: boolean } | string {
  if (!isObject(stored) || typeof stored.name !== "string") return "a topic without a name";
  const name = stored.name;
  if (!Array.isArray(stored.partitions)) return `topic ${name}: partitions is not a list`;
  const partitions: PartitionState[] = [];
  for (const p of stored.partitions) {
    if (!isObject(p)) return `topic ${name}: a partition is not an object`;
    partitions.push(v1 ? migratePartition(p) : pickPartition(p));
  }
  const { configs, dropped } = readConfigs(name, stored.configs, log);
  const idValid = typeof stored.id === "string" && VALID_TOPIC_ID.test(stored.id);
  // A topic written before topics had ids (or edited by hand) gets one now, persisted before any
  // client can see it, so the id a client learns never changes across restarts.
  const id = idValid ? (stored.id as string) : newTopicId();
  return { topic: { name, id, partitions, configs }, repaired: dropped || !idValid };
}

/** A version 1 partition: leader epoch kept, partition epoch starting from it, ISR as stored. */
function migratePartition(p: Json): PartitionState {
  return {
    partition: p.partition as number,
    replicas: p.replicas as number[],
    isr: p.isr as number[],
    leader: p.leader as number,
    leaderEpoch: p.leaderEpoch as number,
    partitionEpoch: p.leaderEpoch as number,
    addingReplicas: [],
    removingReplicas: [],
  };
}

/** A version 2 partition's fields, nothing else; topicProblem checks them next. */
function pickPartition(p: Json): PartitionState {
  return {
    partition: p.partition as number,
    replicas: p.replicas as number[],
    isr: p.isr as number[],
    leader: p.leader as number,
    leaderEpoch: p.leaderEpoch as number,
    partitionEpoch: p.partitionEpoch as number,
    addingReplicas: p.addingReplicas as number[],
    removingReplicas: p.removingReplicas as number[],
  };
}

/** The valid configs of a stored topic, prototype-free; each one dropped is logged at warn. */
function readConfigs(
  topic: string,
  stored: unknown,
  log?: Logger,
): { configs: Record<string, string>; dropped: boolean } {
  const { kept, dropped } = keepValidTopicConfigs(isObject(stored) ? stored : configRecord<unknown>());
  for (const d of dropped) {
    log?.warn(
      { topic, config: d.name, reason: d.reason },
      "stored topic config dropped: the broker does not accept it",
    );
  }
  return { configs: kept, dropped: dropped.length > 0 || !isObject(stored) };
}
