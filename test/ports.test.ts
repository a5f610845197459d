/** The tests' restartable ports (helpers/ports.ts) stay out of the kernel's ephemeral range. */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect, it } from "vitest";
import { stablePort } from "./helpers/ports.js";

it("hands out distinct, bindable ports that no outgoing connection can take", async () => {
  const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
    .trim()
    .split(/\s+/)
    .map(Number);
  const ports: number[] = [];
  for (let i = 0; i < 50; i++) ports.push(await stablePort());
  expect(new Set(ports).size).toBe(50);
  for (const p of ports) expect(p < low || p > high, `port ${p} inside ${low}-${high}`).toBe(true);
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(ports[0], "127.0.0.1", resolve));
  server.close();
});

it("skips a port something is already listening on", async () => {
  const first = await stablePort();
  const held = createServer();
  // The next port in this worker's slice, taken by another listener before it is asked for.
  await new Promise<void>((resolve) => held.listen(first + 1, "127.0.0.1", resolve));
  try {
    expect(await stablePort()).not.toBe(first + 1);
  } finally {
    held.close();
  }
});

it("skips a port another live process has claimed, and takes over a dead process's claim", async () => {
  const first = await stablePort();
  const claims = path.join(tmpdir(), "samsa-test-ports");
  // The next two ports in turn: one claimed by a live process (vitest's parent), one by a dead pid.
  writeFileSync(path.join(claims, String(first + 1)), String(process.ppid));
  writeFileSync(path.join(claims, String(first + 2)), "999999999");
  try {
    expect(await stablePort()).toBe(first + 2);
    expect(readFileSync(path.join(claims, String(first + 2)), "utf8")).toBe(String(process.pid));
  } finally {
    rmSync(path.join(claims, String(first + 1)), { force: true });
  }
});
