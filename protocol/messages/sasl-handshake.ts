/**
 * SaslHandshake (key 17), v0-1; never flexible.
 *
 * Source: SaslHandshakeRequest.json / SaslHandshakeResponse.json in apache/kafka. The client names
 * the mechanism it wants; the response lists the mechanisms the broker has enabled. After a v0
 * handshake the SASL tokens follow as raw length-prefixed frames; v1 (KIP-152) means they travel
 * in SaslAuthenticate requests instead. Both versions have the same layout.
 */
import type { MessageSpec } from "../schema.js";

export const SaslHandshakeRequest: MessageSpec = {
  apiKey: 17,
  type: "request",
  name: "SaslHandshakeRequest",
  validVersions: "0-1",
  flexibleVersions: "none",
  fields: [{ name: "Mechanism", type: "string", versions: "0+" }],
};

export const SaslHandshakeResponse: MessageSpec = {
  apiKey: 17,
  type: "response",
  name: "SaslHandshakeResponse",
  validVersions: "0-1",
  flexibleVersions: "none",
  fields: [
    { name: "ErrorCode", type: "int16", versions: "0+" },
    { name: "Mechanisms", type: "[]string", versions: "0+" },
  ],
};
