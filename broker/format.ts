/**
 * Users put in the cluster store before any broker runs: what `samsa storage format --add-scram`
 * does, as Kafka's `kafka-storage format --add-scram` seeds a KRaft cluster's first SCRAM users.
 * A cluster whose inter-broker listener is SASL needs the brokers' own user before the brokers
 * can replicate, and a cluster with only SASL listeners needs an administrator before anyone can
 * create users over the wire.
 *
 * The store is the one `config` names (the brokers' own configuration): the data directory's
 * embedded store, under its lock, so never beside a running broker; or the etcd cluster's, which
 * running brokers see at once. A credential that exists is replaced, so running it again with the
 * same users is harmless. Passwords are salted and hashed here; only the credential is stored.
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { pino } from "pino";
import { KafkaError } from "../protocol/errors.js";
import {
  SCRAM_SALT_BYTES,
  scramCredentialFromSaltedPassword,
  scramSaltedPasswordAsync,
} from "../protocol/sasl/scram.js";
import { DataDirLock } from "../storage/dir-lock.js";
import { NodeFs } from "../storage/fs.js";
import { openStore } from "./broker.js";
import type { BrokerConfig } from "./config.js";
import {
  SCRAM_ITERATIONS_MAX,
  SCRAM_ITERATIONS_MIN,
  SCRAM_MECHANISMS,
  type ScramMechanism,
  type ScramUpsertion,
} from "./metadata/scram-credentials.js";

/** One `--add-scram` user. */
export interface ScramUserSpec {
  mechanism: ScramMechanism;
  user: string;
  password: string;
  iterations: number;
}

/** Kafka's default iteration count for a credential made by kafka-storage and kafka-configs. */
export const FORMAT_SCRAM_ITERATIONS = 4096;

function invalid(why: string): KafkaError {
  return new KafkaError("INVALID_CONFIG", `--add-scram: ${why}`);
}

/** Splits `a=1,b="x,y"` into pairs; a quoted value may hold commas, `\` escapes the next character. */
function pairs(body: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < body.length) {
    const eq = body.indexOf("=", i);
    if (eq < 0) throw invalid("expected name=value pairs inside [...]");
    const name = body.slice(i, eq).trim().toLowerCase();
    let value = "";
    i = eq + 1;
    if (body[i] === '"') {
      for (i++; i < body.length && body[i] !== '"'; i++) value += body[i] === "\\" ? body[++i] : body[i];
      if (i >= body.length) throw invalid("a quoted value is not closed");
      i++;
    } else {
      const end = body.indexOf(",", i);
      value = body.slice(i, end < 0 ? body.length : end);
      i = end < 0 ? body.length : end;
    }
    if (out.has(name)) throw invalid(`${name} is given twice`);
    out.set(name, value);
    if (i < body.length && body[i] !== ",") throw invalid("expected , between name=value pairs");
    i++;
  }
  return out;
}

/**
 * Parses Kafka's `--add-scram` form, `SCRAM-SHA-256=[name=alice,password=alice-secret]`, with an
 * optional `iterations=N` (4096 to 16384; default 4096). Refusals never show the password.
 */
export function parseAddScram(text: string): ScramUserSpec {
  const m = /^([A-Za-z0-9-]+)=\[(.*)\]$/s.exec(text.trim());
  if (!m) throw invalid("expected MECHANISM=[name=...,password=...]");
  const mechanism = m[1].toUpperCase() as ScramMechanism;
  if (!SCRAM_MECHANISMS.includes(mechanism))
    throw invalid(`${m[1]} is not one of ${SCRAM_MECHANISMS.join(", ")}`);
  const given = pairs(m[2]);
  for (const name of given.keys()) {
    if (!["name", "password", "iterations"].includes(name))
      throw invalid(`${name} is not supported (name, password, iterations)`);
  }
  const user = given.get("name");
  const password = given.get("password");
  if (!user) throw invalid("needs name=<user>");
  if (password === undefined || password === "") throw invalid(`user ${user} needs password=<password>`);
  const iterationsText = given.get("iterations");
  const iterations = iterationsText === undefined ? FORMAT_SCRAM_ITERATIONS : Number(iterationsText);
  if (!Number.isInteger(iterations) || iterations < SCRAM_ITERATIONS_MIN || iterations > SCRAM_ITERATIONS_MAX)
    throw invalid(`iterations must be ${SCRAM_ITERATIONS_MIN} to ${SCRAM_ITERATIONS_MAX}`);
  return { mechanism, user, password, iterations };
}

/** The stored form of `spec`: a fresh salt and the keys derived from the password. */
async function upsertion(spec: ScramUserSpec): Promise<ScramUpsertion> {
  const salt = randomBytes(SCRAM_SALT_BYTES);
  const salted = await scramSaltedPasswordAsync(spec.mechanism, spec.password, salt, spec.iterations);
  return {
    user: spec.user,
    mechanism: spec.mechanism,
    ...scramCredentialFromSaltedPassword(spec.mechanism, salt, salted, spec.iterations),
  };
}

/**
 * Puts `users` in the store `config` names (see the file comment). Throws the store's refusal of
 * a user (UNACCEPTABLE_CREDENTIAL, ...) naming it; DATA_DIR_LOCKED while a broker holds the data
 * directory of an embedded store.
 */
export async function addScramUsers(
  config: BrokerConfig,
  users: readonly ScramUserSpec[],
  log: Logger = pino({ level: "silent" }),
): Promise<void> {
  const upsertions = await Promise.all(users.map(upsertion));
  const sfs = new NodeFs();
  let lock: DataDirLock | null = null;
  if (config.cluster === "") {
    await sfs.mkdirp(config.dataDir);
    lock = await DataDirLock.acquire(config.dataDir);
  }
  try {
    const store = await openStore(config, sfs, log);
    try {
      const results = await store.alterScramCredentials(upsertions, []);
      const refused = results.find((r) => r.error !== null);
      if (refused?.error)
        throw new KafkaError(refused.error.code, `user ${refused.user}: ${refused.error.message}`);
    } finally {
      await store.close();
    }
  } finally {
    await lock?.release();
  }
}
