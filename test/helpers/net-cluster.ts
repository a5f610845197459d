/**
 * A ProcessCluster on test hosts (test/helpers/netns.ts): etcd on host `etcd`, broker N on host
 * `bN`, each listening on and advertising its host's address, so a test can cut links between
 * brokers, and between brokers and etcd, while the test process still reaches every host
 * through the bridge. The ports are fixed: each host is a namespace this network just made, in
 * which nothing else listens (docs/decisions/0032-test-network.md).
 */

import { TestEtcd } from "./etcd.js";
import { TestNetwork } from "./netns.js";
import { ProcessCluster } from "./process-cluster.js";

export const ETCD_HOST = "etcd";
/** Ports inside each host's own namespace: etcd's and Kafka's usual ones. */
const ETCD_CLIENT_PORT = 2379;
const ETCD_PEER_PORT = 2380;
const KAFKA_PORT = 9092;
const HTTP_PORT = 8082;

/** The host of broker `nodeId`. */
export function brokerHost(nodeId: number): string {
  return `b${nodeId}`;
}

export interface NetCluster {
  cluster: ProcessCluster;
  network: TestNetwork;
}

/**
 * A network of `n + 1` hosts, etcd on one and brokers 1..n on the others, all started. Closing
 * the cluster destroys the network; a failed start leaves nothing behind.
 */
export async function startNetCluster(n: number, flags: Record<string, unknown> = {}): Promise<NetCluster> {
  const brokers = Array.from({ length: n }, (_, i) => brokerHost(i + 1));
  const network = await TestNetwork.create([ETCD_HOST, ...brokers]);
  const cluster = await ProcessCluster.start(n, flags, {
    startEtcd: () =>
      TestEtcd.start({
        host: network.address(ETCD_HOST),
        clientPort: ETCD_CLIENT_PORT,
        peerPort: ETCD_PEER_PORT,
        spawn: (command, args, options) => network.spawn(ETCD_HOST, command, args, options),
      }),
    brokerEndpoint: async (nodeId) => ({
      host: network.address(brokerHost(nodeId)),
      kafkaPort: KAFKA_PORT,
      httpPort: HTTP_PORT,
    }),
    spawnBroker: (nodeId, command, args, options) =>
      network.spawn(brokerHost(nodeId), command, args, options),
    close: () => network.destroy(),
  });
  return { cluster, network };
}
