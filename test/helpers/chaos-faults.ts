/**
 * Applies a fault schedule (chaos-schedule.ts) to a ProcessCluster while a ChaosRun's workload
 * writes: for each fault, wait for its `afterAcks`, find its target (the leader of a partition
 * now, the controller now, ...), inject it, wait for the failover it forces and for `holdAcks`
 * acknowledged writes under it (progress: "nothing acked" cannot pass), then heal it (restart,
 * SIGCONT, rejoin) and wait until every partition is fully in sync again. Shutdowns leave their
 * broker down until `restoreAll`, which also undoes whatever a failed scenario left in place.
 */
import { Cluster } from "../../client/cluster.js";
import { CHAOS_WAIT_MS, type ChaosRun, waitForFullIsr } from "./chaos-run.js";
import { describeTarget, type Fault, type FaultTarget, type Schedule } from "./chaos-schedule.js";
import type { EtcdCluster } from "./etcd-cluster.js";
import { brokerHost, ETCD_HOST } from "./net-cluster.js";
import type { TestNetwork } from "./netns.js";
import type { ProcessCluster } from "./process-cluster.js";
import { waitFor } from "./wait.js";

export interface ChaosEnv {
  cluster: ProcessCluster;
  topic: string;
  partitions: number;
  /** For `isolate` and `etcd_cut`: the cluster's test hosts (net-cluster.ts). */
  network?: TestNetwork;
  /** For `etcd_member_bounce`. */
  etcd?: EtcdCluster;
}

export class FaultDriver {
  /** Running brokers that answer nothing now (paused) or cannot reach the others (isolated). */
  private readonly impaired = new Set<number>();
  /** Brokers stopped by a shutdown, started again by restoreAll. */
  private readonly down = new Set<number>();
  private readonly paused = new Set<number>();

  constructor(
    readonly env: ChaosEnv,
    private readonly run: ChaosRun,
    /** Awaited while each fault holds, before its progress is counted. */
    private readonly whileHeld: (fault: Fault, run: ChaosRun) => Promise<void> = async () => {},
  ) {}

  /** Brokers that can answer for the cluster now. */
  askIds(): number[] {
    return this.env.cluster.running().filter((id) => !this.impaired.has(id));
  }

  /** Every fault of `schedule` in turn. */
  async apply(schedule: Schedule): Promise<void> {
    for (const [i, fault] of schedule.faults.entries()) {
      if (this.down.size === 0) await this.inSync();
      await this.run.progress(fault.afterAcks, `before fault ${i + 1}`);
      await this.inject(fault, i + 1);
    }
  }

  /** Waits until every partition of the topic has a leader and its full ISR. */
  async inSync(): Promise<void> {
    await waitForFullIsr(this.env.cluster, this.env.topic, this.env.partitions, this.askIds());
  }

  /** The broker `target` names now. */
  async resolve(target: FaultTarget): Promise<number> {
    const { cluster, topic } = this.env;
    switch (target.role) {
      case "leader":
        return (await this.leaderOf(target.partition, () => true)).leader;
      case "follower": {
        const info = await this.leaderOf(target.partition, () => true);
        const followers = info.isr.filter((id) => id !== info.leader).sort();
        if (followers.length === 0) throw new Error(`${topic}-${target.partition} has no follower in sync`);
        return followers[0];
      }
      case "controller":
        return this.controller(() => true);
      case "broker":
        if (!cluster.running().includes(target.nodeId))
          throw new Error(`broker ${target.nodeId} is not running`);
        return target.nodeId;
      default:
        throw new Error(`${describeTarget(target)} is not a broker`);
    }
  }

  /** Injects `fault`, waits out its failover and its progress, and heals it (but shutdowns). */
  async inject(fault: Fault, step: number): Promise<void> {
    const what = `fault ${step}: ${fault.kind} of ${describeTarget(fault.target)}`;
    switch (fault.kind) {
      case "etcd_member_bounce":
        return this.etcdMemberBounce(fault, what);
      case "etcd_cut":
        return this.etcdCut(fault, what);
      default:
        return this.brokerFault(fault, what, await this.resolve(fault.target));
    }
  }

  private async brokerFault(fault: Fault, what: string, id: number): Promise<void> {
    const { cluster } = this.env;
    this.run.note(`${what} = broker ${id}`);
    const partition = fault.target.role === "leader" ? fault.target.partition : undefined;
    switch (fault.kind) {
      case "clean_shutdown":
      case "clean_bounce":
        await cluster.stopNode(id);
        break;
      case "hard_shutdown":
      case "hard_bounce":
        await cluster.kill(id);
        break;
      case "pause":
      case "slow_follower":
        this.pause(id);
        break;
      case "isolate":
        await this.network().isolate(brokerHost(id));
        this.impaired.add(id);
        break;
      default:
        throw new Error(`${fault.kind} is not a broker fault`);
    }
    if (fault.kind === "slow_follower") await this.outOfSync(id);
    else await this.failover(fault.target, id);
    await this.whileHeld(fault, this.run);
    await this.run.progress(fault.holdAcks, `${what} held`, partition);
    if (fault.kind === "clean_shutdown" || fault.kind === "hard_shutdown") {
      this.down.add(id);
      return;
    }
    await this.heal(fault, id);
    await this.inSync();
    this.run.note(`${what} healed, every partition in sync`);
  }

  private async heal(fault: Fault, id: number): Promise<void> {
    if (fault.kind === "clean_bounce" || fault.kind === "hard_bounce") await this.env.cluster.startNode(id);
    if (fault.kind === "pause" || fault.kind === "slow_follower") this.resume(id);
    if (fault.kind === "isolate") {
      await this.network().rejoin(brokerHost(id));
      this.impaired.delete(id);
    }
  }

  /** Waits until broker `id` leads no partition of the topic (and, if targeted, is not the controller). */
  private async failover(target: FaultTarget, id: number): Promise<void> {
    for (let p = 0; p < this.env.partitions; p++) await this.leaderOf(p, (leader) => leader !== id);
    if (target.role === "controller") await this.controller((c) => c !== id);
    this.run.note(`failover from broker ${id} seen`);
  }

  /** Waits until broker `id` is out of every partition's ISR (the leaders shrank it away). */
  private async outOfSync(id: number): Promise<void> {
    const { cluster, topic, partitions } = this.env;
    for (let p = 0; p < partitions; p++) {
      await waitFor(
        async () => {
          const info = await cluster.partition(topic, p, this.askIds());
          return info !== undefined && !info.isr.includes(id);
        },
        `broker ${id} out of the ISR of ${topic}-${p}`,
        CHAOS_WAIT_MS,
      );
    }
    this.run.note(`broker ${id} out of every ISR`);
  }

  private pause(id: number): void {
    const pid = this.env.cluster.pid(id);
    if (pid === undefined) throw new Error(`broker ${id} has no process`);
    process.kill(pid, "SIGSTOP");
    this.paused.add(id);
    this.impaired.add(id);
  }

  private resume(id: number): void {
    const pid = this.env.cluster.pid(id);
    if (pid !== undefined) process.kill(pid, "SIGCONT");
    this.paused.delete(id);
    this.impaired.delete(id);
  }

  /** etcd member killed, progress with the other two, restarted. */
  private async etcdMemberBounce(fault: Fault, what: string): Promise<void> {
    const etcd = this.env.etcd;
    if (!etcd || fault.target.role !== "etcd") throw new Error(`${what} needs a multi-member etcd`);
    await etcd.kill(fault.target.member);
    this.run.note(`${what}: killed`);
    await this.whileHeld(fault, this.run);
    await this.run.progress(fault.holdAcks, `${what} held`);
    await etcd.restart(fault.target.member);
    this.run.note(`${what}: restarted`);
  }

  /** Every broker's link to etcd cut, progress meanwhile, healed. */
  private async etcdCut(fault: Fault, what: string): Promise<void> {
    const network = this.network();
    const brokers = [...this.env.cluster.nodes.keys()];
    for (const id of brokers) await network.cut(brokerHost(id), ETCD_HOST);
    this.run.note(`${what}: cut`);
    await this.whileHeld(fault, this.run);
    this.run.note(`${what}: held`);
    await this.run.progress(fault.holdAcks, `${what} held`);
    for (const id of brokers) await network.heal(brokerHost(id), ETCD_HOST);
    await this.inSync();
    this.run.note(`${what}: healed, every partition in sync`);
  }

  /** Partition `p` as a broker that can answer tells it, once its leader passes `accept`. */
  async leaderOf(p: number, accept: (leader: number) => boolean) {
    const { cluster, topic } = this.env;
    let found: Awaited<ReturnType<ProcessCluster["partition"]>>;
    await waitFor(
      async () => {
        found = await cluster.partition(topic, p, this.askIds());
        return found !== undefined && found.leader >= 0 && accept(found.leader);
      },
      `a leader of ${topic}-${p}`,
      CHAOS_WAIT_MS,
    );
    if (!found) throw new Error("unreachable");
    return found;
  }

  /** The controller as a broker that can answer names it, once it passes `accept`. */
  async controller(accept: (id: number) => boolean): Promise<number> {
    let id = -1;
    await waitFor(
      async () => {
        const metadata = new Cluster({ brokers: this.askIds().map((b) => this.env.cluster.endpoint(b)) });
        try {
          await metadata.refresh([]);
          id = metadata.controllerId;
        } catch {
          id = -1;
        } finally {
          await metadata.close();
        }
        return id >= 0 && accept(id);
      },
      "a controller",
      CHAOS_WAIT_MS,
    );
    return id;
  }

  private network(): TestNetwork {
    if (!this.env.network) throw new Error("this fault needs test hosts (startNetCluster)");
    return this.env.network;
  }

  /** Undoes every fault still in place: resumes, rejoins, restarts; then waits until all is in sync. */
  async restoreAll(): Promise<void> {
    for (const id of [...this.paused]) this.resume(id);
    if (this.env.network)
      for (const host of this.env.network.hostNames()) await this.env.network.rejoin(host);
    this.impaired.clear();
    for (const name of this.env.etcd?.names() ?? []) {
      if (!this.env.etcd?.running(name)) await this.env.etcd?.restart(name);
    }
    for (const id of this.env.cluster.nodes.keys()) {
      if (!this.env.cluster.running().includes(id)) await this.env.cluster.startNode(id);
    }
    this.down.clear();
    await this.inSync();
  }
}
