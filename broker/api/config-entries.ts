/**
 * Not a handler: the config entries that DescribeConfigs, CreateTopics (v5+), AlterConfigs and
 * IncrementalAlterConfigs share. Topic entries are every key of storage's TOPIC_CONFIGS (every
 * topic config Kafka 4 knows, plus samsa's flush.policy); broker entries are every key of
 * BROKER_CONFIG_KEYS. Keys that change nothing in samsa say why in their documentation.
 *
 * Sources follow Kafka's precedence: a topic's own override (DYNAMIC_TOPIC_CONFIG, 1), else the
 * broker's `log.*` setting from its config file, environment or flags (STATIC_BROKER_CONFIG, 4),
 * else the built-in default (DEFAULT_CONFIG, 5). Synonyms list that chain, highest first, as Kafka
 * does. Choice: a topic key without a broker synonym (segment.index.bytes, cleanup.policy, ...)
 * still gets a DEFAULT_CONFIG synonym under its own name, so a client always sees the default.
 * Values are the effective, normalised values ("delete,compact" reads as "compact,delete").
 * Config types are Kafka's ConfigType ids (BOOLEAN 1, STRING 2, INT 3, LONG 5, DOUBLE 6, LIST 7),
 * with the type Kafka gives the same key; `flush.policy` is samsa's own and a STRING.
 */
import { type ErrorName, KafkaError } from "../../protocol/errors.js";
import { DEFAULT_LOG_CONFIG, type LogConfig, parseLogConfig } from "../../storage/config.js";
import {
  LONG_MAX_TEXT,
  TOPIC_CONFIGS,
  type TopicConfigType,
  topicConfigDoc,
} from "../../storage/topic-configs.js";
import type { Broker } from "../broker.js";
import {
  BROKER_CONFIG_KEYS,
  type BrokerConfig,
  defaultBrokerConfig,
  topicDefaultsConfig,
} from "../config.js";

export const RESOURCE_TOPIC = 2;
export const RESOURCE_BROKER = 4;

export const CONFIG_SOURCE = {
  DYNAMIC_TOPIC_CONFIG: 1,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
} as const;

/** Kafka's DescribeConfigsResponse.ConfigType ids. */
export const CONFIG_TYPE = {
  UNKNOWN: 0,
  BOOLEAN: 1,
  STRING: 2,
  INT: 3,
  SHORT: 4,
  LONG: 5,
  DOUBLE: 6,
  LIST: 7,
  CLASS: 8,
  PASSWORD: 9,
} as const;

export const MIN_INSYNC_REPLICAS = "min.insync.replicas";
const DEFAULT_MIN_INSYNC_REPLICAS = "1";

const CONFIG_TYPE_OF: Record<TopicConfigType, number> = {
  boolean: CONFIG_TYPE.BOOLEAN,
  string: CONFIG_TYPE.STRING,
  int: CONFIG_TYPE.INT,
  long: CONFIG_TYPE.LONG,
  double: CONFIG_TYPE.DOUBLE,
  list: CONFIG_TYPE.LIST,
};

function topicConfigType(key: string): number {
  const spec = TOPIC_CONFIGS[key];
  return spec ? CONFIG_TYPE_OF[spec.type] : CONFIG_TYPE.UNKNOWN;
}

export interface ConfigSynonym {
  name: string;
  value: string | null;
  source: number;
}

/** One config as DescribeConfigs reports it (every field of every version). */
export interface ConfigEntry {
  name: string;
  value: string | null;
  readOnly: boolean;
  configSource: number;
  isSensitive: boolean;
  /** v0's flag: true when the value is the built-in default. */
  isDefault: boolean;
  synonyms: ConfigSynonym[];
  configType: number;
  documentation: string | null;
}

/** Every topic config key (storage/topic-configs.ts), in a stable order. */
export function topicConfigKeys(): string[] {
  return Object.keys(TOPIC_CONFIGS);
}

export function isTopicConfigKey(key: string): boolean {
  return Object.hasOwn(TOPIC_CONFIGS, key);
}

/** Throws INVALID_CONFIG naming the first of `names` that is not a topic config. */
export function checkTopicConfigNames(names: Iterable<string>): void {
  for (const name of names) {
    if (!isTopicConfigKey(name)) throw new KafkaError("INVALID_CONFIG", `Unknown topic config name: ${name}`);
  }
}

/** Whether APPEND and SUBTRACT apply: Kafka's LIST-typed configs. */
export function isListConfig(key: string): boolean {
  return isTopicConfigKey(key) && TOPIC_CONFIGS[key].type === "list";
}

/** The broker config whose `log.*` value is the default of a topic config, if any. */
function brokerSynonymOf(topicKey: string): string | undefined {
  return Object.keys(BROKER_CONFIG_KEYS).find((k) => BROKER_CONFIG_KEYS[k].topicKey === topicKey);
}

function show(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

/** As show, but Long.MAX_VALUE (held as the largest safe integer) as Kafka prints it. */
function showLong(value: unknown): string | null {
  return value === Number.MAX_SAFE_INTEGER ? LONG_MAX_TEXT : show(value);
}

function normaliseCount(value: string): string {
  return String(Number(value));
}

/** A topic config's value when the topic does not set it: the broker's, else the built-in one. */
export function topicDefaultValue(config: BrokerConfig, key: string): string | null {
  if (key === MIN_INSYNC_REPLICAS) {
    const set = config.topicDefaults[MIN_INSYNC_REPLICAS];
    return set === undefined ? DEFAULT_MIN_INSYNC_REPLICAS : normaliseCount(set);
  }
  const spec = Object.hasOwn(TOPIC_CONFIGS, key) ? TOPIC_CONFIGS[key] : undefined;
  if (!spec) return null;
  if (spec.field) return showLong(topicDefaultsConfig(config)[spec.field]);
  return config.topicDefaults[key] ?? spec.kafkaDefault;
}

/**
 * The entries of a topic whose own configs are `overrides` (valid ones: as stored, or as a
 * CreateTopics request that passed validation gave them).
 */
export function topicConfigEntries(config: BrokerConfig, overrides: Record<string, string>): ConfigEntry[] {
  const brokerDefaults = topicDefaultsConfig(config);
  const { [MIN_INSYNC_REPLICAS]: _min, ...storageOverrides } = overrides;
  const effective: LogConfig = parseLogConfig(storageOverrides, brokerDefaults);
  return topicConfigKeys().map((key) => {
    let value: string | null;
    let brokerValue: string | null;
    let builtIn: string | null;
    if (key === MIN_INSYNC_REPLICAS) {
      const own = overrides[MIN_INSYNC_REPLICAS];
      brokerValue = topicDefaultValue(config, key);
      builtIn = DEFAULT_MIN_INSYNC_REPLICAS;
      value = own === undefined ? brokerValue : normaliseCount(own);
    } else {
      const spec = TOPIC_CONFIGS[key];
      if (spec.field) {
        value = showLong(effective[spec.field]);
        brokerValue = showLong(brokerDefaults[spec.field]);
        builtIn = showLong(DEFAULT_LOG_CONFIG[spec.field]);
      } else {
        // Keys without an effect in storage are shown as given.
        brokerValue = topicDefaultValue(config, key);
        builtIn = spec.kafkaDefault;
        value = overrides[key] ?? brokerValue;
      }
    }
    const brokerKey = brokerSynonymOf(key);
    const synonyms: ConfigSynonym[] = [];
    if (Object.hasOwn(overrides, key)) {
      synonyms.push({ name: key, value, source: CONFIG_SOURCE.DYNAMIC_TOPIC_CONFIG });
    }
    if (config.topicDefaults[key] !== undefined) {
      synonyms.push({
        name: brokerKey ?? key,
        value: brokerValue,
        source: CONFIG_SOURCE.STATIC_BROKER_CONFIG,
      });
    }
    synonyms.push({ name: brokerKey ?? key, value: builtIn, source: CONFIG_SOURCE.DEFAULT_CONFIG });
    return {
      name: key,
      value,
      readOnly: false,
      configSource: synonyms[0].source,
      isSensitive: false,
      isDefault: synonyms[0].source === CONFIG_SOURCE.DEFAULT_CONFIG,
      synonyms,
      configType: topicConfigType(key),
      documentation: topicConfigDoc(key),
    };
  });
}

/**
 * The broker's own configs (BROKER_CONFIG_KEYS), all read-only: dynamic broker configs are not
 * served. A value counts as STATIC_BROKER_CONFIG when it differs from the built-in default (it
 * came from the config file, the environment or a flag, or was derived from one, such as
 * advertised.host from host); `log.*` keys when the broker sets them at all. kafka.port shows
 * the bound port and cluster.id the stored cluster id. Sensitive keys (sasl.jaas.config) are
 * answered with isSensitive and no value, as Kafka does.
 */
export function brokerConfigEntries(broker: Broker): ConfigEntry[] {
  const config = broker.config;
  const builtIn = defaultBrokerConfig();
  return Object.entries(BROKER_CONFIG_KEYS).map(([key, spec]) => {
    let value: string | null;
    let defaultValue: string | null;
    let isSet: boolean;
    let type: number;
    if (spec.topicKey) {
      isSet = config.topicDefaults[spec.topicKey] !== undefined;
      value = topicDefaultValue(config, spec.topicKey);
      const field = TOPIC_CONFIGS[spec.topicKey]?.field;
      defaultValue = field ? showLong(DEFAULT_LOG_CONFIG[field]) : DEFAULT_MIN_INSYNC_REPLICAS;
      type = topicConfigType(spec.topicKey);
    } else {
      const field = spec.field!;
      let current: unknown = config[field];
      if (field === "kafkaPort" && broker.kafkaPort !== 0) current = broker.kafkaPort;
      if (field === "clusterId" && current === null) current = broker.store.clusterId();
      value = show(current);
      defaultValue = show(builtIn[field]);
      isSet = value !== defaultValue && !(field === "clusterId" && config.clusterId === null);
      // A secret is never shown, as Kafka answers its sensitive configs (nor its default).
      if (spec.sensitive) value = defaultValue = null;
      type = spec.sensitive
        ? CONFIG_TYPE.PASSWORD
        : spec.kind === "bool"
          ? CONFIG_TYPE.BOOLEAN
          : spec.kind === "string"
            ? CONFIG_TYPE.STRING
            : key.endsWith(".ms")
              ? CONFIG_TYPE.LONG
              : CONFIG_TYPE.INT;
    }
    const synonyms: ConfigSynonym[] = [];
    if (isSet) synonyms.push({ name: key, value, source: CONFIG_SOURCE.STATIC_BROKER_CONFIG });
    synonyms.push({ name: key, value: defaultValue, source: CONFIG_SOURCE.DEFAULT_CONFIG });
    return {
      name: key,
      value,
      readOnly: true,
      configSource: synonyms[0].source,
      isSensitive: spec.sensitive === true,
      isDefault: synonyms[0].source === CONFIG_SOURCE.DEFAULT_CONFIG,
      synonyms,
      configType: type,
      documentation: spec.doc,
    };
  });
}

/**
 * Runs config read-modify-write steps one at a time per broker, so two IncrementalAlterConfigs
 * (or an AlterConfigs beside one) never compute from the same stale overrides.
 */
const configChains = new WeakMap<Broker, Promise<void>>();

export function serialiseConfigChange<T>(broker: Broker, change: () => Promise<T>): Promise<T> {
  const previous = configChains.get(broker) ?? Promise.resolve();
  const run = previous.then(change);
  configChains.set(
    broker,
    run.then(
      () => {},
      () => {},
    ),
  );
  return run;
}

/** The keys that occur more than once, for "duplicate" errors. */
export function duplicates<T>(items: T[], key: (item: T) => string): Set<string> {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const item of items) {
    const k = key(item);
    if (seen.has(k)) dup.add(k);
    else seen.add(k);
  }
  return dup;
}

/** A KafkaError as a response's errorCode and errorMessage. */
export function errorFields(err: KafkaError): { errorCode: number; errorMessage: string } {
  return { errorCode: err.errorCode, errorMessage: err.message };
}

/**
 * The KafkaError to answer for a failure of one item (topic, resource): itself if it is one,
 * else UNKNOWN_SERVER_ERROR, logged, so that one failing item does not fail the others.
 */
export function asKafkaError(broker: Broker, err: unknown, what: string): KafkaError {
  if (KafkaError.is(err)) return err;
  broker.log.error({ err }, `${what} failed`);
  return new KafkaError("UNKNOWN_SERVER_ERROR", `${what} failed: ${(err as Error)?.message ?? String(err)}`);
}

export const DYNAMIC_BROKER_CONFIGS_UNSUPPORTED =
  "dynamic broker configs are not supported yet: set them in the broker's config file, SAMSA_* environment or flags and restart";

/** The AlterConfigs checks of a resource: a topic (not a broker or other type) that exists. */
export function checkTopicResource(broker: Broker, type: number, name: string): void {
  if (type === RESOURCE_BROKER) throw new KafkaError("INVALID_REQUEST", DYNAMIC_BROKER_CONFIGS_UNSUPPORTED);
  if (type !== RESOURCE_TOPIC) {
    throw new KafkaError(
      "INVALID_REQUEST",
      `unsupported resource type ${type}: only topics (2) can be altered`,
    );
  }
  if (name === "") throw new KafkaError("INVALID_REQUEST", "default topic resources are not allowed");
  if (!broker.store.topic(name))
    throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `topic ${name} does not exist`);
}

export function resourceKey(r: { resourceType: number; resourceName: string }): string {
  return `${r.resourceType}\u0000${r.resourceName}`;
}

/**
 * Runs `alter` for each resource of an (Incremental)AlterConfigs request and builds its
 * per-resource answers: a resource named twice fails every copy with INVALID_REQUEST.
 */
/** One resource's answer in AlterConfigs and IncrementalAlterConfigs. */
export interface AlterResult {
  errorCode: number;
  errorMessage: string | null;
  resourceType: number;
  resourceName: string;
}

/**
 * Each resource altered and answered in request order: a resource named twice INVALID_REQUEST,
 * then `refusal` (the ACL check, api/authorized.ts configRefusal), then `alter`.
 */
export async function alterEach<R extends { resourceType: number; resourceName: string }>(
  broker: Broker,
  resources: R[],
  refusal: (resource: R) => ErrorName | null,
  alter: (resource: R) => Promise<void>,
): Promise<AlterResult[]> {
  const repeated = duplicates(resources, resourceKey);
  const responses: AlterResult[] = [];
  for (const resource of resources) {
    const head = { resourceType: resource.resourceType, resourceName: resource.resourceName };
    try {
      if (repeated.has(resourceKey(resource))) {
        throw new KafkaError("INVALID_REQUEST", "Each resource must appear at most once.");
      }
      const refused = refusal(resource);
      if (refused) throw new KafkaError(refused, "Authorization failed.");
      await alter(resource);
      responses.push({ errorCode: 0, errorMessage: null, ...head });
    } catch (err) {
      const e = asKafkaError(broker, err, `altering configs of ${resource.resourceName}`);
      responses.push({ ...errorFields(e), ...head });
    }
  }
  return responses;
}
