/**
 * AlterUserScramCredentials (key 51), v0: creates, replaces and deletes users' SCRAM credentials
 * (the client sends a salt and the salted password; the broker keeps StoredKey and ServerKey).
 * Validation order, per user, is the store's (broker/metadata/scram-credentials.ts, Kafka's):
 * a user named twice -> DUPLICATE_RESOURCE; an empty or too long name or an unusable credential
 * (iterations outside 4096-16384, an empty salt or salted password) -> UNACCEPTABLE_CREDENTIAL;
 * a mechanism code other than 1 or 2 -> UNSUPPORTED_SASL_MECHANISM; deleting a credential that
 * does not exist -> RESOURCE_NOT_FOUND. The entries that pass are applied together, on every
 * broker of the cluster through the store. More than SCRAM_ALTERATIONS_MAX entries:
 * INVALID_REQUEST for each user. Before all of these, no ALTER on the cluster (ACLs) ->
 * CLUSTER_AUTHORIZATION_FAILED for each user, nothing changed (as Kafka; without an authorizer
 * any client may call it, as on a Kafka broker without one).
 */
import { type ErrorName, errorCode, KafkaError } from "../../protocol/errors.js";
import { scramCredentialFromSaltedPassword, scramMechanismName } from "../../protocol/sasl/scram.js";
import type {
  AlterUserScramCredentialsRequestData,
  AlterUserScramCredentialsResponseData,
  ScramCredentialUpsertion,
} from "../../protocol/types/alter-user-scram-credentials.js";
import type { ScramUpsertion } from "../metadata/scram-credentials.js";
import { onCluster } from "./authorized.js";
import type { ApiHandler } from "./types.js";

const NONE: Buffer = Buffer.alloc(0);

/** The credential to store; keys left empty (refused by the store in its order) when unusable. */
function upsertion(u: ScramCredentialUpsertion): ScramUpsertion {
  const known = scramMechanismName(u.mechanism);
  const mechanism: ScramUpsertion["mechanism"] = known ?? "UNKNOWN";
  const base = { user: u.name, mechanism, salt: u.salt, iterations: u.iterations };
  if (!known) return { ...base, storedKey: NONE, serverKey: NONE };
  try {
    const c = scramCredentialFromSaltedPassword(known, u.salt, u.saltedPassword, u.iterations);
    return { ...base, storedKey: c.storedKey, serverKey: c.serverKey };
  } catch {
    return { ...base, storedKey: NONE, serverKey: NONE };
  }
}

/** The answer giving every user the request names `code`. */
function everyUser(
  request: AlterUserScramCredentialsRequestData,
  code: ErrorName,
  message: string,
): AlterUserScramCredentialsResponseData {
  const users = [...new Set([...request.deletions, ...request.upsertions].map((e) => e.name))];
  return {
    throttleTimeMs: 0,
    results: users.map((user) => ({ user, errorCode: errorCode(code), errorMessage: message })),
  };
}

export const alterUserScramCredentials: ApiHandler<
  AlterUserScramCredentialsRequestData,
  AlterUserScramCredentialsResponseData
> = {
  apiKey: 51,
  name: "AlterUserScramCredentials",
  minVersion: 0,
  maxVersion: 0,
  async handle(broker, request, ctx) {
    if (!onCluster(ctx, "ALTER"))
      return everyUser(request, "CLUSTER_AUTHORIZATION_FAILED", "Authorization failed.");
    const deletions = request.deletions.map((d) => ({
      user: d.name,
      mechanism: scramMechanismName(d.mechanism) ?? ("UNKNOWN" as const),
    }));
    try {
      const results = await broker.store.alterScramCredentials(request.upsertions.map(upsertion), deletions);
      return {
        throttleTimeMs: 0,
        results: results.map((r) => ({
          user: r.user,
          errorCode: r.error ? errorCode(r.error.code) : 0,
          errorMessage: r.error ? r.error.message.replace(/^[A-Z_]+: /, "") : null,
        })),
      };
    } catch (err) {
      const code = KafkaError.is(err) ? err.code : "UNKNOWN_SERVER_ERROR";
      return everyUser(request, code, (err as Error).message);
    }
  },
};
