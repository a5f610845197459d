/**
 * Ports a test may stop and start a server on again. A port the kernel hands out for `listen(0)`
 * comes from the ephemeral range, the same range every outgoing connection takes its local port
 * from: while a broker or etcd is stopped, any connection made by any test worker may take its port,
 * and the restart fails with EADDRINUSE (it did, in CI). These ports come from outside that range,
 * where no outgoing connection lands, and each is claimed by a file in the system's temporary
 * directory naming this process, so no other test process on the machine (another worker, another
 * `npm test`) hands it out while this one lives, even while nothing listens on it.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pidExists } from "../../storage/dir-lock.js";

/** The lowest port handed out: well clear of the well-known and registered services below. */
const LOWEST = 10_000;
/** Linux's default ephemeral range, where /proc cannot be read. */
const DEFAULT_EPHEMERAL: [number, number] = [32768, 60999];
/** Where the claims are: one file a port, holding the claiming process's pid. */
const CLAIMS = path.join(tmpdir(), "samsa-test-ports");

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

const [first, last] = stableRange();
/** Where the next search starts: at random, so that processes seldom try the same ports. */
let next = first + Math.floor(Math.random() * (last - first + 1));
/** The claims this process holds, removed when it exits. */
const claimed = new Set<number>();
process.once("exit", () => {
  for (const port of claimed) rmSync(path.join(CLAIMS, String(port)), { force: true });
});

/** Claims `port` for this process: false where a live process holds it (a dead one's is taken over). */
function claim(port: number): boolean {
  const file = path.join(CLAIMS, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      claimed.add(port);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = Number(readFileSync(file, "utf8"));
      // A claim being written has no pid yet: leave it to its writer.
      if (!holder || pidExists(holder)) return false;
      rmSync(file, { force: true });
    }
  }
  return false;
}

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
  mkdirSync(CLAIMS, { recursive: true });
  for (let tried = 0; tried <= last - first; tried++) {
    const port = next;
    next = next === last ? first : next + 1;
    if (claimed.has(port) || !claim(port)) continue;
    if (await bindable(port, host)) return port;
  }
  throw new Error(`no free port left in ${first}-${last} on ${host}`);
}

/** Two consecutive stable ports on `host` (a server that takes a port and the next, as etcd's client and peer); the first. */
export async function stablePortPair(host = "127.0.0.1"): Promise<number> {
  let first = await stablePort(host);
  for (;;) {
    const second = await stablePort(host);
    if (second === first + 1) return first;
    first = second;
  }
}
