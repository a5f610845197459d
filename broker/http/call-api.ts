/**
 * The HTTP door's way into the Kafka handlers: a request object typed by its API key, run through
 * `Dispatcher.handle` (the same handlers and version checks as the Kafka door, the spec's defaults
 * for fields left out), and the handler's response typed likewise. `L` is the type of int64
 * fields in the response: `Int64` for handlers that answer bigints (OffsetFetch).
 */
import type { Int64 } from "../../protocol/reader.js";
import type { ApiKey, RequestOf, ResponseOf } from "../../protocol/types/index.js";
import type { Dispatcher } from "../dispatch.js";
import type { RequestAuthorization } from "../security/authorize.js";

/** The client id HTTP requests carry into the handlers. */
export const HTTP_CLIENT_ID = "samsa-http";

/** Who an HTTP request is to the handlers: its address and principal, and that principal's ACL checks. */
export interface HttpCaller extends RequestAuthorization {
  clientHost: string;
  principal: string;
}

/** Runs `request` through `apiKey`'s handler as `caller` (listener "http"). */
export async function callApi<K extends ApiKey, L extends Int64 = number>(
  dispatcher: Dispatcher,
  caller: HttpCaller,
  apiKey: K,
  version: number,
  request: RequestOf<K>,
): Promise<ResponseOf<K, L>> {
  const response = await dispatcher.handle(apiKey, version, request, {
    clientHost: caller.clientHost,
    principal: caller.principal,
    listener: "http",
    clientId: HTTP_CLIENT_ID,
  });
  if (response === null) throw new Error(`API ${apiKey} answered nothing`);
  return response as ResponseOf<K, L>;
}
