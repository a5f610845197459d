/**
 * Request header v0-v2 and response header v0-v1. The request header's ClientId is a classic
 * (non-compact) nullable string even in v2, whose only flexible part is the tagged-field section.
 */
import type { MessageSpec } from "../schema.js";

export const RequestHeader: MessageSpec = {
  apiKey: -1,
  type: "header",
  name: "RequestHeader",
  validVersions: "0-2",
  flexibleVersions: "2+",
  fields: [
    { name: "RequestApiKey", type: "int16", versions: "0+" },
    { name: "RequestApiVersion", type: "int16", versions: "0+" },
    { name: "CorrelationId", type: "int32", versions: "0+" },
    { name: "ClientId", type: "string", versions: "1+", nullableVersions: "1+", flexibleVersions: "none" },
  ],
};

export const ResponseHeader: MessageSpec = {
  apiKey: -1,
  type: "header",
  name: "ResponseHeader",
  validVersions: "0-1",
  flexibleVersions: "1+",
  fields: [{ name: "CorrelationId", type: "int32", versions: "0+" }],
};
