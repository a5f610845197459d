/**
 * One samsa Producer in a worker thread (the producers scaling run: each producer has its own
 * thread, connection and event loop, as separate applications would). Protocol with the parent:
 * the worker posts {type: "ready"} after its untimed first record, waits for "go", produces, then
 * posts {type: "done", result, histogram} (the latency histogram, HdrHistogram base64), or
 * {type: "error", message}.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { Workload } from "./common.js";
import { Latency } from "./common.js";
import { samsaProduce } from "./samsa.js";

export interface ProducerWorkerData {
  brokers: string[];
  topic: string;
  partitions: number;
  firstPartition: number;
  workload: Workload;
  /** Records per `Producer.sendBatch` call; absent: one `send()` per record. */
  sendBatch?: number;
}

const port = parentPort;
if (!port) throw new Error("producer-worker.js runs as a worker thread");
const data = workerData as ProducerWorkerData;
const lat = new Latency();
samsaProduce(data.brokers, data.topic, data.partitions, data.workload, {
  lat,
  firstPartition: data.firstPartition,
  sendBatch: data.sendBatch,
  ready: () =>
    new Promise<void>((resolve) => {
      port.once("message", () => resolve());
      port.postMessage({ type: "ready" });
    }),
}).then(
  (result) => port.postMessage({ type: "done", result, histogram: lat.encode() }),
  (err: unknown) =>
    port.postMessage({ type: "error", message: err instanceof Error ? err.stack : String(err) }),
);
