/**
 * Ports a test may stop and start a server on again. A port the kernel hands out for `listen(0)`
 * comes from the ephemeral range, the same range every outgoing connection takes its local port
 * from: while a broker or etcd is stopped, any connection made by any test worker may take its port,
 * and the restart fails with EADDRINUSE (it did, in CI). These ports come from outside that range,
 * where no outgoing connection lands, and from a slice of it that only this vitest worker
 * (VITEST_POOL_ID) hands out, so no other test file running at the same time picks them either.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** Slices of the range: more than vitest's workers, so each worker's slot has its own. */
const SLICES = 8;
/** The lowest port handed out: well clear of the well-known and registered services below. */
const LOWEST = 10_000;
/** Linux's default ephemeral range, where /proc cannot be read. */
const DEFAULT_EPHEMERAL: [number, number] = [32768, 60999];

/** The ports outside the kernel's ephemeral range: the larger of the blocks below and above it. */
function stableRange(): [number, number] {
  let [low, high] = DEFAULT_EPHEMERAL;
  try {
    const text = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8");
    const [a, b] = text.trim().split(/\s+/).map(Number);
    if (a && b) [low, high] = [a, b];
  } catch {
    // not Linux: keep the default
  }
  const below: [number, number] = [LOWEST, low - 1];
  const above: [number, number] = [high + 1, 65_535];
  return below[1] - below[0] >= above[1] - above[0] ? below : above;
}

/** This worker's slice of the stable range. */
function workerSlice(): [number, number] {
  const [first, last] = stableRange();
  const size = Math.floor((last - first + 1) / SLICES);
  const slot = Number(process.env.VITEST_POOL_ID ?? process.pid) % SLICES;
  return [first + slot * size, first + (slot + 1) * size - 1];
}

const [sliceFirst, sliceLast] = workerSlice();
/** Where the next search starts: at random, so test files run one after another in a slot spread out. */
let next = sliceFirst + Math.floor(Math.random() * (sliceLast - sliceFirst + 1));
/** Ports this process has handed out: never handed out twice. */
const handedOut = new Set<number>();

function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * A port on `host` that is free now and that a server may be stopped and started on again
 * without another process taking it in between.
 */
export async function stablePort(host = "127.0.0.1"): Promise<number> {
  const size = sliceLast - sliceFirst + 1;
  for (let tried = 0; tried < size; tried++) {
    const port = next;
    next = next === sliceLast ? sliceFirst : next + 1;
    if (handedOut.has(port) || !(await bindable(port, host))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port left in ${sliceFirst}-${sliceLast} on ${host}`);
}
