/**
 * What every API handler sees. A handler takes a decoded request and a context and returns a
 * response object (or null for a request that gets no response, such as acks=0 produce).
 * Transports (TCP, WebSocket) only frame bytes and call `handle`.
 */
import type { Message } from "../../protocol/codec.js";
import type { Broker } from "../broker.js";

export interface RequestContext {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** The authenticated principal; "User:ANONYMOUS" until authentication exists. */
  principal: string;
  /** Which door the request came through: "kafka" (TCP), "ws" or "http". */
  listener: string;
  /** The peer address, for logs and group member hosts. */
  clientHost: string;
  /**
   * Tells the connection that this request's effects hold their place, so its next request may
   * start. Handlers that never call it are admitted when they complete: a connection's requests
   * take effect in the order it sent them, as on Kafka.
   */
  admit: () => void;
}

export interface ApiHandler {
  apiKey: number;
  name: string;
  /** The versions advertised in ApiVersions and accepted. */
  minVersion: number;
  maxVersion: number;
  /**
   * Whether the handler takes int64 fields beyond +-(2^53 - 1), which the codec decodes as exact
   * bigints (protocol/reader.ts). A request holding one for any other handler is refused
   * (INVALID_REQUEST) before it runs, since a handler working in numbers would change the value.
   */
  wideInt64?: boolean;
  handle(broker: Broker, request: Message, ctx: RequestContext): Promise<Message | null>;
}
