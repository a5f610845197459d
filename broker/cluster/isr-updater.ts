/**
 * The leader side of ISR changes, as Kafka's `Partition.maybeShrinkIsr` / `maybeExpandIsr` with
 * its AlterPartition manager: every `checkIntervalMs` (Kafka: half of replica.lag.time.max.ms),
 * and at once when a follower's fetch may have caught it up (`poke`), each partition this broker
 * leads is asked what ISR it needs (`Partition.isrChangesNeeded`); a change becomes a proposal
 * (`proposeIsr`, one in flight per partition) sent to the controller in one AlterPartition per
 * round. The controller's answer ends it (`isrProposalCommitted`); a refusal ends or keeps it as
 * `isrProposalFailed` says, and an unknown outcome (no controller, a timeout, a broken link) is
 * sent again after `retryMs` with the same proposal (decision 0027).
 */
import type { Logger } from "pino";
import type { IsrChangeRequest, PartitionResult } from "../controller/controller.js";
import type { IsrProposal, Partition } from "../partition.js";
import type { ControllerChannel } from "./controller-channel.js";

export interface IsrUpdaterOptions {
  nodeId: number;
  /** replica.lag.time.max.ms */
  lagTimeMaxMs: number;
  /** How often every led partition is checked (default: half of lagTimeMaxMs, as Kafka). */
  checkIntervalMs?: number;
  /** Wait before sending again a proposal whose outcome is unknown. */
  retryMs: number;
  /** This broker's registration epoch now (AlterPartition's BrokerEpoch; -1 unknown). */
  brokerEpoch: () => number;
  /** Whether this broker's registration is live: no proposal is sent while it is not. */
  registered?: () => boolean;
  /**
   * Whether broker `brokerId`, whose fetches named `brokerEpoch` (-1 unknown), may join an ISR
   * now: registered under that epoch and not shutting down, as the controller will check (Kafka's
   * isReplicaIsrEligible, KIP-841 and KIP-903). Without it a follower that stopped while caught
   * up is proposed again and again, and each proposal in flight holds the high watermark at its
   * log end (the maximal ISR). Default: every caught-up follower may.
   */
  isrEligible?: (brokerId: number, brokerEpoch: number) => boolean;
  logger?: Logger;
}

interface InFlight {
  partition: Partition;
  proposal: IsrProposal;
}

export class IsrUpdater {
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private pokeScheduled = false;
  private running = false;
  /** Proposals whose outcome is unknown, sent again on the next retry. */
  private readonly retries = new Map<Partition, IsrProposal>();
  /** AlterPartition calls not answered yet (stop waits for them). */
  private readonly sending = new Set<Promise<void>>();

  constructor(
    private readonly partitions: () => Iterable<Partition>,
    private readonly channel: ControllerChannel,
    private readonly options: IsrUpdaterOptions,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    const interval = this.options.checkIntervalMs ?? Math.max(1, Math.floor(this.options.lagTimeMaxMs / 2));
    this.timer = setInterval(() => this.checkAll(), interval);
    this.timer.unref();
  }

  /** Stops checking; resolves once the calls in flight are answered (or fail). */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    this.retries.clear();
    await Promise.allSettled([...this.sending]);
  }

  private isRegistered(): boolean {
    return (this.options.registered?.() ?? true) && this.options.brokerEpoch() >= 0;
  }

  /** A follower fetched: check soon (in this turn's wake) whether an ISR may grow. */
  poke(): void {
    if (!this.running || this.pokeScheduled) return;
    this.pokeScheduled = true;
    setImmediate(() => {
      this.pokeScheduled = false;
      this.checkAll();
    });
  }

  /** Proposes the ISR changes every led partition needs, in one AlterPartition. */
  checkAll(nowMs = Date.now()): void {
    // Unregistered (starting, or the registration lost): no proposal until registered again, so
    // that none reaches the controller without the broker epoch it checks.
    if (!this.running || !this.isRegistered()) return;
    const proposals: InFlight[] = [];
    for (const partition of this.partitions()) {
      const proposal = this.propose(partition, nowMs);
      if (proposal) proposals.push({ partition, proposal });
    }
    this.send(proposals);
  }

  private propose(partition: Partition, nowMs: number): IsrProposal | null {
    if (partition.role !== "leader" || partition.isrProposal) return null;
    const { shrink, expand: caughtUp } = partition.isrChangesNeeded(nowMs, this.options.lagTimeMaxMs);
    const eligible = this.options.isrEligible;
    const expand = eligible
      ? caughtUp.filter((id) => eligible(id, partition.followerState(id)?.brokerEpoch ?? -1))
      : caughtUp;
    if (shrink.length === 0 && expand.length === 0) return null;
    const out = new Set(shrink);
    const newIsr = [...partition.isr.filter((id) => !out.has(id)), ...expand];
    try {
      const proposal = partition.proposeIsr(newIsr, this.options.brokerEpoch());
      this.options.logger?.info(
        { topic: partition.topic, partition: partition.index, isr: partition.isr, newIsr, shrink, expand },
        "proposing an ISR change",
      );
      return proposal;
    } catch (err) {
      this.options.logger?.warn(
        { err, topic: partition.topic, partition: partition.index },
        "ISR proposal refused",
      );
      return null;
    }
  }

  private send(proposals: InFlight[]): void {
    if (proposals.length === 0) return;
    const requests: IsrChangeRequest[] = proposals.map(({ partition, proposal }) => ({
      topic: partition.topic,
      partition: partition.index,
      brokerId: this.options.nodeId,
      brokerEpoch: this.options.brokerEpoch(),
      leaderEpoch: proposal.leaderEpoch,
      partitionEpoch: proposal.partitionEpoch,
      newIsrWithEpochs: proposal.newIsrWithEpochs,
    }));
    const call = this.channel
      .alterPartition(requests)
      .then(
        (results) => this.answered(proposals, results),
        (err) => {
          for (const p of proposals) this.failed(p, err);
        },
      )
      .finally(() => this.sending.delete(call));
    this.sending.add(call);
  }

  private answered(proposals: InFlight[], results: PartitionResult[]): void {
    for (const p of proposals) {
      const result = results.find((r) => r.topic === p.partition.topic && r.partition === p.partition.index);
      if (!result) this.failed(p, new Error("the controller did not answer this partition"));
      else if (result.error) this.failed(p, result.error);
      else if (result.state) {
        const { leaderEpoch, partitionEpoch, isr } = result.state;
        p.partition.isrProposalCommitted(p.proposal, { leaderEpoch, partitionEpoch, isr });
      }
    }
  }

  private failed({ partition, proposal }: InFlight, err: unknown): void {
    const outcome = partition.isrProposalFailed(proposal, err);
    this.options.logger?.info(
      { err, topic: partition.topic, partition: partition.index, outcome },
      "ISR change not committed",
    );
    if (outcome !== "retry" || !this.running) return;
    this.retries.set(partition, proposal);
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => this.retry(), this.options.retryMs);
    this.retryTimer.unref();
  }

  private retry(): void {
    this.retryTimer = undefined;
    if (!this.running) return;
    if (!this.isRegistered()) {
      this.retryTimer = setTimeout(() => this.retry(), this.options.retryMs);
      this.retryTimer.unref();
      return;
    }
    const due = [...this.retries].map(([partition, proposal]) => ({ partition, proposal }));
    this.retries.clear();
    this.send(due.filter(({ partition, proposal }) => partition.isrProposal === proposal));
  }
}
