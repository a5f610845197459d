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
import { ROOT, runSamsa } from "../helpers/cli.js";

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
  brokerList: string | null = brokers,
  env = process.env,
) {
  return runSamsa(args, { brokers: brokerList, input, env, timeoutMs: 20_000 });
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
    // kcat's -J envelope, with its field names.
    expect(JSON.parse(j.stdout.trim())).toMatchObject({
      topic: "cli-p",
      partition: 0,
      offset: 2,
      tstype: "create",
      ts: expect.any(Number),
      broker: 1,
      key: "k3",
      payload: "again",
      headers: ["src", "cli"],
    });
    expect((await samsa(["consume", "cli-p", "-o", "1", "-c", "1"])).stdout).toBe("world\n");
    const lengths = await samsa(["consume", "cli-p", "-o", "beginning", "-e", "-f", "%K %S\\n"]);
    expect(lengths.stdout.split("\n")[0]).toBe("2 5");
  });

  it("-J gives kcat's tstype logappend for a LogAppendTime topic's records", async () => {
    const topic = ["topic", "create", "cli-tstype", "-c", "message.timestamp.type=LogAppendTime"];
    expect((await samsa(topic)).status).toBe(0);
    expect((await samsa(["produce", "cli-tstype"], "a\n")).status).toBe(0);
    const j = await samsa(["consume", "cli-tstype", "-o", "beginning", "-e", "-J"]);
    expect(JSON.parse(j.stdout.trim())).toMatchObject({ tstype: "logappend", payload: "a" });
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
    expect(info.stdout).toMatch(/^CONTROLLER +1$/m);
    expect(info.stdout).toMatch(new RegExp(`^1\\* +127\\.0\\.0\\.1 +${tb.port}\\b`, "m"));
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

/** Lines "1\n".."n\n", as `seq 1 n` prints them. */
function seq(n: number): string {
  return Array.from({ length: n }, (_, i) => `${i + 1}\n`).join("");
}

/** Runs the CLI with its stdout closed before it writes: a reader that went away (`| head`). */
function samsaIntoClosedPipe(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["bin/samsa.js", "-b", brokers, ...args], { cwd: ROOT });
    child.stdout.destroy();
    const err: Buffer[] = [];
    child.stderr.on("data", (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stderr: Buffer.concat(err).toString() });
    });
    child.stdin.end();
  });
}

describe("samsa produce and consume (issue 11)", () => {
  it("acks=0 stores every line and reports only what it sent", async () => {
    for (const topic of ["cli-a0-1", "cli-a0-2", "cli-a0-3"]) {
      const p = await samsa(["produce", topic, "--acks", "0"], seq(1000));
      expect(p.status, p.stderr).toBe(0);
      expect(p.stderr).toMatch(/^produced 1000 records \(2893 bytes\)/);
      const c = await samsa(["consume", topic, "-o", "beginning", "-e"]);
      expect(c.stdout).toBe(seq(1000));
    }
  });

  it("streams stdin: progress while input is still coming, every record once and in order", async () => {
    const child = spawn(
      process.execPath,
      ["bin/samsa.js", "-b", brokers, "produce", "cli-stream", "-p", "0", "--progress"],
      {
        cwd: ROOT,
      },
    );
    const err: Buffer[] = [];
    const progressed = new Promise<void>((resolve) => {
      child.stderr.on("data", (d: Buffer) => {
        err.push(d);
        if (/samsa: produced 5000 records/.test(Buffer.concat(err).toString())) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.stdin.write(seq(5000));
    // The first 5,000 are acknowledged (and said so) before the input ends.
    await Promise.race([progressed, exited]);
    child.stdin.end(Array.from({ length: 5000 }, (_, i) => `${i + 5001}\n`).join(""));
    const status = await exited;
    clearTimeout(timer);
    const stderr = Buffer.concat(err).toString();
    expect(status, stderr).toBe(0);
    expect(stderr).toMatch(/samsa: produced 5000 records in \d+ s/);
    expect(stderr).toMatch(/^produced 10000 records/m);
    expect((await samsa(["consume", "cli-stream", "-o", "beginning", "-e"])).stdout).toBe(seq(10000));
  });

  it("fails on input it cannot decode in one line, counting only what was produced", async () => {
    const r = await samsa(["produce", "cli-enc-bad", "--encoding", "base64"], "aGk=\n!!!\n");
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(
      /^samsa: record 2 value is not base64.*\(\d+ records produced to cli-enc-bad before it\)/,
    );
  });

  it("ends quietly with exit 0 when the reader closed the pipe", async () => {
    await samsa(["produce", "cli-pipe", "-p", "0"], seq(20000));
    for (const args of [
      ["consume", "cli-pipe", "-o", "beginning", "-e"],
      ["consume", "cli-pipe", "-o", "beginning", "-J"],
      ["topic", "list"],
      ["topic", "describe", "cli-pipe"],
    ]) {
      const r = await samsaIntoClosedPipe(args);
      expect(r.status, args.join(" ")).toBe(0);
      expect(r.stderr, args.join(" ")).toBe("");
    }
  });

  it("keeps a failure's exit code when the reader closed the pipe", async () => {
    expect((await samsa(["topic", "create", "cli-pipe-gone"])).status).toBe(0);
    // "deleted cli-pipe-gone" meets the closed pipe; the missing topic still makes it exit 1.
    const r = await samsaIntoClosedPipe(["topic", "delete", "cli-pipe-gone", "cli-pipe-never"]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/cli-pipe-never/);
  });

  it("takes SAMSA_BROKERS without -b, and several topics in one consume", async () => {
    const env = { ...process.env, SAMSA_BROKERS: brokers };
    expect((await samsa(["produce", "cli-m1", "-p", "0"], "a\nb\n", null, env)).status).toBe(0);
    expect((await samsa(["produce", "cli-m2", "-p", "0"], "c\n", null, env)).status).toBe(0);
    const c = await samsa(
      ["consume", "cli-m1", "cli-m2", "-o", "beginning", "-e", "-f", "%t %o %s\\n"],
      "",
      null,
      env,
    );
    expect(c.stdout.split("\n").filter(Boolean).sort()).toEqual(["cli-m1 0 a", "cli-m1 1 b", "cli-m2 0 c"]);
    // Without -b and without SAMSA_BROKERS: localhost:9092, which the error names.
    const bad = await samsa(["consume", "cli-m1", "-o", "beginning", "-e"], "", "127.0.0.1:1,nohost.invalid");
    expect(bad.stderr).toMatch(/nohost\.invalid:9092/);
  });

  it("reads kcat's and rpk's -o forms", async () => {
    const before = Date.now() - 1;
    await samsa(["produce", "cli-off", "-p", "0"], seq(10));
    const read = async (o: string, ...more: string[]) =>
      (await samsa(["consume", "cli-off", "-o", o, "-f", "%o ", ...more])).stdout.trim();
    expect(await read("+7", "-e")).toBe("7 8 9");
    expect(await read("-2", "-e")).toBe("8 9");
    expect(await read(":end")).toBe("0 1 2 3 4 5 6 7 8 9");
    expect(await read("3:5")).toBe("3 4");
    expect(await read("+1:3")).toBe("1 2");
    expect(await read("@-1h", "-e")).toBe("0 1 2 3 4 5 6 7 8 9");
    expect(await read(`s@${before}`, "-e")).toBe("0 1 2 3 4 5 6 7 8 9");
    expect(await read(`e@${before}`)).toBe("");
    expect(await read(`@-1h:@${Date.now() + 60_000}`)).toBe("0 1 2 3 4 5 6 7 8 9");
    const bad = await samsa(["consume", "cli-off", "-o", "@yesterday"]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^samsa: -o @yesterday: expected .*\n$/);
  });

  it("-J keeps binary keys and values intact; produce --encoding reads them back in", async () => {
    const bytes = Buffer.from([0xff, 0x00, 0x80, 0x41]);
    const line = `${Buffer.from("key\u00ff").toString("base64")}:${bytes.toString("base64")}\n`;
    expect(
      (await samsa(["produce", "cli-bin", "-p", "0", "-K", ":", "--encoding", "base64"], line)).status,
    ).toBe(0);
    const raw = await samsa(["consume", "cli-bin", "-o", "beginning", "-e", "-f", "%s"]);
    expect(raw.raw.equals(bytes)).toBe(true);
    const j = JSON.parse((await samsa(["consume", "cli-bin", "-o", "beginning", "-e", "-J"])).stdout);
    expect(j.payload_encoding).toBe("base64");
    expect(Buffer.from(j.payload, "base64").equals(bytes)).toBe(true);
    expect(j.key).toBe("key\u00ff");
    const hex = JSON.parse(
      (await samsa(["consume", "cli-bin", "-o", "beginning", "-e", "-J", "--encoding", "hex"])).stdout,
    );
    expect(hex).toMatchObject({ payload: "ff008041", payload_encoding: "hex" });
  });

  it("a group consumer says on stderr that it waits for the group, and what it got", async () => {
    await samsa(["produce", "cli-grp", "-p", "0"], "x\n");
    const r = await samsa(["consume", "cli-grp", "-g", "cli-grp-g", "-o", "beginning", "-e"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("x\n");
    expect(r.stderr).toMatch(/waiting for the group to rebalance/);
    expect(r.stderr).toMatch(/assigned cli-grp-0/);
    const quiet = await samsa(["consume", "cli-grp", "-g", "cli-grp-q", "-o", "beginning", "-e", "-q"]);
    expect(quiet.stderr).toBe("");
  });
});
