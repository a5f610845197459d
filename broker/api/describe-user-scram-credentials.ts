/**
 * DescribeUserScramCredentials (key 50), v0: each user's SCRAM mechanisms and iteration counts
 * (never a salt or a key). Users null or empty: every user with a credential. Validation order:
 * no DESCRIBE on the cluster (ACLs) -> CLUSTER_AUTHORIZATION_FAILED, top-level and for each user
 * named (Kafka's error response); per named user: named more than once -> DUPLICATE_RESOURCE (once per name); no credential ->
 * RESOURCE_NOT_FOUND, as Kafka answers.
 */
import { errorCode } from "../../protocol/errors.js";
import { scramMechanismCode } from "../../protocol/sasl/scram.js";
import type {
  DescribeUserScramCredentialsRequestData,
  DescribeUserScramCredentialsResponseData,
  DescribeUserScramCredentialsResult,
} from "../../protocol/types/describe-user-scram-credentials.js";
import type { ScramUserInfo } from "../metadata/scram-credentials.js";
import { onCluster } from "./authorized.js";
import type { ApiHandler } from "./types.js";

function described(info: ScramUserInfo): DescribeUserScramCredentialsResult {
  return {
    user: info.user,
    errorCode: 0,
    errorMessage: null,
    credentialInfos: info.mechanisms.map((m) => ({
      mechanism: scramMechanismCode(m.mechanism),
      iterations: m.iterations,
    })),
  };
}

function refused(
  user: string,
  code: "DUPLICATE_RESOURCE" | "RESOURCE_NOT_FOUND",
): DescribeUserScramCredentialsResult {
  const message =
    code === "DUPLICATE_RESOURCE"
      ? "Cannot describe SCRAM credentials for the same user twice in a single request"
      : "Attempt to describe a user credential that does not exist";
  return { user, errorCode: errorCode(code), errorMessage: message, credentialInfos: [] };
}

export const describeUserScramCredentials: ApiHandler<
  DescribeUserScramCredentialsRequestData,
  DescribeUserScramCredentialsResponseData
> = {
  apiKey: 50,
  name: "DescribeUserScramCredentials",
  minVersion: 0,
  maxVersion: 0,
  async handle(broker, request, ctx) {
    if (!onCluster(ctx, "DESCRIBE")) {
      const code = errorCode("CLUSTER_AUTHORIZATION_FAILED");
      const message = "Authorization failed.";
      return {
        throttleTimeMs: 0,
        errorCode: code,
        errorMessage: message,
        results: (request.users ?? []).map((u) => ({
          user: u.name,
          errorCode: code,
          errorMessage: message,
          credentialInfos: [],
        })),
      };
    }
    const all = broker.store.scramUsers();
    const base = { throttleTimeMs: 0, errorCode: 0, errorMessage: null };
    if (!request.users || request.users.length === 0) return { ...base, results: all.map(described) };
    const byName = new Map(all.map((u) => [u.user, u]));
    const counts = new Map<string, number>();
    for (const u of request.users) counts.set(u.name, (counts.get(u.name) ?? 0) + 1);
    const results = [...counts].map(([user, n]) => {
      if (n > 1) return refused(user, "DUPLICATE_RESOURCE");
      const info = byName.get(user);
      return info ? described(info) : refused(user, "RESOURCE_NOT_FOUND");
    });
    return { ...base, results };
  },
};
