/**
 * The local view of one cluster's keys in etcd, and the key layout under the cluster's prefix:
 *
 *   cluster-id          the cluster id (written once, by the first store to open)
 *   controller          {nodeId}, bound to the controller's lease; epoch = its create revision
 *   brokers/<nodeId>    {host, port, rack, httpPort, endpoints?, incarnationId?, shuttingDown}, bound
 *                       to the broker's lease; epoch = its create revision
 *   topics/<name>       {id, configs, partitions}: one key per topic, so a topic is created,
 *                       changed and deleted by one put, whatever its partition count (etcd's
 *                       --max-txn-ops limits the keys of one txn, 128 by default)
 *   producer-ids        the next producer id never handed out
 *   scram/<mechanism>/<user>
 *                       {salt, storedKey, serverKey, iterations} (bytes in base64): one key per
 *                       credential, so users are altered by compare-and-set of their own keys
 *   acls/<resourceType>/<patternType>/<resourceName>
 *                       {entries: [{principal, host, operation, permission}]}: one key per
 *                       resource pattern (as Kafka's ZooKeeper layout), entries sorted; a
 *                       pattern without entries has no key
 *
 * User and resource names may hold "/": the mechanism, resource type and pattern type never do,
 * so a key splits at its first slashes.
 *
 * Epochs are etcd create revisions: every (re)creation of a key gets a revision larger than any
 * before it in the cluster, so they only grow, across restarts of etcd included. The view applies
 * etcd's key changes in revision order and answers what they mean as MetadataEvents.
 */
import {
  type AclBinding,
  type AclResourceBindings,
  type AclResourcePattern,
  flattenAclBindings,
  readAclEntries,
} from "./acl-bindings.js";
import type {
  BrokerRegistration,
  ControllerInfo,
  MetadataEvent,
  PartitionState,
  TopicState,
} from "./cluster.js";
import { endpointsProblem, incarnationProblem } from "./cluster.js";
import { frozenTopic, topicProblem } from "./cluster-checks.js";
import type { EtcdEvent, EtcdKv } from "./etcd-client.js";
import {
  copyScramCredential,
  isScramMechanism,
  readStoredScramCredential,
  type ScramCredential,
  type ScramCredentialEntry,
  type ScramMechanism,
  type ScramUserInfo,
  scramEntryProblem,
  scramKey,
  scramUsers,
} from "./scram-credentials.js";

export const KEYS = {
  clusterId: "cluster-id",
  controller: "controller",
  brokers: "brokers/",
  topics: "topics/",
  producerIds: "producer-ids",
  scram: "scram/",
  acls: "acls/",
} as const;

export function brokerKey(nodeId: number): string {
  return `${KEYS.brokers}${nodeId}`;
}

export function topicKey(name: string): string {
  return `${KEYS.topics}${name}`;
}

/** `scram/<mechanism>/<user>` (scramKey after the prefix). */
export function scramCredentialKey(user: string, mechanism: ScramMechanism): string {
  return `${KEYS.scram}${scramKey(user, mechanism)}`;
}

/** The user and mechanism a key's tail after `scram/` names; throws when it names none. */
export function parseScramKey(tail: string): { user: string; mechanism: ScramMechanism } {
  const slash = tail.indexOf("/");
  const mechanism = tail.slice(0, slash);
  if (slash < 0 || !isScramMechanism(mechanism)) throw new Error(`${tail} names no SCRAM mechanism`);
  return { user: tail.slice(slash + 1), mechanism };
}

/** The resource pattern a key's tail after `acls/` names (checked by readAclEntries); throws when malformed. */
export function parseAclKey(tail: string): AclResourcePattern {
  const first = tail.indexOf("/");
  const second = tail.indexOf("/", first + 1);
  if (first < 0 || second < 0) throw new Error(`${tail} is not <resourceType>/<patternType>/<name>`);
  return Object.freeze({
    resourceType: tail.slice(0, first),
    patternType: tail.slice(first + 1, second),
    resourceName: tail.slice(second + 1),
  } as AclResourcePattern);
}

/** One resource's bindings read from its stored value; throws naming the fault. */
export function readAclValue(pattern: AclResourcePattern, value: string): AclResourceBindings {
  return readAclEntries(pattern, parsed(value).entries);
}

/** A topic as stored under its key (the name is the key). */
export interface StoredTopic {
  id: string;
  configs: Record<string, string>;
  partitions: PartitionState[];
}

export function storedTopic(topic: TopicState): StoredTopic {
  return { id: topic.id, configs: topic.configs, partitions: topic.partitions };
}

export class EtcdView {
  /** The revision of etcd the view reflects. */
  revision = 0;
  clusterId = "";
  controller: ControllerInfo | null = null;
  producerIdsNext = 0;
  readonly brokers = new Map<number, BrokerRegistration>();
  private readonly topics = new Map<string, TopicState>();
  private readonly topicIds = new Map<string, string>();
  /** Every key under the prefix, good values or not (compared with etcd's count by the probe). */
  private readonly keys = new Set<string>();
  /** By scramKey, as the key's tail. */
  private readonly scram = new Map<string, ScramCredentialEntry>();
  private scramUserList: readonly ScramUserInfo[] | null = [];
  /** By aclResourceKey, as the key's tail. */
  private readonly acls = new Map<string, AclResourceBindings>();
  /** The flattened bindings, rebuilt on the first read after a change (null: to rebuild). */
  private aclList: readonly AclBinding[] | null = [];

  /** Replaces the whole view with `kvs` read at `revision`. */
  load(kvs: EtcdKv[], revision: number, prefix: string): void {
    this.clusterId = "";
    this.controller = null;
    this.producerIdsNext = 0;
    this.brokers.clear();
    this.topics.clear();
    this.topicIds.clear();
    this.keys.clear();
    this.scram.clear();
    this.acls.clear();
    this.scramUserList = null;
    this.aclList = null;
    this.apply(
      kvs.map((kv) => ({ type: "PUT", kv })),
      prefix,
    );
    this.revision = revision;
  }

  /**
   * @param onBadValue told of a value that does not decode or breaks the model's invariants (an
   *   operator's put, another schema in a rolling upgrade): the key keeps its last good value and
   *   the view goes on, so one bad key never stops every broker's view.
   */
  constructor(private readonly onBadValue: (key: string, modRevision: number, problem: string) => void) {}

  /** Applies one revision's changes; answers the events they make. */
  apply(changes: EtcdEvent[], prefix: string): MetadataEvent[] {
    const events: MetadataEvent[] = [];
    for (const { type, kv } of changes) {
      if (!kv.key.startsWith(prefix)) continue;
      if (type === "PUT") this.keys.add(kv.key);
      else this.keys.delete(kv.key);
      try {
        events.push(...this.applyKey(kv.key.slice(prefix.length), type === "PUT" ? kv.value : null, kv));
      } catch (err) {
        this.onBadValue(kv.key, kv.modRevision, err instanceof Error ? err.message : String(err));
      }
    }
    return events;
  }

  /** One key's change (value null: deleted); throws, changing nothing, on a bad value. */
  private applyKey(key: string, value: string | null, kv: EtcdKv): MetadataEvent[] {
    if (key === KEYS.clusterId) this.clusterId = value ?? "";
    else if (key === KEYS.producerIds) this.producerIdsNext = Math.max(this.producerIdsNext, count(value));
    else if (key === KEYS.controller) return this.applyController(value, kv.createRevision);
    else if (key.startsWith(KEYS.brokers)) return [this.applyBroker(key, value, kv.createRevision)];
    else if (key.startsWith(KEYS.topics)) return this.applyTopic(key.slice(KEYS.topics.length), value);
    else if (key.startsWith(KEYS.scram)) return this.applyScram(key.slice(KEYS.scram.length), value);
    else if (key.startsWith(KEYS.acls)) return this.applyAcl(key.slice(KEYS.acls.length), value);
    return [];
  }

  private applyController(value: string | null, createRevision: number): MetadataEvent[] {
    const next =
      value === null
        ? null
        : Object.freeze({ nodeId: nodeIdOf(parsed(value).nodeId), epoch: createRevision });
    const same = next?.epoch === this.controller?.epoch && next?.nodeId === this.controller?.nodeId;
    this.controller = next;
    return same ? [] : [{ type: "controller", controller: next }];
  }

  private applyBroker(key: string, value: string | null, createRevision: number): MetadataEvent {
    const nodeId = nodeIdOf(Number(key.slice(KEYS.brokers.length)));
    if (value === null) {
      this.brokers.delete(nodeId);
      return { type: "broker", nodeId, registration: null };
    }
    const stored = parsed(value) as unknown as Omit<BrokerRegistration, "nodeId" | "epoch">;
    const problem = registrationProblem(stored);
    if (problem) throw new Error(problem);
    const registration: BrokerRegistration = Object.freeze({
      nodeId,
      host: stored.host,
      port: stored.port,
      rack: stored.rack,
      httpPort: stored.httpPort,
      ...(stored.endpoints
        ? { endpoints: Object.freeze(stored.endpoints.map((e) => Object.freeze({ ...e }))) }
        : {}),
      ...(stored.incarnationId !== undefined ? { incarnationId: stored.incarnationId } : {}),
      epoch: createRevision,
      shuttingDown: stored.shuttingDown,
    });
    this.brokers.set(nodeId, registration);
    return { type: "broker", nodeId, registration };
  }

  /**
   * A topic created, deleted, given partitions or new configs is one "topic" event; a change of
   * partition states alone is one "partition" event per partition whose state changed.
   */
  private applyTopic(name: string, value: string | null): MetadataEvent[] {
    const old = this.topics.get(name);
    if (value === null) {
      if (old) this.topicIds.delete(old.id);
      this.topics.delete(name);
      return old ? [{ type: "topic", name, topic: null }] : [];
    }
    const stored = parsed(value) as unknown as StoredTopic;
    const decoded = { name, id: stored.id, partitions: stored.partitions, configs: stored.configs };
    const problem = topicProblem(decoded);
    if (problem) throw new Error(problem);
    const topic = frozenTopic(decoded);
    if (old) this.topicIds.delete(old.id);
    this.topics.set(name, topic);
    this.topicIds.set(topic.id, name);
    if (
      !old ||
      old.id !== topic.id ||
      old.partitions.length !== topic.partitions.length ||
      !sameConfigs(old, topic)
    )
      return [{ type: "topic", name, topic }];
    return topic.partitions
      .filter((p, i) => JSON.stringify(p) !== JSON.stringify(old.partitions[i]))
      .map((state) => ({ type: "partition", topic: name, partition: state.partition, state }));
  }

  private applyScram(tail: string, value: string | null): MetadataEvent[] {
    const { user, mechanism } = parseScramKey(tail);
    if (value === null) {
      if (!this.scram.delete(tail)) return [];
      this.scramUserList = null;
      return [{ type: "scram", user, mechanism, credential: null }];
    }
    const credential = readStoredScramCredential(parsed(value));
    const entry = Object.freeze({ user, mechanism, credential });
    const problem = scramEntryProblem(entry);
    if (problem) throw new Error(problem);
    this.scram.set(tail, entry);
    this.scramUserList = null;
    return [{ type: "scram", user, mechanism, credential: copyScramCredential(credential) }];
  }

  private applyAcl(tail: string, value: string | null): MetadataEvent[] {
    const pattern = parseAclKey(tail);
    const next = value === null ? null : readAclValue(pattern, value);
    if (next === null || next.entries.length === 0) {
      if (!this.acls.delete(tail)) return [];
    } else this.acls.set(tail, next);
    this.aclList = null;
    return [{ type: "acl", pattern, bindings: next?.entries ?? Object.freeze([]) }];
  }

  scramCredential(user: string, mechanism: ScramMechanism): ScramCredential | undefined {
    const entry = this.scram.get(scramKey(user, mechanism));
    return entry && copyScramCredential(entry.credential);
  }

  scramUsers(): readonly ScramUserInfo[] {
    this.scramUserList ??= Object.freeze(scramUsers(this.scram.values()));
    return this.scramUserList;
  }

  /** The same array until the bindings change. */
  aclBindings(): readonly AclBinding[] {
    this.aclList ??= flattenAclBindings(this.acls);
    return this.aclList;
  }

  /** How many keys the prefix holds as of `revision`. */
  get keyCount(): number {
    return this.keys.size;
  }

  topic(name: string): TopicState | undefined {
    return this.topics.get(name);
  }

  topicList(): TopicState[] {
    return [...this.topics.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  topicById(id: string): TopicState | undefined {
    const name = this.topicIds.get(id);
    return name === undefined ? undefined : this.topics.get(name);
  }
}

function sameConfigs(a: TopicState, b: TopicState): boolean {
  return (
    JSON.stringify(Object.entries(a.configs).sort()) === JSON.stringify(Object.entries(b.configs).sort())
  );
}

/** `value` as a JSON object; throws when it is not one. */
function parsed(value: string): Record<string, unknown> {
  const json: unknown = JSON.parse(value);
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw new Error("not a JSON object");
  return json as Record<string, unknown>;
}

function nodeIdOf(n: unknown): number {
  if (!Number.isSafeInteger(n) || (n as number) < 0) throw new Error(`node id ${String(n)} is not valid`);
  return n as number;
}

function count(value: string | null): number {
  const n = Number(value ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${value} is not a count`);
  return n;
}

function isPort(n: unknown): boolean {
  return Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 65535;
}

function registrationProblem(r: Omit<BrokerRegistration, "nodeId" | "epoch">): string | null {
  if (typeof r.host !== "string" || r.host === "") return "host is not a name";
  if (!isPort(r.port)) return "port is not a port";
  if (r.httpPort !== null && !isPort(r.httpPort)) return "httpPort is not a port";
  if (r.rack !== null && typeof r.rack !== "string") return "rack is not a string";
  if (typeof r.shuttingDown !== "boolean") return "shuttingDown is not a boolean";
  return endpointsProblem(r.endpoints) ?? incarnationProblem(r.incarnationId);
}
