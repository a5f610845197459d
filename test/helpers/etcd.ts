/**
 * A real etcd for tests: one member on free loopback ports in a temporary data directory, with
 * fast raft timings (heartbeat 10 ms, election 100 ms) so leases of 1 s are allowed. Tests stop,
 * kill (SIGKILL), pause (SIGSTOP) and restart it on the same ports and data to prove that brokers
 * survive it. A thin wrapper over broker/metadata/etcd-launcher.ts (what `samsa cluster up`
 * runs); fails, naming the install command, where etcd is missing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EtcdOptions, EtcdProcess } from "../../broker/metadata/etcd-launcher.js";

import { stablePort } from "./ports.js";

export { freePort } from "../../broker/metadata/etcd-launcher.js";

export class TestEtcd {
  private constructor(private readonly etcd: EtcdProcess) {}

  /**
   * Starts a fresh etcd and waits until /health answers. `placement` puts it elsewhere than on
   * loopback's free ports: a host address, ports and a spawn (a test host, test/helpers/netns.ts).
   */
  static async start(
    placement: Pick<EtcdOptions, "host" | "clientPort" | "peerPort" | "spawn"> = {},
  ): Promise<TestEtcd> {
    const dir = mkdtempSync(join(tmpdir(), "samsa-etcd-"));
    try {
      // On loopback, ports it can be restarted on (test/helpers/ports.ts).
      const ports = placement.host ? {} : { clientPort: await stablePort(), peerPort: await stablePort() };
      const etcd = await EtcdProcess.start({
        ...ports,
        ...placement,
        dataDir: join(dir, "data"),
        heartbeatIntervalMs: 10,
        electionTimeoutMs: 100,
      });
      return new TestEtcd(etcd);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  get dataDir(): string {
    return this.etcd.dataDir;
  }

  get clientPort(): number {
    return this.etcd.clientPort;
  }

  get peerPort(): number {
    return this.etcd.peerPort;
  }

  /** `host:port` of the client listener. */
  get endpoint(): string {
    return this.etcd.endpoint;
  }

  get running(): boolean {
    return this.etcd.running;
  }

  /** Starts etcd (again) on the same ports and data directory; waits until /health answers. */
  restart(): Promise<void> {
    return this.etcd.restart();
  }

  /** Whether /health answers healthy now. */
  healthy(): Promise<boolean> {
    return this.etcd.healthy();
  }

  /** SIGKILL: no clean shutdown. Resolves when the process is gone. */
  kill(): Promise<void> {
    return this.etcd.kill();
  }

  /** SIGTERM: clean shutdown (SIGKILL past the launcher's grace). Resolves when the process is gone. */
  stop(): Promise<void> {
    return this.etcd.stop();
  }

  /** SIGSTOP: etcd keeps its sockets open and answers nothing (a hung or partitioned etcd). */
  pause(): void {
    this.etcd.pause();
  }

  resume(): void {
    this.etcd.resume();
  }

  /** A JSON-gateway request straight to etcd, for tests to set things up behind a store's back. */
  async request(path: string, body: unknown): Promise<Record<string, unknown>> {
    const response = await fetch(`http://${this.endpoint}${path}`, {
      method: "POST",
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    return (await response.json()) as Record<string, unknown>;
  }

  /** Kills etcd and removes its directory. */
  async destroy(): Promise<void> {
    await this.kill();
    rmSync(join(this.dataDir, ".."), { recursive: true, force: true });
  }
}
