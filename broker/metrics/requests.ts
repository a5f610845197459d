/**
 * Per Kafka API: requests (by listener), errors (by Kafka error name) and latency, recorded by the
 * dispatcher (broker/dispatch.ts) for every request whatever its door. The `api` label is the
 * handler's name (a bounded set, looked up by API key in an array); an API's latency slot and a
 * listener's request slot are resolved on their first request, an error's on its first occurrence. Errors
 * are counted as Kafka counts them (ErrorsPerSec): each non-zero error code in the response, at
 * the top level and in its topics and partitions, so a Produce refused for three partitions counts
 * three; NONE is not counted. No client id label: its values are unbounded.
 */

import type { Registry } from "prom-client";
import type { Message } from "../../protocol/codec.js";
import { type ErrorName, errorCode, errorName } from "../../protocol/errors.js";
import { type CounterSlot, type HistogramSlot, SlotCounter, SlotHistogram } from "./slots.js";

/** Request latency buckets (seconds): 0.5 ms to 10 s; a Fetch long poll waits up to its max.wait.ms. */
export const REQUEST_LATENCY_BUCKETS_S = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
/** How deep the error walk goes: response -> topics -> partitions. */
const ERROR_WALK_DEPTH = 3;

interface ApiSlots {
  name: string;
  /** Made on the API's first request: an API nobody calls prints no 16 empty buckets. */
  latency: HistogramSlot | null;
  /** By listener name. */
  requests: Map<string, CounterSlot>;
  /** By wire error code. */
  errors: Map<number, CounterSlot>;
}

export class RequestMetrics {
  private readonly requests: SlotCounter;
  private readonly errors: SlotCounter;
  private readonly latency: SlotHistogram;
  /** Indexed by API key. */
  private readonly apis: (ApiSlots | undefined)[] = [];

  constructor(registry: Registry, apis: readonly { apiKey: number; name: string }[]) {
    this.requests = new SlotCounter(
      registry,
      "samsa_kafka_requests_total",
      "Kafka requests by API and listener",
      ["api", "listener"],
    );
    this.errors = new SlotCounter(
      registry,
      "samsa_kafka_request_errors_total",
      "Error codes in Kafka responses (top level, topics and partitions) by API and Kafka error name",
      ["api", "error"],
    );
    this.latency = new SlotHistogram(
      registry,
      "samsa_kafka_request_latency_seconds",
      "Kafka request latency, from the decoded header to the encoded response, by API",
      ["api"],
      REQUEST_LATENCY_BUCKETS_S,
    );
    for (const { apiKey, name } of apis) {
      this.apis[apiKey] = {
        name,
        latency: null,
        requests: new Map(),
        errors: new Map(),
      };
    }
  }

  /** One request of `apiKey` on `listener` took `seconds`. Unknown keys are not counted. */
  completed(apiKey: number, listener: string, seconds: number): void {
    const api = this.apis[apiKey];
    if (!api) return;
    let slot = api.requests.get(listener);
    if (!slot) {
      slot = this.requests.slot({ api: api.name, listener });
      api.requests.set(listener, slot);
    }
    slot.value++;
    api.latency ??= this.latency.slot({ api: api.name });
    api.latency.observe(seconds);
  }

  /** The request failed as a whole with `code` (a handler's throw, an undecodable body). */
  failed(apiKey: number, code: ErrorName): void {
    this.countError(apiKey, errorCode(code));
  }

  /** Counts the non-zero error codes of `response` (top level, topics, partitions). */
  responded(apiKey: number, response: Message): void {
    const api = this.apis[apiKey];
    if (api) this.walk(api, apiKey, response, ERROR_WALK_DEPTH);
  }

  private walk(api: ApiSlots, apiKey: number, message: Message, depth: number): void {
    const code = message.errorCode;
    if (typeof code === "number" && code !== 0) this.countError(apiKey, code);
    if (depth <= 1) return;
    for (const key in message) {
      const value = message[key];
      if (!Array.isArray(value)) continue;
      for (const item of value) {
        if (item !== null && typeof item === "object" && !Buffer.isBuffer(item))
          this.walk(api, apiKey, item, depth - 1);
      }
    }
  }

  private countError(apiKey: number, code: number): void {
    const api = this.apis[apiKey];
    if (!api) return;
    let slot = api.errors.get(code);
    if (!slot) {
      slot = this.errors.slot({ api: api.name, error: errorName(code) });
      api.errors.set(code, slot);
    }
    slot.value++;
  }
}
