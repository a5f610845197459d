/**
 * SCRAM credentials as the cluster stores keep them (issue 15): per user and mechanism the salt,
 * StoredKey, ServerKey and iteration count of RFC 5802, never the password. And the rules of
 * AlterUserScramCredentials, decided here once (`planScramAlteration`) so that every store
 * answers a request alike, in the order of Kafka's ScramControlManager:
 *
 * 1. a user whose earlier entry in the request already failed: the entry is ignored (one result
 *    per user);
 * 2. a user named by an earlier entry that passed (a deletion, or an upsertion): DUPLICATE_RESOURCE
 *    for that user, and the earlier entry is dropped too;
 * 3. an empty (or, samsa's bound, too long) user name: UNACCEPTABLE_CREDENTIAL;
 * 4. a mechanism other than SCRAM-SHA-256 / SCRAM-SHA-512: UNSUPPORTED_SASL_MECHANISM;
 * 5. a deletion of a credential that does not exist: RESOURCE_NOT_FOUND;
 *    an upsertion with iterations below 4096 or above 16384: UNACCEPTABLE_CREDENTIAL, as is one
 *    whose salt or keys are malformed (samsa's checks: Kafka derives the keys itself);
 * 6. an upsertion that would add a credential beyond SCRAM_CREDENTIALS_MAX: POLICY_VIOLATION.
 *
 * Results come one per user, in the order users first appear (deletions before upsertions, as
 * Kafka reads them); entries that pass are applied together.
 */
import { KafkaError } from "../../protocol/errors.js";

export type ScramMechanism = "SCRAM-SHA-256" | "SCRAM-SHA-512";

/** The mechanisms a credential may be stored for, in Kafka's code order (1, 2). */
export const SCRAM_MECHANISMS: readonly ScramMechanism[] = ["SCRAM-SHA-256", "SCRAM-SHA-512"];

/** The length in bytes of StoredKey and ServerKey: the output of the mechanism's hash. */
export const SCRAM_KEY_BYTES: Readonly<Record<ScramMechanism, number>> = {
  "SCRAM-SHA-256": 32,
  "SCRAM-SHA-512": 64,
};

/** Kafka's ScramMechanism minimum iterations (both mechanisms). */
export const SCRAM_ITERATIONS_MIN = 4096;
/** Kafka's ScramControlManager MAX_ITERATIONS. */
export const SCRAM_ITERATIONS_MAX = 16384;
/** samsa's bound on a user name (UTF-8 bytes), as SASL/PLAIN bounds each of its parts. */
export const SCRAM_USER_NAME_MAX_BYTES = 255;
/** samsa's bound on a stored salt (bytes); Kafka's clients send 64 or fewer. */
export const SCRAM_SALT_MAX_BYTES = 256;
/** The most credentials (user and mechanism pairs) a cluster keeps. */
export const SCRAM_CREDENTIALS_MAX = 10_000;
/**
 * The most entries (upsertions and deletions) one alteration may carry: each touches one key, and
 * an etcd txn holds at most 128 compares and 128 operations by default (--max-txn-ops).
 */
export const SCRAM_ALTERATIONS_MAX = 64;

/** What a server needs to verify a SCRAM client (RFC 5802), never the password. */
export interface ScramCredential {
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
  readonly iterations: number;
}

/** One stored credential. */
export interface ScramCredentialEntry {
  readonly user: string;
  readonly mechanism: ScramMechanism;
  readonly credential: ScramCredential;
}

/** A user's mechanisms and their iteration counts (DescribeUserScramCredentials). */
export interface ScramUserInfo {
  readonly user: string;
  readonly mechanisms: readonly { readonly mechanism: ScramMechanism; readonly iterations: number }[];
}

/**
 * The mechanism of an alteration as the handler read it: "UNKNOWN" for a wire code that names
 * neither mechanism (answered UNSUPPORTED_SASL_MECHANISM in Kafka's order).
 */
export type ScramMechanismName = ScramMechanism | "UNKNOWN";

export interface ScramDeletion {
  user: string;
  mechanism: ScramMechanismName;
}

export interface ScramUpsertion extends ScramCredential {
  user: string;
  mechanism: ScramMechanismName;
}

/** The answer for one user of an alteration: null error when its entry was applied. */
export interface ScramAlterationResult {
  user: string;
  error: KafkaError | null;
}

/** One credential to write (null: to remove). */
export interface ScramWrite {
  user: string;
  mechanism: ScramMechanism;
  credential: ScramCredential | null;
}

export interface ScramPlan {
  results: ScramAlterationResult[];
  writes: ScramWrite[];
}

/** What a plan needs to know of the stored credentials. */
export interface ScramState {
  has(user: string, mechanism: ScramMechanism): boolean;
  readonly count: number;
}

export function isScramMechanism(m: unknown): m is ScramMechanism {
  return m === "SCRAM-SHA-256" || m === "SCRAM-SHA-512";
}

/** The key of a (user, mechanism) pair in a store's maps. */
export function scramKey(user: string, mechanism: ScramMechanism): string {
  return `${mechanism}/${user}`;
}

/** A copy of `c` sharing no bytes with it (Buffers cannot be frozen, so readers get copies). */
export function copyScramCredential(c: ScramCredential): ScramCredential {
  return Object.freeze({
    salt: Buffer.from(c.salt),
    storedKey: Buffer.from(c.storedKey),
    serverKey: Buffer.from(c.serverKey),
    iterations: c.iterations,
  });
}

function userNameProblem(user: unknown): string | null {
  if (typeof user !== "string" || user.length === 0) return "Username must not be empty";
  if (Buffer.byteLength(user, "utf8") > SCRAM_USER_NAME_MAX_BYTES)
    return `Username is longer than ${SCRAM_USER_NAME_MAX_BYTES} bytes`;
  return null;
}

/** What is wrong with a credential of `mechanism` (salt, keys, iterations), or null. */
export function scramCredentialProblem(mechanism: ScramMechanism, c: ScramCredential): string | null {
  if (!Number.isInteger(c.iterations) || c.iterations < SCRAM_ITERATIONS_MIN) return "Too few iterations";
  if (c.iterations > SCRAM_ITERATIONS_MAX) return "Too many iterations";
  if (!Buffer.isBuffer(c.salt) || c.salt.length === 0 || c.salt.length > SCRAM_SALT_MAX_BYTES)
    return `Salt must be 1 to ${SCRAM_SALT_MAX_BYTES} bytes`;
  const keyBytes = SCRAM_KEY_BYTES[mechanism];
  for (const [key, name] of [
    [c.storedKey, "StoredKey"],
    [c.serverKey, "ServerKey"],
  ] as const) {
    if (!Buffer.isBuffer(key) || key.length !== keyBytes) return `${name} must be ${keyBytes} bytes`;
  }
  return null;
}

/** What is wrong with a stored credential entry (a file or etcd value read back), or null. */
export function scramEntryProblem(e: ScramCredentialEntry): string | null {
  return (
    userNameProblem(e.user) ??
    (isScramMechanism(e.mechanism) ? null : "unknown mechanism") ??
    scramCredentialProblem(e.mechanism, e.credential)
  );
}

/** Kafka's checks common to deletions and upsertions (step 3 and 4). */
function nameAndMechanismError(user: string, mechanism: ScramMechanismName): KafkaError | null {
  const problem = userNameProblem(user);
  if (problem) return new KafkaError("UNACCEPTABLE_CREDENTIAL", problem);
  if (!isScramMechanism(mechanism))
    return new KafkaError("UNSUPPORTED_SASL_MECHANISM", "Unknown SCRAM mechanism");
  return null;
}

function duplicate(): KafkaError {
  return new KafkaError(
    "DUPLICATE_RESOURCE",
    "A user credential cannot be altered twice in the same request",
  );
}

/** Throws INVALID_REQUEST when the alteration is larger than SCRAM_ALTERATIONS_MAX. */
export function checkScramAlterationSize(
  upsertions: readonly unknown[],
  deletions: readonly unknown[],
): void {
  if (!Array.isArray(upsertions) || !Array.isArray(deletions))
    throw new KafkaError("INVALID_REQUEST", "upsertions and deletions must be lists");
  const entries = upsertions.length + deletions.length;
  if (entries > SCRAM_ALTERATIONS_MAX)
    throw new KafkaError(
      "INVALID_REQUEST",
      `${entries} credential alterations in one request; at most ${SCRAM_ALTERATIONS_MAX}`,
    );
}

/**
 * Decides an AlterUserScramCredentials request against `state` (the order of checks is in the
 * file's comment): one result per user, and the writes of the entries that passed.
 */
export function planScramAlteration(
  state: ScramState,
  upsertions: readonly ScramUpsertion[],
  deletions: readonly ScramDeletion[],
): ScramPlan {
  const errors = new Map<string, KafkaError>();
  const passed = new Map<string, ScramWrite>();
  const order: string[] = [];
  const consider = (user: string, decide: () => KafkaError | ScramWrite): void => {
    if (!order.includes(user)) order.push(user);
    if (errors.has(user)) return;
    if (passed.delete(user)) {
      errors.set(user, duplicate());
      return;
    }
    const decided = decide();
    if (decided instanceof KafkaError) errors.set(user, decided);
    else passed.set(user, decided);
  };
  for (const d of deletions) {
    consider(d.user, () => {
      const error = nameAndMechanismError(d.user, d.mechanism);
      if (error) return error;
      const mechanism = d.mechanism as ScramMechanism;
      if (!state.has(d.user, mechanism))
        return new KafkaError(
          "RESOURCE_NOT_FOUND",
          "Attempt to delete a user credential that does not exist",
        );
      return { user: d.user, mechanism, credential: null };
    });
  }
  for (const u of upsertions) {
    consider(u.user, () => {
      const error = nameAndMechanismError(u.user, u.mechanism);
      if (error) return error;
      const mechanism = u.mechanism as ScramMechanism;
      const problem = scramCredentialProblem(mechanism, u);
      if (problem) return new KafkaError("UNACCEPTABLE_CREDENTIAL", problem);
      return { user: u.user, mechanism, credential: copyScramCredential(u) };
    });
  }
  capCredentials(state, passed, errors);
  return {
    results: order.map((user) => ({ user, error: errors.get(user) ?? null })),
    writes: [...passed.values()],
  };
}

/** Step 6: upsertions adding a credential past SCRAM_CREDENTIALS_MAX fail, in request order. */
function capCredentials(
  state: ScramState,
  passed: Map<string, ScramWrite>,
  errors: Map<string, KafkaError>,
): void {
  let count = state.count;
  for (const w of passed.values()) if (w.credential === null) count -= 1;
  for (const [user, w] of passed) {
    if (w.credential === null || state.has(w.user, w.mechanism)) continue;
    if (count < SCRAM_CREDENTIALS_MAX) {
      count += 1;
      continue;
    }
    passed.delete(user);
    errors.set(
      user,
      new KafkaError(
        "POLICY_VIOLATION",
        `the cluster holds ${SCRAM_CREDENTIALS_MAX} SCRAM credentials, the most it keeps`,
      ),
    );
  }
}

/** Users and their mechanisms, users sorted by name, mechanisms in SCRAM_MECHANISMS order. */
export function scramUsers(entries: Iterable<ScramCredentialEntry>): ScramUserInfo[] {
  const byUser = new Map<string, { mechanism: ScramMechanism; iterations: number }[]>();
  for (const e of entries) {
    const list = byUser.get(e.user) ?? [];
    list.push(Object.freeze({ mechanism: e.mechanism, iterations: e.credential.iterations }));
    byUser.set(e.user, list);
  }
  const rank = (m: ScramMechanism) => SCRAM_MECHANISMS.indexOf(m);
  return [...byUser.keys()].sort(compareStrings).map((user) =>
    Object.freeze({
      user,
      mechanisms: Object.freeze(
        (byUser.get(user) ?? []).sort((a, b) => rank(a.mechanism) - rank(b.mechanism)),
      ),
    }),
  );
}

/** Code-unit order, the same in every store (no locale). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A credential as JSON (bytes in base64), for the embedded file and etcd values. */
export interface StoredScramCredential {
  salt: string;
  storedKey: string;
  serverKey: string;
  iterations: number;
}

export function storedScramCredential(c: ScramCredential): StoredScramCredential {
  return {
    salt: c.salt.toString("base64"),
    storedKey: c.storedKey.toString("base64"),
    serverKey: c.serverKey.toString("base64"),
    iterations: c.iterations,
  };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function bytesOf(v: unknown, what: string): Buffer {
  if (typeof v !== "string" || !BASE64.test(v) || v.length % 4 !== 0)
    throw new Error(`${what} is not base64`);
  return Buffer.from(v, "base64");
}

/** A stored credential read back: throws naming the field when it does not decode. */
export function readStoredScramCredential(v: unknown): ScramCredential {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("credential is not an object");
  const o = v as Record<string, unknown>;
  if (!Number.isSafeInteger(o.iterations)) throw new Error("iterations is not an integer");
  return Object.freeze({
    salt: bytesOf(o.salt, "salt"),
    storedKey: bytesOf(o.storedKey, "storedKey"),
    serverKey: bytesOf(o.serverKey, "serverKey"),
    iterations: o.iterations as number,
  });
}
