/**
 * ApiVersions (key 18), v0-v4.
 * Validation order: (the dispatcher answers a version outside v0-v4 with the v0 error reply);
 * v3+ client software name and version must be non-empty strings of [a-zA-Z0-9._-] when given,
 * else INVALID_REQUEST. The answer lists exactly the handlers this broker registered.
 */
import { errorCode } from "../../protocol/errors.js";
import type { ApiVersionsRequestData, ApiVersionsResponseData } from "../../protocol/types/api-versions.js";
import type { ApiHandler } from "./types.js";

const SOFTWARE = /^[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?$/;

export const apiVersions: ApiHandler<ApiVersionsRequestData, ApiVersionsResponseData> = {
  apiKey: 18,
  name: "ApiVersions",
  minVersion: 0,
  maxVersion: 4,
  async handle(broker, request, ctx) {
    const apiKeys = broker.dispatcher.advertised();
    if (ctx.apiVersion >= 3) {
      const name = request.clientSoftwareName ?? "";
      const version = request.clientSoftwareVersion ?? "";
      // Clients that send nothing are fine; a malformed name is refused as Kafka does.
      if ((name && !SOFTWARE.test(name)) || (version && !SOFTWARE.test(version))) {
        return { errorCode: errorCode("INVALID_REQUEST"), apiKeys, throttleTimeMs: 0 };
      }
    }
    return { errorCode: 0, apiKeys, throttleTimeMs: 0 };
  },
};
