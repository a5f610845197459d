/**
 * The broker's side of a SASL exchange for each mechanism it serves, over one credential lookup:
 * SCRAM-SHA-256 and SCRAM-SHA-512 run protocol/sasl/scram.ts's ScramServer; PLAIN checks the
 * password against the user's SCRAM credential (a salted hash, as Redpanda does: no password is
 * ever stored), trying SCRAM-SHA-512 and then SCRAM-SHA-256. PBKDF2 runs off the event loop
 * (`scramSaltedPasswordAsync`), and the keys are compared in constant time.
 */
import { timingSafeEqual } from "node:crypto";
import { KafkaError } from "../../protocol/errors.js";
import { parsePlain } from "../../protocol/sasl/plain.js";
import {
  SCRAM_MAX_ITERATIONS,
  type ScramCredential,
  type ScramMechanismName,
  ScramServer,
  scramCredentialFromSaltedPassword,
  scramSaltedPasswordAsync,
} from "../../protocol/sasl/scram.js";
import type { SaslExchange } from "../net/connection-auth.js";
import type { SaslMechanism } from "../net/listeners.js";

/** A user's stored SCRAM credential for a mechanism, or undefined. */
export type CredentialLookup = (
  username: string,
  mechanism: ScramMechanismName,
) => ScramCredential | undefined;

const PLAIN_FAILED = "Authentication failed: Invalid username or password";

/** Whether `password` is the one `credential` was made from. */
async function passwordMatches(
  mechanism: ScramMechanismName,
  password: string,
  credential: ScramCredential,
): Promise<boolean> {
  if (credential.iterations < 1 || credential.iterations > SCRAM_MAX_ITERATIONS) return false;
  const salted = await scramSaltedPasswordAsync(mechanism, password, credential.salt, credential.iterations);
  let storedKey: Buffer;
  try {
    storedKey = scramCredentialFromSaltedPassword(
      mechanism,
      credential.salt,
      salted,
      credential.iterations,
    ).storedKey;
  } catch {
    return false; // a stored credential Kafka would refuse (iterations below 4096): no login
  }
  return storedKey.length === credential.storedKey.length && timingSafeEqual(storedKey, credential.storedKey);
}

/** The stored credential a password was proved against. */
export interface VerifiedPassword {
  mechanism: ScramMechanismName;
  credential: ScramCredential;
}

/**
 * Whether `password` is `username`'s, checked as PLAIN checks it (against the user's SCRAM-SHA-512
 * credential, then SCRAM-SHA-256): the credential it matched, or null. Shared by PLAIN and the
 * HTTP door's Basic authentication.
 */
export async function verifyPassword(
  lookup: CredentialLookup,
  username: string,
  password: string,
): Promise<VerifiedPassword | null> {
  for (const mechanism of ["SCRAM-SHA-512", "SCRAM-SHA-256"] as const) {
    const credential = lookup(username, mechanism);
    if (credential && (await passwordMatches(mechanism, password, credential)))
      return { mechanism, credential };
  }
  return null;
}

function plainExchange(lookup: CredentialLookup): SaslExchange {
  return {
    mechanism: "PLAIN",
    async evaluate(message) {
      const { username, password } = parsePlain(message);
      if (await verifyPassword(lookup, username, password)) return { reply: Buffer.alloc(0), username };
      throw new KafkaError("SASL_AUTHENTICATION_FAILED", PLAIN_FAILED);
    },
  };
}

function scramExchange(mechanism: ScramMechanismName, lookup: CredentialLookup): SaslExchange {
  const server = new ScramServer(mechanism, (user, m) => lookup(user, m));
  return {
    mechanism,
    async evaluate(message) {
      const reply = await server.evaluate(message);
      return { reply, username: server.complete ? server.username : null };
    },
  };
}

/** A new exchange of `mechanism` whose users are found by `lookup`. */
export function saslExchange(mechanism: SaslMechanism, lookup: CredentialLookup): SaslExchange {
  return mechanism === "PLAIN" ? plainExchange(lookup) : scramExchange(mechanism, lookup);
}
