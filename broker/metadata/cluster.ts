/**
 * The cluster metadata model and the store contract that the controller and every broker's
 * replica manager are written against (issue 13). Metadata flows one way: the controller decides
 * and writes through a `ClusterStore`; every broker watches the store and applies what it says to
 * its local replicas. Records never pass through the store.
 *
 * The store also keeps the cluster's security metadata (issue 15): SCRAM credentials
 * (scram-credentials.ts) and ACL bindings (acl-bindings.ts). Any broker writes those, not only the
 * controller; each store serialises them, and the etcd store compares-and-sets the keys it read.
 *
 * Two implementations: the etcd-backed store for clusters (`etcd-store.ts`) and an in-memory one
 * (`memory-store.ts`) for tests of the controller and, backed by a file, the embedded single
 * broker. Both pass the same contract tests (test/broker/metadata/store-contract.ts).
 *
 * Epochs are fencing tokens, checked by whoever receives a request, never trusted by their holder:
 * - broker epoch: given by the store at each registration of a node, larger than any earlier one
 *   of that node; a request carrying an older one is from a broker that was fenced;
 * - controller epoch: larger for every newly elected controller; a store write under an older one
 *   is refused (NOT_CONTROLLER), so a deposed controller that wakes up from a pause changes nothing;
 * - leader epoch: bumped by the controller on every leader change of a partition; stamped in
 *   every batch the leader appends; clients and followers send it and are fenced with it;
 * - partition epoch: bumped on every change of a partition's state (leader, ISR, replicas); ISR
 *   changes requested by a leader are applied only if the epoch it read is still current
 *   (compare-and-set, Kafka's AlterPartition semantics).
 */

import type {
  AclBinding,
  AclBindingFilter,
  AclCreationResult,
  AclDeletionResult,
  AclResourcePattern,
} from "./acl-bindings.js";
import type {
  ScramAlterationResult,
  ScramCredential,
  ScramDeletion,
  ScramMechanism,
  ScramUpsertion,
  ScramUserInfo,
} from "./scram-credentials.js";

/** No leader (Kafka's -1 in Metadata). */
export const NO_LEADER = -1;

/** One broker as registered while it is alive (bound to its session / etcd lease). */
export interface BrokerRegistration {
  nodeId: number;
  /** The Kafka listener clients and other brokers connect to. */
  host: string;
  port: number;
  rack: string | null;
  /** The HTTP port, for the console and the HTTP API; null when the broker serves none. */
  httpPort: number | null;
  /**
   * Every Kafka listener as clients reach it (`advertised.listeners`), so that Metadata on a
   * listener names each broker's endpoint on that same listener; `host`/`port` above are the
   * inter-broker listener's. Absent: one listener, `host`/`port`.
   */
  endpoints?: readonly BrokerEndpoint[];
  /**
   * Drawn at random by the broker process when it starts (Kafka's BrokerRegistration
   * IncarnationId), the same for every registration of that process: a registration of a node
   * under the incarnation of its previous one is the same process registering again after its
   * registration lapsed, its log intact; another or none (a registration from before this field)
   * is a new process, which may have lost records it did not flush. Absent: unknown.
   */
  incarnationId?: string;
  /** Given by the store at registration; larger than every earlier registration of this node. */
  epoch: number;
  /**
   * Set by the broker when a controlled shutdown begins: the controller moves its leaderships
   * to in-sync followers and takes it out of every ISR before it stops.
   */
  shuttingDown: boolean;
}

/** One named Kafka listener of a broker, as advertised. */
export interface BrokerEndpoint {
  listener: string;
  host: string;
  port: number;
}

/** Listeners a registration may list. */
export const BROKER_ENDPOINTS_MAX = 16;

/** What is wrong with a registration's `endpoints`, or null. */
export function endpointsProblem(endpoints: unknown): string | null {
  if (endpoints === undefined) return null;
  if (!Array.isArray(endpoints) || endpoints.length > BROKER_ENDPOINTS_MAX)
    return `endpoints is not a list of at most ${BROKER_ENDPOINTS_MAX}`;
  for (const e of endpoints as BrokerEndpoint[]) {
    if (e === null || typeof e !== "object") return "an endpoint is not an object";
    if (typeof e.listener !== "string" || !/^[A-Z0-9_-]{1,64}$/.test(e.listener))
      return "an endpoint's listener is not a listener name";
    if (typeof e.host !== "string" || e.host === "" || e.host.length > 255)
      return "an endpoint's host is not a name";
    if (!Number.isInteger(e.port) || e.port < 0 || e.port > 65535) return "an endpoint's port is not a port";
  }
  return null;
}

/** An incarnation id: 1 to 64 letters, digits, `-` or `_` (a UUID's text form fits). */
const INCARNATION_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** What is wrong with a registration's `incarnationId`, or null (absent is unknown, not wrong). */
export function incarnationProblem(incarnationId: unknown): string | null {
  if (incarnationId === undefined) return null;
  if (typeof incarnationId !== "string" || !INCARNATION_ID.test(incarnationId))
    return "incarnationId is not 1 to 64 letters, digits, - or _";
  return null;
}

/** `registration`'s endpoint on `listener`, or its inter-broker one when it lists none by that name. */
export function endpointOn(
  registration: BrokerRegistration,
  listener: string,
): { host: string; port: number } {
  const e = registration.endpoints?.find((x) => x.listener === listener);
  return e ? { host: e.host, port: e.port } : { host: registration.host, port: registration.port };
}

/** What a broker supplies to register; the store adds `epoch` and `shuttingDown`. */
export type BrokerInfo = Omit<BrokerRegistration, "epoch" | "shuttingDown">;

/** One partition's replication state, as decided by the controller. */
export interface PartitionState {
  partition: number;
  /** The assigned replicas, preferred leader first. During a reassignment: the union of old and new. */
  replicas: number[];
  /** In-sync replicas (the leader among them while it leads). */
  isr: number[];
  /** NO_LEADER (-1) while no replica may lead. */
  leader: number;
  leaderEpoch: number;
  /** Bumped by every change of this state; the compare-and-set token of ISR changes. */
  partitionEpoch: number;
  /** Replicas being added by a reassignment (also in `replicas`). */
  addingReplicas: number[];
  /** Replicas being removed by a reassignment (also in `replicas`). */
  removingReplicas: number[];
}

export interface TopicState {
  name: string;
  /** 32 hex digits, as Kafka's topic UUIDs. */
  id: string;
  /** Indexed by partition number. */
  partitions: PartitionState[];
  /** Topic configs set explicitly (Kafka names), in a map without a prototype. */
  configs: Record<string, string>;
}

export interface ControllerInfo {
  nodeId: number;
  /** Larger for every newly elected controller. */
  epoch: number;
}

/** A change the store has applied to its view; listeners run after the view reflects it. */
export type MetadataEvent =
  | { type: "broker"; nodeId: number; registration: BrokerRegistration | null }
  | { type: "topic"; name: string; topic: TopicState | null }
  | { type: "partition"; topic: string; partition: number; state: PartitionState }
  | { type: "controller"; controller: ControllerInfo | null }
  /** `user`'s credential for `mechanism` is now `credential` (null: removed). */
  | { type: "scram"; user: string; mechanism: ScramMechanism; credential: ScramCredential | null }
  /** The bindings of resource pattern `pattern` are now `bindings` (empty: none left). */
  | { type: "acl"; pattern: AclResourcePattern; bindings: readonly AclBinding[] }
  /** The store lost and regained its view (etcd reconnect): everything may have changed. */
  | { type: "resync" };

/** A broker's registration, alive until closed or lost. */
export interface BrokerSession {
  readonly nodeId: number;
  readonly epoch: number;
  /**
   * Whether the broker may still act on the registration, read from the clock when asked (an etcd
   * lease is given up by its holder before etcd expires it): false once lost or closed.
   */
  readonly alive: boolean;
  /**
   * Called once if the registration is lost (the etcd lease expired or was revoked while this
   * broker could not renew it). The broker must then stop acting as leader at once.
   */
  onLost(listener: () => void): void;
  /** Marks the registration shutting down (controlled shutdown). */
  markShuttingDown(): Promise<void>;
  /** Removes the registration (a clean stop). */
  close(): Promise<void>;
}

/** This broker's term as controller. */
export interface ControllerSession {
  readonly nodeId: number;
  readonly epoch: number;
  /** Called once if leadership is lost; writes under this session are refused from then on. */
  onLost(listener: () => void): void;
  /** Gives up leadership. */
  resign(): Promise<void>;
}

/**
 * Errors: writes throw KafkaError (protocol/errors.ts) with
 * - NOT_CONTROLLER: the session is no longer the current controller (fenced by the epoch);
 * - TOPIC_ALREADY_EXISTS / UNKNOWN_TOPIC_OR_PARTITION: as named;
 * - INVALID_REQUEST: a request larger than its bound (SCRAM_ALTERATIONS_MAX, ACL_CREATIONS_MAX,
 *   ACL_FILTERS_MAX), or a malformed argument;
 * - REQUEST_TIMED_OUT (retriable): the store could not be reached in time (etcd down); the write
 *   may or may not have happened, and the caller retries or re-reads.
 * Reads never throw: they answer from the last view received, which may be stale while the store
 * is unreachable.
 */
export interface ClusterStore {
  clusterId(): string;
  controller(): ControllerInfo | null;
  /** Live (registered) brokers, by node id ascending. */
  brokers(): BrokerRegistration[];
  broker(nodeId: number): BrokerRegistration | undefined;
  topics(): TopicState[];
  topic(name: string): TopicState | undefined;
  topicById(id: string): TopicState | undefined;
  /** Subscribes to changes; returns the unsubscribe function. */
  watch(listener: (event: MetadataEvent) => void): () => void;

  /**
   * Registers a live broker. Fails with DUPLICATE_BROKER_REGISTRATION while another live
   * session holds `nodeId`.
   */
  register(broker: BrokerInfo): Promise<BrokerSession>;
  /** Resolves once `nodeId` is elected controller (waits while another node holds it). */
  campaign(nodeId: number): Promise<ControllerSession>;
  /**
   * Ends registration `epoch` of `nodeId` at once, for a peer that found the broker's process
   * gone (its port refused a connection; decision 0033), rather than after its session timeout:
   * the registration goes as an expired lease's would, and the controller seat with it when that
   * node took the seat under this registration. Any broker may call it. Resolves true once the
   * view shows the registration gone, false when that registration was already gone or replaced.
   */
  fenceBroker(nodeId: number, epoch: number): Promise<boolean>;

  /** Controller only. Throws TOPIC_ALREADY_EXISTS if the name is taken. */
  createTopic(ctl: ControllerSession, topic: TopicState): Promise<void>;
  /** Controller only. Throws UNKNOWN_TOPIC_OR_PARTITION if absent. */
  deleteTopic(ctl: ControllerSession, name: string): Promise<void>;
  /** Controller only. Replaces the topic's explicit configs. */
  setTopicConfigs(ctl: ControllerSession, name: string, configs: Record<string, string>): Promise<void>;
  /** Controller only. Appends partitions (their numbers continue the existing ones). */
  addPartitions(ctl: ControllerSession, name: string, added: PartitionState[]): Promise<void>;
  /**
   * Controller only. Compare-and-set of one partition's state: written only if the stored
   * partitionEpoch equals `expectedPartitionEpoch`. Returns false, writing nothing, when the
   * stored epoch differs, and only once this store's view shows the stored state that refused it
   * (so a decision read from the view again is not the same stale one). INVALID_REQUEST when
   * `next.partitionEpoch` is not larger than the stored one or `next.leaderEpoch` is smaller.
   */
  updatePartition(
    ctl: ControllerSession,
    topic: string,
    expectedPartitionEpoch: number,
    next: PartitionState,
  ): Promise<boolean>;

  /** Reserves `count` producer ids unique across the cluster; returns the first. Any broker. */
  allocateProducerIds(count: number): Promise<number>;
  /** Every producer id below this may have been handed out by some broker; none at or above it. */
  producerIdsIssued(): number;
  /**
   * `producerIdsIssued` read from the store itself rather than this store's view, which may lag
   * behind another broker's reservation: a leader checks an id it does not know yet against it.
   */
  readProducerIdsIssued(): Promise<number>;

  // ---- security metadata (issue 15): any broker may write; writes are serialised per store ----

  /**
   * The stored credential of `user` for `mechanism`, a copy (the caller may not change the store
   * through it); undefined when there is none. Read on every SCRAM authentication.
   */
  scramCredential(user: string, mechanism: ScramMechanism): ScramCredential | undefined;
  /** Every user holding a credential, by name, with its mechanisms and their iterations. */
  scramUsers(): readonly ScramUserInfo[];
  /**
   * AlterUserScramCredentials: one result per user named, decided in Kafka's order
   * (scram-credentials.ts: DUPLICATE_RESOURCE, UNACCEPTABLE_CREDENTIAL,
   * UNSUPPORTED_SASL_MECHANISM, RESOURCE_NOT_FOUND, POLICY_VIOLATION past SCRAM_CREDENTIALS_MAX);
   * the entries that pass are applied together. Resolves once the view shows them. Throws
   * INVALID_REQUEST past SCRAM_ALTERATIONS_MAX entries.
   */
  alterScramCredentials(
    upsertions: readonly ScramUpsertion[],
    deletions: readonly ScramDeletion[],
  ): Promise<ScramAlterationResult[]>;

  /**
   * Every ACL binding, ordered by resource (type, pattern type, name) and then entry; frozen. The
   * same array is returned until the bindings change, so a reader may cache what it derives from
   * it by the array's identity (the authorizer's index does).
   */
  aclBindings(): readonly AclBinding[];
  /**
   * CreateAcls: per binding, null or INVALID_REQUEST (acl-bindings.ts) or POLICY_VIOLATION past
   * ACL_BINDINGS_MAX; an existing binding is not added twice. Throws INVALID_REQUEST past
   * ACL_CREATIONS_MAX bindings.
   */
  createAcls(bindings: readonly AclBinding[]): Promise<AclCreationResult[]>;
  /**
   * DeleteAcls: per filter, the bindings it matched (Kafka's AclBindingFilter semantics), all
   * removed; INVALID_REQUEST for a filter with an unknown type. Throws INVALID_REQUEST past
   * ACL_FILTERS_MAX filters.
   */
  deleteAcls(filters: readonly AclBindingFilter[]): Promise<AclDeletionResult[]>;

  close(): Promise<void>;
}
