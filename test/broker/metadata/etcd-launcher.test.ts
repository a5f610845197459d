/**
 * The etcd launcher (broker/metadata/etcd-launcher.ts) with the real etcd: given ports, /health
 * and /version answering, a clean stop, a start that fails explained by etcd's own output; and,
 * with a stand-in etcd that ignores SIGTERM, the SIGKILL after the grace. Pause, resume and
 * restart are covered through TestEtcd by etcd-client.test.ts and etcd-store.test.ts.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { EtcdProcess, freePort } from "../../../broker/metadata/etcd-launcher.js";
import { pidExists } from "../../../storage/dir-lock.js";

const dir = mkdtempSync(join(tmpdir(), "samsa-etcd-launcher-"));
const started: EtcdProcess[] = [];

afterEach(async () => {
  for (const etcd of started.splice(0)) await etcd.kill();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function start(options: Parameters<typeof EtcdProcess.start>[0]): Promise<EtcdProcess> {
  const etcd = await EtcdProcess.start(options);
  started.push(etcd);
  return etcd;
}

/** Pid `pid` is gone. */
const gone = (pid: number) => !pidExists(pid);

describe("EtcdProcess", () => {
  it("starts on the ports given, answers /health and /version, and stops cleanly on SIGTERM", async () => {
    const clientPort = await freePort();
    let peerPort = await freePort();
    while (peerPort === clientPort) peerPort = await freePort();
    const output: Buffer[] = [];
    const etcd = await start({
      dataDir: join(dir, "given"),
      clientPort,
      peerPort,
      logLevel: "info",
      onOutput: (chunk) => output.push(chunk),
    });
    expect(etcd.endpoint).toBe(`127.0.0.1:${clientPort}`);
    expect(etcd.peerPort).toBe(peerPort);
    expect(await etcd.healthy()).toBe(true);
    const version = (await (await fetch(`http://${etcd.endpoint}/version`)).json()) as { etcdserver: string };
    expect(version.etcdserver).toMatch(/^3\./);
    expect(Buffer.concat(output).length).toBeGreaterThan(0);

    const pid = etcd.pid as number;
    await etcd.stop();
    expect(etcd.running).toBe(false);
    expect(etcd.exitSignal).not.toBe("SIGKILL");
    expect(gone(pid)).toBe(true);
    expect(await etcd.healthy()).toBe(false);
  });

  it("restarts on the same ports and data after a stop", async () => {
    const etcd = await start({ dataDir: join(dir, "again") });
    await etcd.stop();
    await etcd.restart();
    expect(await etcd.healthy()).toBe(true);
    await expect(etcd.restart()).rejects.toThrow(/already running/);
  });

  it("a member that cannot start fails with etcd's own output", async () => {
    const notADir = join(dir, "a-file");
    writeFileSync(notADir, "not a directory");
    await expect(EtcdProcess.start({ dataDir: join(notADir, "data") })).rejects.toThrow(
      /etcd exited at start:\n.+/,
    );
  });

  it("a binary that is not there fails the start", async () => {
    await expect(
      EtcdProcess.start({ dataDir: join(dir, "none"), binary: join(dir, "no-etcd") }),
    ).rejects.toThrow(/ENOENT/);
  });

  it("stop sends SIGKILL to a member that ignores SIGTERM past the grace", async () => {
    // A stand-in etcd: answers /health on its client URL and ignores SIGTERM.
    const fake = join(dir, "fake-etcd");
    writeFileSync(
      fake,
      `#!${process.execPath}
const http = require("node:http");
const url = new URL(process.argv[process.argv.indexOf("--listen-client-urls") + 1]);
process.on("SIGTERM", () => {});
http.createServer((_, res) => res.end('{"health":"true"}')).listen(Number(url.port), url.hostname);
`,
    );
    chmodSync(fake, 0o755);
    const etcd = await start({ dataDir: join(dir, "fake"), binary: fake });
    await etcd.stop(200);
    expect(etcd.running).toBe(false);
    expect(etcd.exitSignal).toBe("SIGKILL");
  });
});
