/**
 * A broker child for the adversarial memory tests (bench/attacks/broker-child.ts): its own data
 * directory under the OS temp directory, the suite's lowered limits, its peak RSS read from
 * /proc, a probe round on a fresh connection, and a restart on the same data directory.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type BrokerChild, lastLines, memoryMb, startBroker } from "../../bench/attacks/broker-child.js";
import { createTopic } from "../../bench/attacks/kafka-ops.js";
import { PROBE_TOPIC, probeRound } from "../../bench/attacks/probe.js";
import { KafkaConn } from "../../bench/attacks/wire.js";
import { knownLimits } from "./limits.js";

export interface Child {
  broker: BrokerChild;
  dir: string;
  dataDir: string;
  /** Connections the test opened; closed by `dispose`. */
  conns: KafkaConn[];
  /** A connection to the first listener, or to `port` (another listener's). */
  connect(port?: number): Promise<KafkaConn>;
  /** VmHWM in MB. */
  peakMb(): number;
  /** One probe round (ApiVersions, produce, fetch) on a new connection; throws if it fails. */
  probe(): Promise<void>;
  /**
   * Stops the broker (SIGTERM) and starts it again on the same data directory, with `settings`
   * (over the start's) when given.
   */
  restart(settings?: Record<string, string | number>): Promise<void>;
  dispose(): Promise<void>;
}

export interface ChildOptions {
  settings?: Record<string, string | number>;
  wrapper?: string[];
}

export async function startChild(o: ChildOptions = {}): Promise<Child> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "samsa-adversarial-"));
  const dataDir = path.join(dir, "data");
  const start = (over: Record<string, string | number> = {}) =>
    startBroker({
      dataDir,
      logFile: path.join(dir, "broker.log"),
      eldFile: path.join(dir, "eld.jsonl"),
      settings: knownLimits({ ...o.settings, ...over }),
      timeoutMs: 30_000,
      wrapper: o.wrapper,
    });
  const child: Child = {
    broker: await start(),
    dir,
    dataDir,
    conns: [],
    async connect(port = child.broker.kafkaPort) {
      const c = await KafkaConn.connect(port);
      child.conns.push(c);
      return c;
    },
    peakMb: () => memoryMb(child.broker.pid)?.hwm_mb ?? Number.NaN,
    async probe() {
      try {
        const c = await child.connect();
        try {
          await probeRound(c, 10_000);
        } finally {
          c.close();
        }
      } catch (err) {
        const log = lastLines(path.join(dir, "broker.log"));
        const state = child.broker.exitStatus() ?? "running";
        throw new Error(`probe: ${(err as Error).message}; broker ${state}; its log ends: ${log}`);
      }
    },
    async restart(settings) {
      for (const c of child.conns) c.close();
      await child.broker.stop(30_000);
      child.broker = await start(settings);
    },
    async dispose() {
      for (const c of child.conns) c.close();
      await child.broker.stop(10_000);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  const c = await child.connect();
  await createTopic(c, PROBE_TOPIC, 1);
  return child;
}
