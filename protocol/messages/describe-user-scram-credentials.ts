/**
 * DescribeUserScramCredentials (key 50), v0; flexible in every version.
 *
 * Source: DescribeUserScramCredentialsRequest.json / DescribeUserScramCredentialsResponse.json in
 * apache/kafka (KIP-554). Users null or empty: every user. The response never carries salts or
 * keys: per user, the mechanisms (codes of `ScramMechanism`, protocol/sasl/scram.ts) and their
 * iteration counts.
 */
import type { MessageSpec } from "../schema.js";

export const DescribeUserScramCredentialsRequest: MessageSpec = {
  apiKey: 50,
  type: "request",
  name: "DescribeUserScramCredentialsRequest",
  validVersions: "0",
  flexibleVersions: "0+",
  fields: [
    {
      name: "Users",
      type: "[]UserName",
      versions: "0+",
      nullableVersions: "0+",
      fields: [{ name: "Name", type: "string", versions: "0+" }],
    },
  ],
};

export const DescribeUserScramCredentialsResponse: MessageSpec = {
  apiKey: 50,
  type: "response",
  name: "DescribeUserScramCredentialsResponse",
  validVersions: "0",
  flexibleVersions: "0+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "0+" },
    { name: "ErrorCode", type: "int16", versions: "0+" },
    { name: "ErrorMessage", type: "string", versions: "0+", nullableVersions: "0+" },
    {
      name: "Results",
      type: "[]DescribeUserScramCredentialsResult",
      versions: "0+",
      fields: [
        { name: "User", type: "string", versions: "0+" },
        { name: "ErrorCode", type: "int16", versions: "0+" },
        { name: "ErrorMessage", type: "string", versions: "0+", nullableVersions: "0+" },
        {
          name: "CredentialInfos",
          type: "[]CredentialInfo",
          versions: "0+",
          fields: [
            { name: "Mechanism", type: "int8", versions: "0+" },
            { name: "Iterations", type: "int32", versions: "0+" },
          ],
        },
      ],
    },
  ],
};
