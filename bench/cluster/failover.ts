/**
 * The failover scenario of bench/cluster.ts (issue 13): on a cluster, a paced acks=all producer;
 * kill -9 the leader of partition 0 and time (a) a surviving broker's Metadata naming a new
 * leader, (b) the first acknowledgement of a record sent after the kill (no dead leader can have
 * acknowledged it); the killed broker is restarted and the ISR full again before the next
 * repetition.
 */
import type { LocalCluster } from "../../broker/local-cluster.js";
import { Cluster } from "../../client/cluster.js";
import { Producer } from "../../client/producer.js";
import { round } from "../compare/common.js";
import { SAMSA_PRODUCER } from "../compare/samsa.js";
import { createTopic, load1m, now, progress, RECORD_BYTES, until, waitIsrFull } from "./common.js";

/** The failover producer's rate: steady sends, so records keep being sent across the kill. */
const FAILOVER_RATE = 2000;
/** Sends per tick of the failover producer (a tick every 1000 * SENDS_PER_TICK / FAILOVER_RATE ms). */
const SENDS_PER_TICK = 10;
/** Records the failover producer leaves unacknowledged at most (it skips sends beyond). */
const FAILOVER_MAX_UNACKED = 100_000;
/** How often the failover scenario asks a surviving broker for Metadata: (a)'s resolution. */
const METADATA_POLL_MS = 10;
/**
 * The failover producer's retry backoff (the client's default grows to 2 s, which would measure the
 * client's backoff more than the cluster): 50-100 ms, as Java's retry.backoff.ms of 100.
 */
const FAILOVER_RETRY = { retries: 10_000, initialBackoffMs: 50, maxBackoffMs: 100 };
interface FailoverRep {
  killed_node: number;
  /** Whether the killed broker was also the controller (a controller election too). */
  killed_controller: boolean;
  /** Kill to the first Metadata answer of a surviving broker naming another leader. */
  new_leader_ms: number;
  /** Kill to the first acknowledgement of a record sent after the kill. */
  first_ack_ms: number;
  load_1m: number;
}

export interface FailoverRun {
  session_timeout_ms: number;
  /** Whether that is broker.session.timeout.ms's default. */
  default_session: boolean;
  reps: FailoverRep[];
  new_leader_ms: Spread;
  first_ack_ms: Spread;
  /** Records the paced producer sent and had acknowledged over all repetitions; errors must be 0. */
  acked: number;
  errors: number;
  /** Why the run stopped before `--reps` kills (a wait over WAIT_MAX_MS, a failed send). */
  error?: string;
}

interface Spread {
  min: number;
  median: number;
  max: number;
}

function spread(values: number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return { min: Number.NaN, median: Number.NaN, max: Number.NaN };
  return { min: s[0], median: s[(s.length - 1) >> 1], max: s[s.length - 1] };
}

/** Closing a producer flushes it: bounded, as a stalled partition would hold it for good. */
const CLOSE_MAX_MS = 10_000;

/** A steady acks=all producer: FAILOVER_RATE records/s, noting when each record's ack comes. */
class PacedProducer {
  private readonly producer: Producer;
  private readonly timer: NodeJS.Timeout;
  private inflight = 0;
  acked = 0;
  errors = 0;
  firstError: unknown = null;
  /** Set by `armAfter`: the ack time of the first record sent after `since`. */
  private since = Number.POSITIVE_INFINITY;
  firstAckAfter: number | null = null;

  constructor(bootstrap: string[], topic: string) {
    this.producer = new Producer(
      { brokers: bootstrap, clientId: "bench-failover", retry: FAILOVER_RETRY },
      {
        acks: -1,
        idempotent: true,
        lingerMs: SAMSA_PRODUCER.lingerMs,
        retries: FAILOVER_RETRY.retries,
      },
    );
    const value = Buffer.alloc(RECORD_BYTES, 97);
    this.timer = setInterval(
      () => {
        for (let i = 0; i < SENDS_PER_TICK && this.inflight < FAILOVER_MAX_UNACKED; i++) {
          const sentAt = now();
          this.inflight++;
          this.producer.send({ topic, value }).then(
            () => this.ack(sentAt),
            (err: unknown) => {
              this.inflight--;
              this.errors++;
              this.firstError ??= err;
            },
          );
        }
      },
      (1000 * SENDS_PER_TICK) / FAILOVER_RATE,
    );
  }

  private ack(sentAt: number): void {
    this.inflight--;
    this.acked++;
    if (this.firstAckAfter === null && sentAt > this.since) this.firstAckAfter = now();
  }

  /** From now on, note the first acknowledgement of a record sent after `t`. */
  armAfter(t: number): void {
    this.since = t;
    this.firstAckAfter = null;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_MAX_MS);
    });
    await Promise.race([this.producer.close().catch(() => {}), late]);
    clearTimeout(timer);
  }
}

/** The leader of partition 0 of `topic` and the controller, as `c` sees them now. */
async function leaderOf(c: Cluster, topic: string): Promise<{ leader: number; controller: number } | null> {
  c.invalidate(topic);
  const info = await c.topic(topic).catch(() => null);
  if (!info) return null;
  return { leader: info.partitions[0]?.leader ?? -1, controller: c.controllerId };
}

/** One acks=all record from a new producer, bounded: tells a stalled client from a stalled partition. */
async function freshSend(bootstrap: string[], topic: string): Promise<string> {
  const producer = new Producer({ brokers: bootstrap, clientId: "bench-failover-fresh" }, { acks: -1 });
  const t0 = now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no acknowledgement in ${CLOSE_MAX_MS} ms`), CLOSE_MAX_MS);
  });
  const sent = producer.send({ topic, partition: 0, value: Buffer.alloc(RECORD_BYTES) }).then(
    () => `acknowledged in ${round(now() - t0, 0)} ms`,
    (err: unknown) => `failed: ${err instanceof Error ? err.message : String(err)}`,
  );
  const outcome = await Promise.race([sent, late]);
  clearTimeout(timer);
  void producer.close().catch(() => {});
  return outcome;
}

/** Partition 0 of `topic` as `c` sees it, for an error message. */
async function stateOf(c: Cluster, topic: string): Promise<string> {
  c.invalidate(topic);
  const p = (await c.topic(topic).catch(() => null))?.partitions[0];
  return p
    ? `leader ${p.leader}, epoch ${p.leaderEpoch}, isr ${p.isr.join(",")}, replicas ${p.replicas.join(",")}`
    : "no metadata";
}

async function failoverRep(
  cluster: LocalCluster,
  topic: string,
  producer: PacedProducer,
): Promise<FailoverRep> {
  const bootstrap = cluster.brokers.map((b) => b.kafka);
  await waitIsrFull(bootstrap, topic);
  const view = new Cluster({ brokers: bootstrap, clientId: "bench-failover-view" });
  const before = await leaderOf(view, topic);
  await view.close();
  const victim = cluster.brokers.find((b) => b.nodeId === before?.leader);
  if (!before || !victim) throw new Error(`${topic}: no leader among the brokers`);
  // The survivors' view, connected before the kill.
  const survivors = new Cluster({
    brokers: cluster.brokers.filter((b) => b !== victim).map((b) => b.kafka),
    clientId: "bench-failover-survivors",
  });
  try {
    await leaderOf(survivors, topic);
    const killedAt = now();
    producer.armAfter(killedAt);
    victim.signal("SIGKILL");
    let newLeaderAt = 0;
    await until(
      `${topic}: a new leader after killing broker ${victim.nodeId}`,
      async () => {
        const v = await leaderOf(survivors, topic);
        newLeaderAt = now();
        return v !== null && v.leader >= 0 && v.leader !== victim.nodeId;
      },
      METADATA_POLL_MS,
    );
    await until(
      `${topic}: an acknowledgement after the kill`,
      () => producer.firstAckAfter !== null,
      1,
    ).catch(async (err: unknown) => {
      const v = await stateOf(survivors, topic);
      const fresh = await freshSend(survivors.options.brokers, topic);
      throw new Error(
        `${err instanceof Error ? err.message : String(err)} (killed ${victim.nodeId}; ${v}; a new producer: ${fresh})`,
      );
    });
    const rep: FailoverRep = {
      killed_node: victim.nodeId,
      killed_controller: before.controller === victim.nodeId,
      new_leader_ms: round(newLeaderAt - killedAt, 0),
      first_ack_ms: round((producer.firstAckAfter ?? 0) - killedAt, 0),
      load_1m: load1m(),
    };
    progress(
      `  killed broker ${rep.killed_node}${rep.killed_controller ? " (controller)" : ""}: new leader after ${rep.new_leader_ms} ms, first ack after ${rep.first_ack_ms} ms, load ${rep.load_1m}`,
    );
    await victim.exited;
    progress(`  restarting broker ${victim.nodeId} ...`);
    await cluster.restartBroker(victim.nodeId);
    return rep;
  } finally {
    await survivors.close();
  }
}

export async function runFailover(
  cluster: LocalCluster,
  o: { reps: number; partitions: number },
  sessionMs: number,
  isDefault: boolean,
): Promise<FailoverRun> {
  progress(
    `failover: broker.session.timeout.ms ${sessionMs}${isDefault ? " (default)" : ""}, ${o.reps} kills ...`,
  );
  const topic = `bench-failover-${sessionMs}`;
  const bootstrap = cluster.brokers.map((b) => b.kafka);
  await createTopic(bootstrap, topic, o.partitions, cluster.brokers.length);
  await waitIsrFull(bootstrap, topic);
  const producer = new PacedProducer(bootstrap, topic);
  const reps: FailoverRep[] = [];
  let error: string | undefined;
  try {
    for (let i = 0; i < o.reps; i++) {
      reps.push(await failoverRep(cluster, topic, producer));
      if (producer.errors > 0) throw producer.firstError;
    }
  } catch (err) {
    // Reported with the repetitions done so far: a stall is a finding, not a harness failure.
    error = err instanceof Error ? err.message : String(err);
    progress(`  failed: ${error}`);
    for (const b of cluster.brokers) progress(`  broker ${b.nodeId}'s last lines:\n${b.lastOutput}`);
  }
  // Counted before the close, which fails whatever a stalled partition still holds.
  const { acked, errors } = producer;
  await producer.close();
  return {
    session_timeout_ms: sessionMs,
    default_session: isDefault,
    reps,
    ...(error !== undefined && { error }),
    new_leader_ms: spread(reps.map((r) => r.new_leader_ms)),
    first_ack_ms: spread(reps.map((r) => r.first_ack_ms)),
    acked,
    errors,
  };
}
