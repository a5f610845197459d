/**
 * The probe: another client, on its own connection, asking the broker under attack every
 * PROBE_INTERVAL_MS for ApiVersions, a one-record produce (acks=1) and a fetch of that record.
 * A round's latency is from its first request to the fetch's answer; a round that fails or takes
 * longer than PROBE_TIMEOUT_MS counts as failed, and the next round opens a new connection.
 */
import { encodeRecordBatch } from "../../protocol/record-batch.js";
import { KafkaConn } from "./wire.js";

export const PROBE_INTERVAL_MS = 100;
export const PROBE_TIMEOUT_MS = 5000;
export const PROBE_TOPIC = "attack-probe";

export interface ProbeStats {
  rounds: number;
  failed: number;
  p50_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
  /** The first failure's message, if any. */
  first_error: string | null;
}

export function produceBody(topic: string, records: Buffer, partition = 0, acks = 1) {
  return {
    transactionalId: null,
    acks,
    timeoutMs: 30_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  };
}

export function fetchBody(topic: string, offset: number, maxBytes = 1 << 20, partition = 0) {
  return {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        partitions: [
          {
            partition,
            currentLeaderEpoch: -1,
            fetchOffset: offset,
            logStartOffset: -1,
            partitionMaxBytes: maxBytes,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: "",
  };
}

/** One probe round on `conn`: throws on any error code or missing answer. */
export async function probeRound(conn: KafkaConn, timeoutMs = PROBE_TIMEOUT_MS): Promise<void> {
  const versions = await conn.request(
    18,
    3,
    { clientSoftwareName: "probe", clientSoftwareVersion: "1" },
    timeoutMs,
  );
  if (versions.body.errorCode !== 0) throw new Error(`ApiVersions error ${versions.body.errorCode}`);
  const batch = encodeRecordBatch([{ value: Buffer.from(`probe-${Date.now()}`) }]);
  const produced = await conn.request(0, 9, produceBody(PROBE_TOPIC, batch), timeoutMs);
  const p = produced.body.responses[0].partitionResponses[0];
  if (p.errorCode !== 0) throw new Error(`probe produce error ${p.errorCode}`);
  const fetched = await conn.request(1, 12, fetchBody(PROBE_TOPIC, p.baseOffset), timeoutMs);
  const f = fetched.body.responses[0].partitions[0];
  if (f.errorCode !== 0) throw new Error(`probe fetch error ${f.errorCode}`);
  if (!f.records || f.records.length === 0)
    throw new Error(`probe fetch at ${p.baseOffset} returned nothing`);
}

export class Probe {
  private conn: KafkaConn | null = null;
  private readonly latencies: number[] = [];
  private failed = 0;
  private firstError: string | null = null;
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(private readonly port: number) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<ProbeStats> {
    this.running = false;
    await this.loop;
    this.conn?.close();
    return this.stats();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const started = performance.now();
      try {
        this.conn ??= await KafkaConn.connect(this.port, PROBE_TIMEOUT_MS);
        await probeRound(this.conn);
        this.latencies.push(performance.now() - started);
      } catch (err) {
        this.failed++;
        this.firstError ??= err instanceof Error ? err.message : String(err);
        this.conn?.close();
        this.conn = null;
      }
      const wait = PROBE_INTERVAL_MS - (performance.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }

  stats(): ProbeStats {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const at = (q: number) =>
      sorted.length === 0
        ? null
        : Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 10) / 10;
    return {
      rounds: sorted.length + this.failed,
      failed: this.failed,
      p50_ms: at(0.5),
      p99_ms: at(0.99),
      max_ms: sorted.length === 0 ? null : Math.round(sorted[sorted.length - 1] * 10) / 10,
      first_error: this.firstError,
    };
  }
}
