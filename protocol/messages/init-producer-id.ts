/**
 * InitProducerId (key 22), v0-v6; flexible from v2.
 *
 * Source: InitProducerIdRequest.json / InitProducerIdResponse.json in apache/kafka (v3 adds the
 * producer id and epoch to the request); v6 (two-phase commit, KIP-939) from a 4.x copy of the
 * response spec and Aiven-Open/kio's classes generated from the 4.x specs. Kafka 4.3 still marks
 * v6 as an unstable latest version and does not serve it by default: describing it here does not
 * mean the broker should advertise it.
 */
import type { MessageSpec } from "../schema.js";

export const InitProducerIdRequest: MessageSpec = {
  apiKey: 22,
  type: "request",
  name: "InitProducerIdRequest",
  validVersions: "0-6",
  flexibleVersions: "2+",
  fields: [
    { name: "TransactionalId", type: "string", versions: "0+", nullableVersions: "0+" },
    { name: "TransactionTimeoutMs", type: "int32", versions: "0+" },
    { name: "ProducerId", type: "int64", versions: "3+", default: "-1" },
    { name: "ProducerEpoch", type: "int16", versions: "3+", default: "-1" },
    { name: "Enable2Pc", type: "bool", versions: "6+", default: "false" },
    { name: "KeepPreparedTxn", type: "bool", versions: "6+", default: "false" },
  ],
};

export const InitProducerIdResponse: MessageSpec = {
  apiKey: 22,
  type: "response",
  name: "InitProducerIdResponse",
  validVersions: "0-6",
  flexibleVersions: "2+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "0+" },
    { name: "ErrorCode", type: "int16", versions: "0+" },
    { name: "ProducerId", type: "int64", versions: "0+", default: "-1" },
    { name: "ProducerEpoch", type: "int16", versions: "0+" },
    { name: "OngoingTxnProducerId", type: "int64", versions: "6+", default: "-1" },
    { name: "OngoingTxnProducerEpoch", type: "int16", versions: "6+", default: "-1" },
  ],
};
