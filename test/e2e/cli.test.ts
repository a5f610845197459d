/**
 * The samsa CLI as a shell user runs it (the compiled bin, as `npx samsa` does) against an
 * in-process broker: topics, produce, consume (kcat-style formats and offsets), offsets, cluster
 * info, and one-line errors with a non-zero exit.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
let tb: TestBroker;
let brokers: string;

beforeAll(async () => {
  tb = await startTestBroker();
  brokers = `127.0.0.1:${tb.port}`;
});
afterAll(async () => tb.stop());

/** Runs the CLI asynchronously: the broker lives in this process and must keep serving. */
function samsa(
  args: string[],
  input?: string | Buffer,
  brokerList = brokers,
): Promise<{ status: number | null; stdout: string; stderr: string; raw: Buffer }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["bin/samsa.js", "-b", brokerList, ...args], { cwd: ROOT });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      const raw = Buffer.concat(out);
      resolve({ status, stdout: raw.toString(), stderr: Buffer.concat(err).toString(), raw });
    });
    child.stdin.end(input ?? "");
  });
}

describe("samsa CLI", () => {
  it("starts quickly and has help with examples on every command", async () => {
    const started = process.hrtime.bigint();
    const v = spawnSync(process.execPath, ["bin/samsa.js", "--version"], { cwd: ROOT, encoding: "utf8" });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    // Reported, not asserted: timing is checked by benchmarks, never by tests.
    console.log(`samsa --version took ${ms.toFixed(0)} ms`);
    for (const cmd of [["topic", "create"], ["produce"], ["consume"], ["offsets"]]) {
      const help = await samsa([...cmd, "--help"]);
      expect(help.status).toBe(0);
      expect(help.stdout).toContain("Example");
    }
  });

  it("creates, lists, describes, alters, grows and deletes topics", async () => {
    expect(
      (await samsa(["topic", "create", "cli-t", "-p", "2", "-c", "retention.ms=60000"])).stdout,
    ).toContain("created cli-t");
    expect((await samsa(["topic", "list"])).stdout).toMatch(/cli-t\t2/);
    const d = await samsa(["topic", "describe", "cli-t"]);
    expect(d.stdout).toMatch(
      /PARTITION\tLEADER\tREPLICAS\tISR\tLOG-START\tLOG-END\tSIZE\n0\t1\t\[1\]\t\[1\]\t0\t0\t0\n/,
    );
    expect(d.stdout).toMatch(/retention\.ms\t60000\toverride/);
    expect((await samsa(["topic", "alter", "cli-t", "-c", "retention.ms=1000"])).status).toBe(0);
    expect((await samsa(["topic", "describe", "cli-t"])).stdout).toMatch(/retention\.ms\t1000\toverride/);
    expect((await samsa(["topic", "add-partitions", "cli-t", "-n", "3"])).status).toBe(0);
    expect((await samsa(["topic", "list"])).stdout).toMatch(/cli-t\t3/);
    expect((await samsa(["topic", "delete", "cli-t"])).stdout).toContain("deleted cli-t");
    expect((await samsa(["topic", "list"])).stdout).not.toContain("cli-t");
  });

  it("sets Kafka's topic configs with topic create -c and topic alter, and refuses bad ones", async () => {
    const create = await samsa([
      "topic",
      "create",
      "cli-cfg",
      ...["-c", "compression.type=zstd", "-c", "message.timestamp.type=LogAppendTime"],
      ...["-c", "preallocate=true", "-c", "segment.jitter.ms=1000", "-c", "flush.messages=10000"],
    ]);
    expect(create.stdout, create.stderr).toContain("created cli-cfg");
    const alter = ["-c", "unclean.leader.election.enable=true", "-c", "message.downconversion.enable=false"];
    expect((await samsa(["topic", "alter", "cli-cfg", ...alter, "-d", "preallocate"])).status).toBe(0);
    const d = (await samsa(["topic", "describe", "cli-cfg"])).stdout;
    expect(d).toMatch(/compression\.type\tzstd\toverride/);
    expect(d).toMatch(/message\.timestamp\.type\tLogAppendTime\toverride/);
    expect(d).toMatch(/unclean\.leader\.election\.enable\ttrue\toverride/);
    expect(d).toMatch(/message\.downconversion\.enable\tfalse\toverride/);
    expect(d).toMatch(/preallocate\tfalse\tdefault/);
    for (const args of [
      ["topic", "create", "cli-cfg-bad", "-c", "compression.type=brotli"],
      ["topic", "alter", "cli-cfg", "-c", "no.such.config=1"],
    ]) {
      const r = await samsa(args);
      expect(r.status, args.join(" ")).not.toBe(0);
      expect(r.stderr).toMatch(/^samsa: INVALID_CONFIG/);
    }
  });

  it("produces from stdin with keys and headers and consumes with kcat formats and JSON", async () => {
    const p = await samsa(
      ["produce", "cli-p", "-K", ":", "-H", "src=cli", "-p", "0"],
      "k1:hello\nk2:world\nk3:again\n",
    );
    expect(p.status).toBe(0);
    expect(p.stderr).toMatch(/produced 3 records/);
    const c = await samsa(["consume", "cli-p", "-o", "beginning", "-e", "-f", "%t %p %o %k=%s %h\\n"]);
    expect(c.stdout).toBe(
      "cli-p 0 0 k1=hello src=cli\ncli-p 0 1 k2=world src=cli\ncli-p 0 2 k3=again src=cli\n",
    );
    const j = await samsa(["consume", "cli-p", "-o", "-1", "-e", "-J"]);
    expect(JSON.parse(j.stdout.trim())).toMatchObject({
      topic: "cli-p",
      partition: 0,
      offset: 2,
      key: "k3",
      value: "again",
      headers: { src: "cli" },
    });
    expect((await samsa(["consume", "cli-p", "-o", "1", "-c", "1"])).stdout).toBe("world\n");
    const lengths = await samsa(["consume", "cli-p", "-o", "beginning", "-e", "-f", "%K %S\\n"]);
    expect(lengths.stdout.split("\n")[0]).toBe("2 5");
  });

  it("produces with a custom delimiter, compression, and one record per file", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "samsa-cli-"));
    try {
      const file = path.join(dir, "blob.bin");
      writeFileSync(file, Buffer.from([0, 1, 2, 255, 10, 13]));
      expect((await samsa(["produce", "cli-f", file, "-p", "0"])).status).toBe(0);
      const out = await samsa(["consume", "cli-f", "-o", "beginning", "-e", "-f", "%s"]);
      expect(out.raw.equals(Buffer.from([0, 1, 2, 255, 10, 13]))).toBe(true);
      for (const z of ["gzip", "snappy", "lz4", "zstd"]) {
        expect((await samsa(["produce", `cli-z-${z}`, "-D", ";", "-z", z], "a;b;c")).status).toBe(0);
        expect((await samsa(["consume", `cli-z-${z}`, "-o", "beginning", "-e"])).stdout).toBe("a\nb\nc\n");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("finds offsets by time and shows the cluster", async () => {
    const before = Date.now() - 1;
    await samsa(["produce", "cli-o", "-p", "0"], "x\ny\n");
    const o = await samsa(["offsets", "cli-o"]);
    expect(o.stdout).toMatch(/0\t0\t2/);
    expect((await samsa(["offsets", "cli-o", "--at", String(before)])).stdout).toMatch(/0\t0\t\d+/);
    const iso = new Date(Date.now() + 3_600_000).toISOString();
    expect((await samsa(["consume", "cli-o", "-o", `@${iso}`, "-e"])).stdout).toBe("");
    expect((await samsa(["consume", "cli-o", "-o", `@${before}`, "-e"])).stdout).toBe("x\ny\n");
    const info = await samsa(["cluster", "info"]);
    expect(info.stdout).toMatch(/CONTROLLER 1/);
    expect(info.stdout).toContain(`1\t127.0.0.1\t${tb.port}`);
  });

  it("fails with one line and a non-zero exit", async () => {
    for (const args of [
      ["topic", "describe", "no-such-topic"],
      ["consume", "cli-p", "-o", "sometime"],
      ["topic", "create", "bad/name"],
      ["produce", "x", "--acks", "2"],
    ]) {
      const r = await samsa(args, "");
      expect(r.status, args.join(" ")).not.toBe(0);
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(r.stderr).toMatch(/^samsa: /);
    }
    const down = await samsa(["topic", "list"], "", "127.0.0.1:1");
    expect(down.status).not.toBe(0);
    expect(down.stderr).toMatch(/^samsa: .*(NO_BROKER_AVAILABLE|CONNECTION)/);
  });
});
