/**
 * AlterUserScramCredentials (key 51), v0; flexible in every version.
 *
 * Source: AlterUserScramCredentialsRequest.json / AlterUserScramCredentialsResponse.json in
 * apache/kafka (KIP-554). The client never sends a password: it picks the salt and sends
 * SaltedPassword (PBKDF2, RFC 5802's Hi) with the iteration count; the broker derives StoredKey
 * and ServerKey from it (`scramCredentialFromSaltedPassword`, protocol/sasl/scram.ts). One result
 * per user named in Deletions or Upsertions.
 */
import type { MessageSpec } from "../schema.js";

export const AlterUserScramCredentialsRequest: MessageSpec = {
  apiKey: 51,
  type: "request",
  name: "AlterUserScramCredentialsRequest",
  validVersions: "0",
  flexibleVersions: "0+",
  fields: [
    {
      name: "Deletions",
      type: "[]ScramCredentialDeletion",
      versions: "0+",
      fields: [
        { name: "Name", type: "string", versions: "0+" },
        { name: "Mechanism", type: "int8", versions: "0+" },
      ],
    },
    {
      name: "Upsertions",
      type: "[]ScramCredentialUpsertion",
      versions: "0+",
      fields: [
        { name: "Name", type: "string", versions: "0+" },
        { name: "Mechanism", type: "int8", versions: "0+" },
        { name: "Iterations", type: "int32", versions: "0+" },
        { name: "Salt", type: "bytes", versions: "0+" },
        { name: "SaltedPassword", type: "bytes", versions: "0+" },
      ],
    },
  ],
};

export const AlterUserScramCredentialsResponse: MessageSpec = {
  apiKey: 51,
  type: "response",
  name: "AlterUserScramCredentialsResponse",
  validVersions: "0",
  flexibleVersions: "0+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "0+" },
    {
      name: "Results",
      type: "[]AlterUserScramCredentialsResult",
      versions: "0+",
      fields: [
        { name: "User", type: "string", versions: "0+" },
        { name: "ErrorCode", type: "int16", versions: "0+" },
        { name: "ErrorMessage", type: "string", versions: "0+", nullableVersions: "0+" },
      ],
    },
  ],
};
