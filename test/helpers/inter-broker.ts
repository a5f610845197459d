/**
 * Marks a test broker's Kafka connections inter-broker (RequestContext.interBroker), as a
 * cluster's listener policy will: replica Fetch and OffsetForLeaderEpoch are refused to anyone
 * else. Only requests whose client id `accept` takes are marked (default: all).
 */
import type { Broker } from "../../broker/broker.js";

/** The client id of a request frame (after the length prefix), or null. */
function clientIdOf(frame: Buffer): string | null {
  const at = 8;
  if (frame.length < at + 2) return null;
  const length = frame.readInt16BE(at);
  if (length < 0 || frame.length < at + 2 + length) return null;
  return frame.toString("utf8", at + 2, at + 2 + length);
}

/** Returns the function that undoes it. */
export function trustInterBroker(
  broker: Broker,
  accept: (clientId: string | null) => boolean = () => true,
): () => void {
  const dispatcher = broker.dispatcher;
  const original = dispatcher.dispatch;
  dispatcher.dispatch = (frame, conn) =>
    original.call(dispatcher, frame, accept(clientIdOf(frame)) ? { ...conn, interBroker: true } : conn);
  return () => {
    dispatcher.dispatch = original;
  };
}
