/**
 * SaslAuthenticate (key 36), v0-2; flexible from v2.
 *
 * Source: SaslAuthenticateRequest.json / SaslAuthenticateResponse.json in apache/kafka (KIP-152):
 * one SASL token each way per round trip. v1 adds SessionLifetimeMs to the response (KIP-368: the
 * broker tells the client when it must re-authenticate; 0 means never).
 */
import type { MessageSpec } from "../schema.js";

export const SaslAuthenticateRequest: MessageSpec = {
  apiKey: 36,
  type: "request",
  name: "SaslAuthenticateRequest",
  validVersions: "0-2",
  flexibleVersions: "2+",
  fields: [{ name: "AuthBytes", type: "bytes", versions: "0+" }],
};

export const SaslAuthenticateResponse: MessageSpec = {
  apiKey: 36,
  type: "response",
  name: "SaslAuthenticateResponse",
  validVersions: "0-2",
  flexibleVersions: "2+",
  fields: [
    { name: "ErrorCode", type: "int16", versions: "0+" },
    { name: "ErrorMessage", type: "string", versions: "0+", nullableVersions: "0+" },
    { name: "AuthBytes", type: "bytes", versions: "0+" },
    { name: "SessionLifetimeMs", type: "int64", versions: "1+", default: "0" },
  ],
};
