/**
 * Broker configuration: one typed schema with defaults, overridden in order by a JSON config file,
 * `SAMSA_*` environment variables and command-line flags. Keys use Kafka's broker config names
 * where Kafka has one (`num.partitions`, `auto.create.topics.enable`, `log.retention.ms`, ...).
 * Environment names are the key upper-cased with dots as underscores: `SAMSA_KAFKA_PORT`.
 *
 * Every value is checked when the configuration is loaded, so a broker never starts with one that
 * makes no sense: ints within the key's range (by default [0, 2^31-1]; positive where zero means
 * nothing; ports within 0-65535; timer periods at most 2^31-1 ms, the longest Node's timers take),
 * strings from their list of values where there is one, `log.*` keys as the topic config they set,
 * and the session-timeout pair ordered. A bad value throws INVALID_CONFIG in one line naming the
 * key and the value.
 */
import { readFileSync } from "node:fs";
import { KafkaError } from "../protocol/errors.js";
import { DEFAULT_LOG_CONFIG, type LogConfig, MIN_SEGMENT_BYTES, parseLogConfig } from "../storage/config.js";
import {
  DECOMPRESSION_MEMORY_BYTES_DEFAULT,
  DEFAULT_HEAL_BACKOFF_MAX_MS,
  DEFAULT_HEAL_BACKOFF_MS,
} from "../storage/defaults.js";
import { TOPIC_CONFIGS } from "../storage/topic-configs.js";
import { brokerListeners, interBrokerListener, interBrokerSasl, SASL_MECHANISMS } from "./net/listeners.js";

/**
 * authorizer.class.name values that turn ACL checks on (broker/security/authorizer.ts): the names
 * Kafka's KRaft and ZooKeeper brokers use, and samsa's short one.
 */
export const AUTHORIZER_CLASS_NAMES = [
  "StandardAuthorizer",
  "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
  "kafka.security.authorizer.AclAuthorizer",
] as const;

/** http.authentication values: see broker/http/authentication.ts. */
export const HTTP_AUTHENTICATIONS = ["auto", "none", "basic"] as const;
export type HttpAuthentication = (typeof HTTP_AUTHENTICATIONS)[number];

/** log.format values: see broker/logger.ts. */
export const LOG_FORMATS = ["auto", "json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface BrokerConfig {
  nodeId: number;
  dataDir: string;
  host: string;
  kafkaPort: number;
  httpPort: number;
  /** Host named in Metadata responses; defaults to `host`. */
  advertisedHost: string;
  /** listeners: NAME://host:port,... (empty: one PLAINTEXT listener on host:kafka.port). See net/listeners.ts. */
  listeners: string;
  /** advertised.listeners: NAME://host:port,... as clients should reach each listener (empty: as bound). */
  advertisedListeners: string;
  /** listener.security.protocol.map: NAME:PROTOCOL,... */
  listenerSecurityProtocolMap: string;
  /** inter.broker.listener.name (empty: the first listener). */
  interBrokerListenerName: string;
  /** sasl.enabled.mechanisms on SASL listeners. */
  saslEnabledMechanisms: string;
  /** sasl.mechanism.inter.broker.protocol: how this broker logs in to peers (empty: the first enabled mechanism). */
  saslMechanismInterBrokerProtocol: string;
  /** sasl.jaas.config: this broker's own username and password for a SASL inter-broker listener (security/jaas.ts). */
  saslJaasConfig: string;
  /** ssl.certificate.location: the server certificate chain (PEM) of TLS listeners. */
  sslCertificateLocation: string;
  /** ssl.key.location: its private key (PEM). */
  sslKeyLocation: string;
  /** ssl.ca.location: CA certificates (PEM) client certificates are checked against. */
  sslCaLocation: string;
  /** ssl.client.auth: none, requested or required. */
  sslClientAuth: string;
  /** connection.failed.authentication.delay.ms: the wait before a failed login is answered and closed. */
  failedAuthenticationDelayMs: number;
  /** connections.max.reauth.ms: 0 (off) or the longest a SASL session lives before re-authentication (KIP-368). */
  connectionsMaxReauthMs: number;
  /** authorizer.class.name: empty (no ACL checks) or Kafka's StandardAuthorizer / AclAuthorizer name. */
  authorizerClassName: string;
  /** super.users: principals allowed everything, "User:a;User:b". */
  superUsers: string;
  /** allow.everyone.if.no.acl.found: the answer for a resource no ACL names. */
  allowEveryoneIfNoAclFound: boolean;
  /** http.tls.enable: the HTTP port serves HTTPS and WSS with the ssl.certificate.location / ssl.key.location pair. */
  httpTlsEnable: boolean;
  /** http.authentication: auto (basic when a Kafka listener is SASL_*), none or basic. */
  httpAuthentication: HttpAuthentication;
  clusterId: string | null;
  autoCreateTopics: boolean;
  numPartitions: number;
  defaultReplicationFactor: number;
  /** socket.request.max.bytes: the largest request frame accepted. */
  maxRequestBytes: number;
  /** Requests read from one connection and not yet answered before it stops being read. */
  maxInFlightRequests: number;
  /** Request bytes read from one connection and not yet answered before it stops being read. */
  maxInFlightBytes: number;
  /** connections.max.idle.ms */
  idleTimeoutMs: number;
  /** fetch.max.bytes: the most record bytes one Fetch answers (its max_bytes is capped to this). */
  fetchMaxBytes: number;
  /**
   * queued.max.request.bytes: request bytes held broker-wide (frames being received and requests
   * not yet answered) before connections stop being read; -1 for no bound.
   */
  queuedMaxRequestBytes: number;
  /**
   * queued.max.response.bytes: response bytes held broker-wide (built and not yet taken by the
   * kernel) before connections over their share stop being served; also the largest response.
   */
  queuedMaxResponseBytes: number;
  /** request.frame.timeout.ms: how long a frame, once begun, may take to arrive whole. */
  frameTimeoutMs: number;
  /**
   * decompression.memory.max.bytes: decompressed record bytes the broker holds at once, all
   * requests together (storage/decompress.ts); also the most one batch may decompress to.
   */
  decompressionMemoryMaxBytes: number;
  /** log.retention.check.interval.ms */
  retentionCheckIntervalMs: number;
  /** log.journal.enable: flush.policy=always through the durability journal (storage/journal.ts). */
  journalEnabled: boolean;
  /** log.journal.bytes: journal bytes after which its file is rotated and the logs flushed. */
  journalBytes: number;
  /** log.max.open.files: segment files open at once; -1 derives it from the open-files limit. */
  maxOpenFiles: number;
  /** max.broker.partitions (KIP-578's name): partitions this broker holds at most. */
  maxBrokerPartitions: number;
  /** log.heal.backoff.ms: first probe of a failed journal or log (storage/heal.ts). */
  healBackoffMs: number;
  /** log.heal.backoff.max.ms: probes of a log that stays failed slow down to this interval. */
  healBackoffMaxMs: number;
  logLevel: string;
  /** log.format: auto (readable lines on a terminal, JSON otherwise), json or pretty. */
  logFormat: LogFormat;
  /** offsets.topic.num.partitions: partitions of `__consumer_offsets` when it is created. */
  offsetsTopicPartitions: number;
  /** offsets.topic.segment.bytes */
  offsetsTopicSegmentBytes: number;
  /** offsets.retention.minutes: how long an empty group's committed offsets are kept. */
  offsetsRetentionMinutes: number;
  /** offsets.retention.check.interval.ms */
  offsetsRetentionCheckIntervalMs: number;
  /**
   * offsets.commit.timeout.ms: how long a write to `__consumer_offsets` (a commit, group metadata)
   * waits for every in-sync replica before it is answered COORDINATOR_NOT_AVAILABLE.
   */
  offsetsCommitTimeoutMs: number;
  /** offset.metadata.max.bytes: the largest metadata string of a commit. */
  offsetMetadataMaxBytes: number;
  /** group.min.session.timeout.ms / group.max.session.timeout.ms: the session timeouts allowed. */
  groupMinSessionTimeoutMs: number;
  groupMaxSessionTimeoutMs: number;
  /** group.initial.rebalance.delay.ms: how long the first rebalance of an empty group waits for more members. */
  groupInitialRebalanceDelayMs: number;
  /** group.max.size */
  groupMaxSize: number;
  /** http.request.max.bytes: the largest HTTP request body. */
  httpRequestMaxBytes: number;
  /** http.produce.max.records: most records in one HTTP produce (items of a JSON array near the top). */
  httpProduceMaxRecords: number;
  /** http.json.max.depth: deepest nesting of arrays and objects in a JSON body. */
  httpJsonMaxDepth: number;
  /** metrics.enable: GET /metrics and the counting behind it (broker/metrics/). */
  metricsEnable: boolean;
  /** http.allowed.hosts: Host names served besides loopback, IP literals, host and advertised.host. */
  httpAllowedHosts: string;
  /** http.allowed.origins: Origins admitted besides loopback, host and advertised.host pages. */
  httpAllowedOrigins: string;
  /** http.cors.origins: Origins given CORS headers (none: CORS off). */
  httpCorsOrigins: string;
  /** http.consumer.instance.timeout.ms: a REST consumer instance idle this long is closed (Confluent's consumer.instance.timeout.ms). */
  httpConsumerInstanceTimeoutMs: number;
  /** http.consumer.instances.max: most REST consumer instances one broker holds. */
  httpConsumerInstancesMax: number;
  /** producer.id.expiration.ms: state of a producer without a batch for this long is removed. */
  producerIdExpirationMs: number;
  /** producer.id.expiration.check.interval.ms */
  producerIdExpirationCheckIntervalMs: number;
  /** max.concurrent.producer.ids: producer-state entries of all partitions together. */
  maxConcurrentProducerIds: number;
  /** producer.ids.rate: new producer ids per second per client (KIP-936's producer_ids_rate). */
  producerIdsRate: number;
  /** producer.id.quota.window.num: windows the producer-id rate is measured over. */
  producerIdQuotaWindowNum: number;
  /** producer.id.quota.window.size.seconds */
  producerIdQuotaWindowSizeSeconds: number;
  /**
   * cluster: the etcd endpoints of the cluster this broker joins (`etcd://host:port[,host:port]`);
   * empty for a single broker with the embedded metadata store.
   */
  cluster: string;
  /** broker.rack: this broker's rack, for rack-aware replica assignment (empty: none). */
  rack: string;
  /** broker.session.timeout.ms: a broker that cannot renew its registration this long is fenced. */
  brokerSessionTimeoutMs: number;
  /** broker.heartbeat.interval.ms: how often a broker renews its registration. */
  brokerHeartbeatIntervalMs: number;
  /**
   * broker.peer.fencing.enable: end a peer's registration at once when its Kafka port refuses a
   * connection (its process is gone), rather than after its session timeout (decision 0033).
   */
  brokerPeerFencingEnable: boolean;
  /** etcd.request.timeout.ms: how long a metadata write may wait for etcd before failing (retriable). */
  etcdRequestTimeoutMs: number;
  /** replica.lag.time.max.ms: a follower not caught up for this long leaves the ISR. */
  replicaLagTimeMaxMs: number;
  /** replica.fetch.wait.max.ms: how long a leader holds a follower's fetch that finds no data. */
  replicaFetchWaitMaxMs: number;
  /** replica.fetch.min.bytes */
  replicaFetchMinBytes: number;
  /** replica.fetch.max.bytes: bytes per partition a follower asks for. */
  replicaFetchMaxBytes: number;
  /** replica.fetch.response.max.bytes: bytes per fetch a follower asks for. */
  replicaFetchResponseMaxBytes: number;
  /** replica.fetch.backoff.ms: a follower's pause after a failed fetch. */
  replicaFetchBackoffMs: number;
  /** replica.socket.timeout.ms: a follower's request timeout (above replica.fetch.wait.max.ms). */
  replicaSocketTimeoutMs: number;
  /** offsets.topic.replication.factor: replicas of `__consumer_offsets` (at most the brokers registered when it is created). */
  offsetsTopicReplicationFactor: number;
  /** controlled.shutdown.enable: hand leaderships to in-sync followers before stopping. */
  controlledShutdownEnable: boolean;
  /** controlled.shutdown.max.retries */
  controlledShutdownMaxRetries: number;
  /** controlled.shutdown.retry.backoff.ms */
  controlledShutdownRetryBackoffMs: number;
  /** auto.leader.rebalance.enable: the controller moves leaderships back to preferred replicas. */
  autoLeaderRebalanceEnable: boolean;
  /** leader.imbalance.check.interval.seconds */
  leaderImbalanceCheckIntervalSeconds: number;
  /** leader.imbalance.per.broker.percentage: a broker's non-preferred leaderships that trigger it. */
  leaderImbalancePerBrokerPercentage: number;
  /** Topic config defaults (Kafka's topic names), from the broker's `log.*` keys. */
  topicDefaults: Record<string, string>;
}

type Kind = "int" | "bool" | "string";

/** Kafka's INT: the largest 32-bit signed value. */
export const INT32_MAX = 2 ** 31 - 1;
/** The longest period Node's timers take (a longer one fires after 1 ms). */
export const MAX_TIMER_MS = INT32_MAX;
const MAX_PORT = 65_535;
/** Kafka's replication factors are INT16 on the wire. */
const INT16_MAX = 2 ** 15 - 1;
/** pino's levels, and `silent`. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

interface Key {
  field: keyof BrokerConfig | null;
  kind: Kind;
  /**
   * For `log.*` keys: the topic config they set the default of. Their values are checked as that
   * topic config (storage/topic-configs.ts), so `kind` only says how DescribeConfigs types them.
   */
  topicKey?: string;
  /** For int keys: the smallest value accepted (default 0). */
  min?: number;
  /** For int keys: the largest value accepted (default 2^31-1). */
  max?: number;
  /** For string keys: the only values accepted, if listed. */
  values?: readonly string[];
  /** For string keys: whether an empty value is refused. */
  required?: boolean;
  /** A secret (a password): DescribeConfigs shows no value, as Kafka's sensitive configs. */
  sensitive?: boolean;
  doc: string;
}

/** Every config key, its field, type, range and meaning. */
export const BROKER_CONFIG_KEYS: Record<string, Key> = {
  "node.id": { field: "nodeId", kind: "int", doc: "this broker's id" },
  "data.dir": {
    field: "dataDir",
    kind: "string",
    required: true,
    doc: "where partition logs and metadata live",
  },
  host: { field: "host", kind: "string", required: true, doc: "address the listeners bind to" },
  "kafka.port": {
    field: "kafkaPort",
    kind: "int",
    max: MAX_PORT,
    doc: "Kafka protocol TCP port (0: any free port)",
  },
  "http.port": {
    field: "httpPort",
    kind: "int",
    max: MAX_PORT,
    doc: "HTTP and WebSocket port (0: any free port)",
  },
  "advertised.host": { field: "advertisedHost", kind: "string", doc: "host given to clients in Metadata" },
  listeners: {
    field: "listeners",
    kind: "string",
    doc: "NAME://host:port,... the Kafka listeners (empty: PLAINTEXT on host:kafka.port)",
  },
  "advertised.listeners": {
    field: "advertisedListeners",
    kind: "string",
    doc: "NAME://host:port,... how clients reach each listener (empty: as bound)",
  },
  "listener.security.protocol.map": {
    field: "listenerSecurityProtocolMap",
    kind: "string",
    doc: "NAME:PROTOCOL,... (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL) for each listener name",
  },
  "inter.broker.listener.name": {
    field: "interBrokerListenerName",
    kind: "string",
    doc: "the listener other brokers use (empty: the first listener)",
  },
  "sasl.enabled.mechanisms": {
    field: "saslEnabledMechanisms",
    kind: "string",
    doc: "SASL mechanisms of SASL listeners: any of SCRAM-SHA-256, SCRAM-SHA-512, PLAIN",
  },
  "sasl.mechanism.inter.broker.protocol": {
    field: "saslMechanismInterBrokerProtocol",
    kind: "string",
    values: ["", ...SASL_MECHANISMS],
    doc: "the mechanism brokers log in to a SASL inter-broker listener with, one of sasl.enabled.mechanisms (empty: the first of them)",
  },
  "sasl.jaas.config": {
    field: "saslJaasConfig",
    kind: "string",
    sensitive: true,
    doc: 'this broker\'s login on a SASL inter-broker listener: org.apache.kafka.common.security.scram.ScramLoginModule (or plain.PlainLoginModule) required username="..." password="...";',
  },
  "ssl.certificate.location": {
    field: "sslCertificateLocation",
    kind: "string",
    doc: "PEM certificate chain of TLS listeners",
  },
  "ssl.key.location": { field: "sslKeyLocation", kind: "string", doc: "PEM private key of TLS listeners" },
  "ssl.ca.location": {
    field: "sslCaLocation",
    kind: "string",
    doc: "PEM CA certificates that client certificates are checked against",
  },
  "ssl.client.auth": {
    field: "sslClientAuth",
    kind: "string",
    values: ["none", "requested", "required"],
    doc: "whether TLS listeners ask clients for a certificate",
  },
  "connection.failed.authentication.delay.ms": {
    field: "failedAuthenticationDelayMs",
    kind: "int",
    max: 60_000,
    doc: "wait before a failed authentication is answered and its connection closed",
  },
  "connections.max.reauth.ms": {
    field: "connectionsMaxReauthMs",
    kind: "int",
    doc: "0 (off) or the longest a SASL session lives before the client must re-authenticate",
  },
  "authorizer.class.name": {
    field: "authorizerClassName",
    kind: "string",
    values: ["", ...AUTHORIZER_CLASS_NAMES],
    doc: "empty (no ACL checks) or an authorizer Kafka names: every request is then checked against the ACLs",
  },
  "super.users": {
    field: "superUsers",
    kind: "string",
    doc: "principals allowed everything when ACLs are checked, User:a;User:b",
  },
  "allow.everyone.if.no.acl.found": {
    field: "allowEveryoneIfNoAclFound",
    kind: "bool",
    doc: "allow a request on a resource no ACL names (false: deny it)",
  },
  "http.tls.enable": {
    field: "httpTlsEnable",
    kind: "bool",
    doc: "serve HTTPS and WSS on the HTTP port with ssl.certificate.location and ssl.key.location",
  },
  "http.authentication": {
    field: "httpAuthentication",
    kind: "string",
    values: HTTP_AUTHENTICATIONS,
    doc: "who may use the HTTP port: basic (HTTP Basic against the SCRAM credentials), none, or auto (basic when a Kafka listener is SASL_PLAINTEXT or SASL_SSL)",
  },
  "cluster.id": { field: "clusterId", kind: "string", doc: "cluster id (generated and stored if unset)" },
  "auto.create.topics.enable": { field: "autoCreateTopics", kind: "bool", doc: "create topics on first use" },
  "num.partitions": {
    field: "numPartitions",
    kind: "int",
    min: 1,
    doc: "partitions of auto-created topics",
  },
  "default.replication.factor": {
    field: "defaultReplicationFactor",
    kind: "int",
    min: 1,
    max: INT16_MAX,
    doc: "replicas of new topics",
  },
  "socket.request.max.bytes": {
    field: "maxRequestBytes",
    kind: "int",
    min: 1024,
    doc: "largest request frame",
  },
  "connection.max.inflight.requests": {
    field: "maxInFlightRequests",
    kind: "int",
    min: 1,
    doc: "unanswered requests per connection before reading pauses",
  },
  "connection.max.inflight.bytes": {
    field: "maxInFlightBytes",
    kind: "int",
    min: 1,
    doc: "unanswered request bytes per connection before reading pauses",
  },
  "connections.max.idle.ms": {
    field: "idleTimeoutMs",
    kind: "int",
    max: MAX_TIMER_MS,
    doc: "close idle connections after (0: never)",
  },
  "fetch.max.bytes": {
    field: "fetchMaxBytes",
    kind: "int",
    min: 1024,
    doc: "most record bytes one Fetch answers, whatever its max_bytes asks",
  },
  "queued.max.request.bytes": {
    field: "queuedMaxRequestBytes",
    kind: "int",
    min: -1,
    doc: "request bytes held broker-wide before connections stop being read (-1: no bound)",
  },
  "queued.max.response.bytes": {
    field: "queuedMaxResponseBytes",
    kind: "int",
    min: 1024,
    doc: "response bytes held broker-wide before connections over their share stop being served",
  },
  "request.frame.timeout.ms": {
    field: "frameTimeoutMs",
    kind: "int",
    min: 1,
    max: MAX_TIMER_MS,
    doc: "close a connection whose begun frame has not arrived whole after this long",
  },
  "decompression.memory.max.bytes": {
    field: "decompressionMemoryMaxBytes",
    kind: "int",
    min: 1024 * 1024,
    doc: "decompressed record bytes held at once by the whole broker (also one batch's most)",
  },
  "log.retention.check.interval.ms": {
    field: "retentionCheckIntervalMs",
    kind: "int",
    min: 1,
    max: MAX_TIMER_MS,
    doc: "how often retention runs",
  },
  "offsets.topic.num.partitions": {
    field: "offsetsTopicPartitions",
    kind: "int",
    min: 1,
    doc: "partitions of __consumer_offsets (fixed once it exists)",
  },
  "offsets.topic.segment.bytes": {
    field: "offsetsTopicSegmentBytes",
    kind: "int",
    min: MIN_SEGMENT_BYTES,
    doc: "segment.bytes of __consumer_offsets",
  },
  "offsets.retention.minutes": {
    field: "offsetsRetentionMinutes",
    kind: "int",
    min: 1,
    doc: "keep an empty group's offsets this long",
  },
  "offsets.retention.check.interval.ms": {
    field: "offsetsRetentionCheckIntervalMs",
    kind: "int",
    min: 1,
    max: MAX_TIMER_MS,
    doc: "how often expired offsets are removed",
  },
  "offsets.commit.timeout.ms": {
    field: "offsetsCommitTimeoutMs",
    kind: "int",
    min: 1,
    max: MAX_TIMER_MS,
    doc: "how long a write to __consumer_offsets waits for the in-sync replicas",
  },
  "offset.metadata.max.bytes": {
    field: "offsetMetadataMaxBytes",
    kind: "int",
    doc: "largest metadata string of an offset commit",
  },
  "group.min.session.timeout.ms": {
    field: "groupMinSessionTimeoutMs",
    kind: "int",
    min: 1,
    max: MAX_TIMER_MS,
    doc: "smallest session timeout a member may ask for",
  },
  "group.max.session.timeout.ms": {
    field: "groupMaxSessionTimeoutMs",
    kind: "int",
    min: 1,
    max: MAX_TIMER_MS,
    doc: "largest session timeout a member may ask for (at least group.min.session.timeout.ms)",
  },
  "group.initial.rebalance.delay.ms": {
    field: "groupInitialRebalanceDelayMs",
    kind: "int",
    max: MAX_TIMER_MS,
    doc: "wait for more members before an empty group's first rebalance",
  },
  "group.max.size": { field: "groupMaxSize", kind: "int", min: 1, doc: "most members in one group" },
  "http.request.max.bytes": {
    field: "httpRequestMaxBytes",
    kind: "int",
    min: 1024,
    doc: "largest HTTP request body (413 beyond it, refused before it is read)",
  },
  "http.produce.max.records": {
    field: "httpProduceMaxRecords",
    kind: "int",
    min: 1,
    doc: "most records in one HTTP produce (413 beyond it, refused before the body is parsed)",
  },
  "http.json.max.depth": {
    field: "httpJsonMaxDepth",
    kind: "int",
    min: 8,
    doc: "deepest nesting of a JSON body (400 beyond it, refused before the body is parsed)",
  },
  "metrics.enable": {
    field: "metricsEnable",
    kind: "bool",
    doc: "serve GET /metrics (Prometheus) and count for it; false: no per-request cost, /metrics is 404",
  },
  "http.allowed.hosts": {
    field: "httpAllowedHosts",
    kind: "string",
    doc: "comma-separated Host names served besides localhost, IP literals, host and advertised.host (* any)",
  },
  "http.allowed.origins": {
    field: "httpAllowedOrigins",
    kind: "string",
    doc: "comma-separated Origins admitted besides pages on localhost, host and advertised.host (* any)",
  },
  "http.cors.origins": {
    field: "httpCorsOrigins",
    kind: "string",
    doc: "comma-separated Origins answered with CORS headers (* any; empty: CORS off)",
  },
  "http.consumer.instance.timeout.ms": {
    field: "httpConsumerInstanceTimeoutMs",
    kind: "int",
    min: 1,
    max: MAX_TIMER_MS,
    doc: "a REST Proxy consumer instance without requests this long is closed",
  },
  "http.consumer.instances.max": {
    field: "httpConsumerInstancesMax",
    kind: "int",
    min: 1,
    doc: "most REST Proxy consumer instances on this broker (429 beyond it)",
  },
  "log.level": {
    field: "logLevel",
    kind: "string",
    values: LOG_LEVELS,
    doc: `pino level: ${LOG_LEVELS.join(", ")}`,
  },
  "producer.id.expiration.ms": {
    field: "producerIdExpirationMs",
    kind: "int",
    min: 1,
    doc: "remove an idempotent producer's state when its last batch is this old",
  },
  "producer.id.expiration.check.interval.ms": {
    field: "producerIdExpirationCheckIntervalMs",
    kind: "int",
    min: 1,
    doc: "how often expired producer state is removed",
  },
  "max.concurrent.producer.ids": {
    field: "maxConcurrentProducerIds",
    kind: "int",
    min: 1,
    doc: "producer-state entries of all partitions together; a new producer beyond it is throttled",
  },
  "producer.ids.rate": {
    field: "producerIdsRate",
    kind: "int",
    min: 1,
    doc: "new producer ids per second per client (principal, client id, host), KIP-936",
  },
  "producer.id.quota.window.num": {
    field: "producerIdQuotaWindowNum",
    kind: "int",
    min: 1,
    doc: "windows the producer-id rate is measured over",
  },
  "producer.id.quota.window.size.seconds": {
    field: "producerIdQuotaWindowSizeSeconds",
    kind: "int",
    min: 1,
    doc: "length of one producer-id quota window",
  },
  "log.format": {
    field: "logFormat",
    kind: "string",
    values: LOG_FORMATS,
    doc: "auto (readable lines on a terminal, JSON lines otherwise), json or pretty",
  },
  "log.retention.ms": { field: null, kind: "int", topicKey: "retention.ms", doc: "default retention.ms" },
  "log.retention.bytes": {
    field: null,
    kind: "int",
    topicKey: "retention.bytes",
    doc: "default retention.bytes",
  },
  "log.segment.bytes": { field: null, kind: "int", topicKey: "segment.bytes", doc: "default segment.bytes" },
  "log.segment.ms": { field: null, kind: "int", topicKey: "segment.ms", doc: "default segment.ms" },
  "log.flush.policy": {
    field: null,
    kind: "string",
    topicKey: "flush.policy",
    doc: "always, interval or os",
  },
  "log.flush.ms": { field: null, kind: "int", topicKey: "flush.ms", doc: "default flush.ms" },
  "log.journal.enable": {
    field: "journalEnabled",
    kind: "bool",
    doc: "flush.policy=always through one journal: one fdatasync per round for all partitions",
  },
  "log.journal.bytes": {
    field: "journalBytes",
    kind: "int",
    min: 64 * 1024,
    doc: "journal file size at which it is rotated and the logs that wrote to it are flushed",
  },
  "log.max.open.files": {
    field: "maxOpenFiles",
    kind: "int",
    min: -1,
    doc: "segment files open at once (idle ones closed, reopened on use); -1: half the open-files limit",
  },
  "max.broker.partitions": {
    field: "maxBrokerPartitions",
    kind: "int",
    min: 1,
    doc: "most partitions this broker holds; creation beyond it is refused (POLICY_VIOLATION)",
  },
  "log.heal.backoff.ms": {
    field: "healBackoffMs",
    kind: "int",
    min: 1,
    max: MAX_TIMER_MS,
    doc: "after a storage fault (ENOSPC, EIO, EMFILE), wait this long before the first probe of the journal or log",
  },
  "log.heal.backoff.max.ms": {
    field: "healBackoffMaxMs",
    kind: "int",
    min: 1,
    max: MAX_TIMER_MS,
    doc: "probes of a journal or log that stays failed double their interval up to this (at least log.heal.backoff.ms)",
  },
  cluster: {
    field: "cluster",
    kind: "string",
    doc: "etcd endpoints of the cluster to join, etcd://host:port[,host:port] (empty: a single broker, embedded store)",
  },
  "broker.rack": { field: "rack", kind: "string", doc: "this broker's rack, for rack-aware assignment" },
  "broker.session.timeout.ms": {
    field: "brokerSessionTimeoutMs",
    kind: "int",
    min: 100,
    doc: "a broker that cannot renew its registration this long is fenced",
  },
  "broker.heartbeat.interval.ms": {
    field: "brokerHeartbeatIntervalMs",
    kind: "int",
    min: 10,
    max: MAX_TIMER_MS - 1,
    doc: "how often a broker renews its registration (below broker.session.timeout.ms)",
  },
  "broker.peer.fencing.enable": {
    field: "brokerPeerFencingEnable",
    kind: "bool",
    doc: "end a peer broker's registration at once when its Kafka port refuses connections (its process is gone), not after broker.session.timeout.ms",
  },
  "etcd.request.timeout.ms": {
    field: "etcdRequestTimeoutMs",
    kind: "int",
    min: 10,
    doc: "how long a metadata write waits for etcd before failing (retriable)",
  },
  "replica.lag.time.max.ms": {
    field: "replicaLagTimeMaxMs",
    kind: "int",
    min: 10,
    doc: "a follower not caught up for this long leaves the ISR",
  },
  "replica.fetch.wait.max.ms": {
    field: "replicaFetchWaitMaxMs",
    kind: "int",
    max: MAX_TIMER_MS - 1,
    doc: "how long a leader holds a follower's fetch that finds no data",
  },
  "replica.fetch.min.bytes": {
    field: "replicaFetchMinBytes",
    kind: "int",
    min: 1,
    doc: "bytes a replica fetch waits for",
  },
  "replica.fetch.max.bytes": {
    field: "replicaFetchMaxBytes",
    kind: "int",
    min: 1024,
    doc: "bytes per partition a follower asks for (at least one batch is sent)",
  },
  "replica.fetch.response.max.bytes": {
    field: "replicaFetchResponseMaxBytes",
    kind: "int",
    min: 1024,
    doc: "bytes per replica fetch",
  },
  "replica.fetch.backoff.ms": {
    field: "replicaFetchBackoffMs",
    kind: "int",
    doc: "a follower's pause after a failed fetch",
  },
  "replica.socket.timeout.ms": {
    field: "replicaSocketTimeoutMs",
    kind: "int",
    min: 1,
    doc: "a follower's request timeout (above replica.fetch.wait.max.ms)",
  },
  "offsets.topic.replication.factor": {
    field: "offsetsTopicReplicationFactor",
    kind: "int",
    min: 1,
    max: INT16_MAX,
    doc: "replicas of __consumer_offsets when it is created (at most the brokers registered then)",
  },
  "controlled.shutdown.enable": {
    field: "controlledShutdownEnable",
    kind: "bool",
    doc: "hand leaderships to in-sync followers before stopping",
  },
  "controlled.shutdown.max.retries": {
    field: "controlledShutdownMaxRetries",
    kind: "int",
    doc: "attempts at a controlled shutdown before stopping anyway",
  },
  "controlled.shutdown.retry.backoff.ms": {
    field: "controlledShutdownRetryBackoffMs",
    kind: "int",
    doc: "pause between controlled shutdown attempts",
  },
  "unclean.leader.election.enable": {
    field: null,
    kind: "bool",
    topicKey: "unclean.leader.election.enable",
    doc: "default unclean.leader.election.enable: elect an out-of-sync replica when no in-sync one is left (may lose records; default false)",
  },
  "auto.leader.rebalance.enable": {
    field: "autoLeaderRebalanceEnable",
    kind: "bool",
    doc: "move leaderships back to preferred replicas",
  },
  "leader.imbalance.check.interval.seconds": {
    field: "leaderImbalanceCheckIntervalSeconds",
    kind: "int",
    min: 1,
    max: Math.floor(MAX_TIMER_MS / 1000),
    doc: "how often the controller checks leadership balance",
  },
  "leader.imbalance.per.broker.percentage": {
    field: "leaderImbalancePerBrokerPercentage",
    kind: "int",
    max: 100,
    doc: "a broker's share of non-preferred leaderships that triggers a preferred election",
  },
  "message.max.bytes": {
    field: null,
    kind: "int",
    topicKey: "max.message.bytes",
    doc: "default max.message.bytes",
  },
  "min.insync.replicas": { field: null, kind: "int", topicKey: "min.insync.replicas", doc: "default" },
  "compression.type": {
    field: null,
    kind: "string",
    topicKey: "compression.type",
    doc: "default compression.type: producer, uncompressed, gzip, snappy, lz4 or zstd",
  },
  "log.message.timestamp.type": {
    field: null,
    kind: "string",
    topicKey: "message.timestamp.type",
    doc: "default message.timestamp.type: CreateTime or LogAppendTime",
  },
  "log.message.timestamp.before.max.ms": {
    field: null,
    // Checked as the topic config (Kafka's LONG): "9223372036854775807", Kafka's printed
    // Long.MAX_VALUE, is not a JavaScript safe integer.
    kind: "string",
    topicKey: "message.timestamp.before.max.ms",
    doc: "default message.timestamp.before.max.ms",
  },
  "log.message.timestamp.after.max.ms": {
    field: null,
    // Checked as the topic config (Kafka's LONG): "9223372036854775807", Kafka's printed
    // Long.MAX_VALUE, is not a JavaScript safe integer.
    kind: "string",
    topicKey: "message.timestamp.after.max.ms",
    doc: "default message.timestamp.after.max.ms",
  },
};

export function defaultBrokerConfig(): BrokerConfig {
  return {
    nodeId: 1,
    dataDir: "./data",
    host: "127.0.0.1",
    kafkaPort: 9092,
    httpPort: 8082,
    advertisedHost: "",
    listeners: "",
    advertisedListeners: "",
    listenerSecurityProtocolMap:
      "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
    interBrokerListenerName: "",
    saslEnabledMechanisms: "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
    saslMechanismInterBrokerProtocol: "",
    saslJaasConfig: "",
    sslCertificateLocation: "",
    sslKeyLocation: "",
    sslCaLocation: "",
    sslClientAuth: "none",
    failedAuthenticationDelayMs: 100,
    connectionsMaxReauthMs: 0,
    authorizerClassName: "",
    superUsers: "",
    allowEveryoneIfNoAclFound: false,
    httpTlsEnable: false,
    httpAuthentication: "auto",
    clusterId: null,
    autoCreateTopics: true,
    numPartitions: 1,
    defaultReplicationFactor: 1,
    maxRequestBytes: 100 * 1024 * 1024,
    maxInFlightRequests: 500,
    maxInFlightBytes: 256 * 1024 * 1024,
    idleTimeoutMs: 10 * 60_000,
    fetchMaxBytes: 57_671_680,
    queuedMaxRequestBytes: 256 * 1024 * 1024,
    queuedMaxResponseBytes: 256 * 1024 * 1024,
    frameTimeoutMs: 30_000,
    decompressionMemoryMaxBytes: DECOMPRESSION_MEMORY_BYTES_DEFAULT,
    retentionCheckIntervalMs: 5 * 60_000,
    journalEnabled: true,
    journalBytes: 256 * 1024 * 1024,
    maxOpenFiles: -1,
    maxBrokerPartitions: 20_000,
    healBackoffMs: DEFAULT_HEAL_BACKOFF_MS,
    healBackoffMaxMs: DEFAULT_HEAL_BACKOFF_MAX_MS,
    logLevel: "info",
    logFormat: "auto",
    offsetsTopicPartitions: 50,
    offsetsTopicSegmentBytes: 100 * 1024 * 1024,
    offsetsRetentionMinutes: 7 * 24 * 60,
    offsetsRetentionCheckIntervalMs: 10 * 60_000,
    offsetsCommitTimeoutMs: 5000,
    offsetMetadataMaxBytes: 4096,
    groupMinSessionTimeoutMs: 6000,
    groupMaxSessionTimeoutMs: 30 * 60_000,
    groupInitialRebalanceDelayMs: 3000,
    groupMaxSize: 2_147_483_647,
    httpRequestMaxBytes: 32 * 1024 * 1024,
    httpProduceMaxRecords: 500_000,
    httpJsonMaxDepth: 64,
    metricsEnable: true,
    httpAllowedHosts: "",
    httpAllowedOrigins: "",
    httpCorsOrigins: "",
    httpConsumerInstanceTimeoutMs: 300_000,
    httpConsumerInstancesMax: 1000,
    topicDefaults: Object.create(null),
    producerIdExpirationMs: 86_400_000,
    producerIdExpirationCheckIntervalMs: 600_000,
    maxConcurrentProducerIds: 100_000,
    producerIdsRate: 100,
    producerIdQuotaWindowNum: 11,
    producerIdQuotaWindowSizeSeconds: 1,
    cluster: "",
    rack: "",
    brokerSessionTimeoutMs: 9000,
    brokerHeartbeatIntervalMs: 2000,
    brokerPeerFencingEnable: true,
    etcdRequestTimeoutMs: 5000,
    replicaLagTimeMaxMs: 30_000,
    replicaFetchWaitMaxMs: 500,
    replicaFetchMinBytes: 1,
    replicaFetchMaxBytes: 1_048_576,
    replicaFetchResponseMaxBytes: 10_485_760,
    replicaFetchBackoffMs: 1000,
    replicaSocketTimeoutMs: 30_000,
    offsetsTopicReplicationFactor: 3,
    controlledShutdownEnable: true,
    controlledShutdownMaxRetries: 3,
    controlledShutdownRetryBackoffMs: 5000,
    autoLeaderRebalanceEnable: true,
    leaderImbalanceCheckIntervalSeconds: 300,
    leaderImbalancePerBrokerPercentage: 10,
  };
}

function invalid(key: string, text: string, expected: string): KafkaError {
  // JSON.stringify keeps a value with a line break (from a file or the environment) on one line.
  const shown = /^[\x20-\x7e]*$/.test(text) ? text : JSON.stringify(text);
  return new KafkaError("INVALID_CONFIG", `${key}=${shown}: ${expected}`);
}

function parseInteger(key: string, spec: Key, text: string): number {
  const n = Number(text);
  if (!/^[+-]?\d+$/.test(text) || !Number.isSafeInteger(n)) throw invalid(key, text, "not an integer");
  const min = spec.min ?? 0;
  const max = spec.max ?? INT32_MAX;
  if (n < min) throw invalid(key, text, `expected at least ${min}`);
  if (n > max) throw invalid(key, text, `expected at most ${max}`);
  return n;
}

function parseValue(key: string, spec: Key, raw: unknown): number | boolean | string {
  const text = String(raw).trim();
  if (spec.kind === "int") return parseInteger(key, spec, text);
  if (spec.kind === "bool") {
    if (text === "true" || text === "1") return true;
    if (text === "false" || text === "0") return false;
    throw invalid(key, text, "expected true or false");
  }
  if (spec.required && text === "") throw invalid(key, text, "must not be empty");
  if (spec.values && !spec.values.includes(text))
    throw invalid(key, text, `expected ${spec.values.join(", ")}`);
  return text;
}

/** A `log.*` value, checked as the topic config it sets (the error names the broker key). */
function parseTopicDefault(key: string, topicKey: string, raw: unknown): string {
  const text = String(raw).trim();
  try {
    TOPIC_CONFIGS[topicKey].parse(text, key);
  } catch (err) {
    const reason = KafkaError.is(err) ? err.message.slice(`${err.code}: `.length) : (err as Error).message;
    // The topic table's messages read "Invalid value V for configuration K: why"; keep the why.
    throw invalid(key, text, reason.replace(/^Invalid value .* for configuration [^:]*: /s, ""));
  }
  return text;
}

/** Kafka's per-listener JAAS key, listener.name.<listener>.<mechanism>.sasl.jaas.config: not served. */
const PER_LISTENER_JAAS = /^listener\.name\.[^.]+\.[^.]+\.sasl\.jaas\.config$/i;

function apply(config: BrokerConfig, key: string, raw: unknown): void {
  const spec = Object.hasOwn(BROKER_CONFIG_KEYS, key) ? BROKER_CONFIG_KEYS[key] : undefined;
  if (!spec && PER_LISTENER_JAAS.test(key))
    throw new KafkaError(
      "INVALID_CONFIG",
      `${key} is not supported: give the broker's login in sasl.jaas.config`,
    );
  if (!spec) throw new KafkaError("INVALID_CONFIG", `unknown broker config ${key}`);
  if (spec.topicKey) {
    config.topicDefaults[spec.topicKey] = parseTopicDefault(key, spec.topicKey, raw);
    return;
  }
  (config as unknown as Record<string, unknown>)[spec.field as string] = parseValue(key, spec, raw);
}

/** Checks between keys, once every source is applied. */
function checkTogether(config: BrokerConfig): void {
  if (config.groupMinSessionTimeoutMs > config.groupMaxSessionTimeoutMs) {
    throw new KafkaError(
      "INVALID_CONFIG",
      `group.min.session.timeout.ms=${config.groupMinSessionTimeoutMs} is above group.max.session.timeout.ms=${config.groupMaxSessionTimeoutMs}`,
    );
  }
  if (config.brokerHeartbeatIntervalMs >= config.brokerSessionTimeoutMs) {
    throw new KafkaError(
      "INVALID_CONFIG",
      `broker.heartbeat.interval.ms=${config.brokerHeartbeatIntervalMs} must be below broker.session.timeout.ms=${config.brokerSessionTimeoutMs}`,
    );
  }
  if (config.replicaSocketTimeoutMs <= config.replicaFetchWaitMaxMs) {
    throw new KafkaError(
      "INVALID_CONFIG",
      `replica.socket.timeout.ms=${config.replicaSocketTimeoutMs} must be above replica.fetch.wait.max.ms=${config.replicaFetchWaitMaxMs}`,
    );
  }
  if (config.cluster !== "" && !/^etcd:\/\/[^,\s/]+(,[^,\s/]+)*\/?$/.test(config.cluster)) {
    throw new KafkaError(
      "INVALID_CONFIG",
      `cluster=${config.cluster}: expected etcd://host:port[,host:port]`,
    );
  }
  if (config.httpTlsEnable && (config.sslCertificateLocation === "" || config.sslKeyLocation === "")) {
    throw new KafkaError(
      "INVALID_CONFIG",
      "http.tls.enable=true: needs ssl.certificate.location and ssl.key.location",
    );
  }
  if (config.healBackoffMaxMs < config.healBackoffMs) {
    throw new KafkaError(
      "INVALID_CONFIG",
      `log.heal.backoff.max.ms=${config.healBackoffMaxMs} is below log.heal.backoff.ms=${config.healBackoffMs}`,
    );
  }
}

export function envName(key: string): string {
  return `SAMSA_${key.toUpperCase().replace(/\./g, "_")}`;
}

export interface ConfigSources {
  /** Path of a JSON file: an object of config keys to values. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, by config key. */
  flags?: Record<string, unknown>;
}

/** Builds the effective configuration: defaults < file < SAMSA_* environment < flags. */
export function loadBrokerConfig(sources: ConfigSources = {}): BrokerConfig {
  const config = defaultBrokerConfig();
  if (sources.file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(sources.file, "utf8"));
    } catch (err) {
      throw new KafkaError("INVALID_CONFIG", `config file ${sources.file}: ${(err as Error).message}`);
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new KafkaError("INVALID_CONFIG", `config file ${sources.file}: expected a JSON object`);
    }
    for (const [key, value] of Object.entries(parsed)) apply(config, key, value);
  }
  const env = sources.env ?? {};
  for (const key of Object.keys(BROKER_CONFIG_KEYS)) {
    const value = env[envName(key)];
    if (value !== undefined && value !== "") apply(config, key, value);
  }
  for (const [key, value] of Object.entries(sources.flags ?? {}))
    if (value !== undefined) apply(config, key, value);
  checkTogether(config);
  // The listener keys, parsed once here so that a bad one fails at load (INVALID_CONFIG).
  interBrokerSasl(config, interBrokerListener(config, brokerListeners(config)));
  checkQueuedRequestBytes(config);
  checkQueuedResponseBytes(config);
  if (!config.advertisedHost) config.advertisedHost = config.host === "0.0.0.0" ? "127.0.0.1" : config.host;
  // Topic defaults must themselves be valid topic configs.
  topicDefaultsConfig(config);
  return config;
}

/** As Kafka: a bound on queued request bytes must leave room for the largest frame. */
function checkQueuedRequestBytes(config: BrokerConfig): void {
  const queued = config.queuedMaxRequestBytes;
  if (queued === 0 || (queued !== -1 && queued < config.maxRequestBytes)) {
    throw new KafkaError(
      "INVALID_CONFIG",
      `queued.max.request.bytes=${queued}: expected -1 or at least socket.request.max.bytes (${config.maxRequestBytes})`,
    );
  }
}

/**
 * Room in a Fetch response beyond its first batch: the response, topic and partition headers of
 * a Fetch answering one partition (a few hundred bytes at any version), rounded up.
 */
export const FETCH_RESPONSE_OVERHEAD_BYTES = 1024;

/**
 * A response larger than queued.max.response.bytes is never sent, and a Fetch answers the first
 * batch whole (KIP-74): the budget must hold the largest batch the broker stores by default
 * (docs/decisions/0019).
 */
function checkQueuedResponseBytes(config: BrokerConfig): void {
  const largest = topicDefaultsConfig(config).maxMessageBytes + FETCH_RESPONSE_OVERHEAD_BYTES;
  if (config.queuedMaxResponseBytes < largest) {
    throw new KafkaError(
      "INVALID_CONFIG",
      `queued.max.response.bytes=${config.queuedMaxResponseBytes}: expected at least message.max.bytes + ${FETCH_RESPONSE_OVERHEAD_BYTES} (${largest}), so that a Fetch of the largest batch fits`,
    );
  }
}

/** The LogConfig that topics get when they set nothing themselves. */
export function topicDefaultsConfig(config: BrokerConfig): LogConfig {
  const { "min.insync.replicas": _ignored, ...logProps } = config.topicDefaults;
  return parseLogConfig(logProps, DEFAULT_LOG_CONFIG);
}
