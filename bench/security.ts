/**
 * The price of encryption and authentication (issue 15): one broker process with a PLAINTEXT, an
 * SSL and a SASL_SSL (SCRAM-SHA-512) listener, and `samsa bench produce` then `samsa bench
 * consume` (each a process of its own, 100-byte records in batches, acks=all) through each
 * listener in turn, `--rounds` times interleaved so that the machine's noise falls on all three
 * alike. Reported: the median records/s of each, and how much slower than PLAINTEXT. Issue 15's
 * target: TLS and SASL_SSL at most 30% slower.
 *
 *   node dist/bench/security.js [--records N] [--rounds R] [--json]
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type BrokerChild, killBrokers, startBroker } from "./attacks/broker-child.js";
import { intOption, optionsOrExit, runMain, scratchDir, table } from "./script.js";

/** dist/bench/security.js -> the repository root. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = path.join(ROOT, "bin", "samsa.js");
const LISTENERS = ["PLAINTEXT", "SSL", "SASL_SSL"] as const;
type Listener = (typeof LISTENERS)[number];
const USER = "bench";
const PASSWORD = "bench-secret";

interface Options {
  records: number;
  rounds: number;
  json: boolean;
}

function usage(): string {
  return "usage: node dist/bench/security.js [--records N (default 1000000)] [--rounds R (default 3)] [--json]";
}

function parse(args: string[]): Options | null {
  const { values } = parseArgs({
    args,
    options: {
      records: { type: "string", default: "1000000" },
      rounds: { type: "string", default: "3" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return null;
  const records = intOption("--records", values.records);
  const rounds = intOption("--rounds", values.rounds);
  return { records, rounds, json: values.json };
}

/** The client flags that reach `listener`. */
function clientFlags(broker: BrokerChild, listener: Listener, certs: string): string[] {
  const flags = ["-b", `127.0.0.1:${broker.listenerPorts.get(listener)}`];
  if (listener !== "PLAINTEXT") flags.push("--tls-ca", path.join(certs, "ca.pem"));
  if (listener === "SASL_SSL") flags.push("--user", USER, "--sasl-mechanism", "SCRAM-SHA-512");
  return flags;
}

/** Runs `samsa <args>` and returns its --json report's records/s. */
function benchRecordsPerSec(args: string[]): number {
  const r = spawnSync(process.execPath, [BIN, ...args, "--json"], {
    env: { ...process.env, SAMSA_PASSWORD: PASSWORD },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`samsa ${args.join(" ")}: exit ${r.status}: ${r.stderr.trim()}`);
  return (JSON.parse(r.stdout) as { records_per_sec: number }).records_per_sec;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<number> {
  const parsed = optionsOrExit(parse, usage);
  if (typeof parsed === "number") return parsed;
  const o = parsed;
  const scratch = scratchDir(os.tmpdir(), "samsa-bench-security-", killBrokers);
  const certs = path.join(scratch.root, "certs");
  execFileSync(process.execPath, [BIN, "security", "dev-certs", "--out", certs], { stdio: "ignore" });
  const broker = await startBroker({
    dataDir: path.join(scratch.root, "data"),
    logFile: path.join(scratch.root, "broker.log"),
    eldFile: path.join(scratch.root, "eld.jsonl"),
    settings: {
      listeners: LISTENERS.map((l) => `${l}://127.0.0.1:0`).join(","),
      "ssl.certificate.location": path.join(certs, "server.pem"),
      "ssl.key.location": path.join(certs, "server-key.pem"),
    },
    timeoutMs: 30_000,
  });
  try {
    execFileSync(
      process.execPath,
      [BIN, "-b", `127.0.0.1:${broker.kafkaPort}`, "user", "create", USER, "--mechanism", "SCRAM-SHA-512"],
      { env: { ...process.env, SAMSA_NEW_PASSWORD: PASSWORD }, stdio: "ignore" },
    );
    const produced = new Map<Listener, number[]>(LISTENERS.map((l) => [l, []]));
    const consumed = new Map<Listener, number[]>(LISTENERS.map((l) => [l, []]));
    for (let round = 1; round <= o.rounds; round++) {
      for (const l of LISTENERS) {
        const topic = `security-${l.toLowerCase()}-${round}`;
        const flags = clientFlags(broker, l, certs);
        const common = [...flags, "bench"];
        const p = benchRecordsPerSec([
          ...common,
          "produce",
          "-t",
          topic,
          "-n",
          String(o.records),
          "--record-size",
          "100",
        ]);
        const c = benchRecordsPerSec([...common, "consume", "-t", topic, "-n", String(o.records)]);
        produced.get(l)?.push(p);
        consumed.get(l)?.push(c);
        process.stderr.write(`round ${round} ${l}: produce ${p} records/s, consume ${c} records/s\n`);
      }
    }
    report(o, produced, consumed);
    return 0;
  } finally {
    await broker.stop(30_000);
    scratch.dispose();
  }
}

function report(o: Options, produced: Map<Listener, number[]>, consumed: Map<Listener, number[]>): void {
  const base = {
    produce: median(produced.get("PLAINTEXT") ?? []),
    consume: median(consumed.get("PLAINTEXT") ?? []),
  };
  const rows = LISTENERS.map((l) => {
    const p = median(produced.get(l) ?? []);
    const c = median(consumed.get(l) ?? []);
    return {
      listener: l,
      produce: p,
      consume: c,
      produceSlower: 1 - p / base.produce,
      consumeSlower: 1 - c / base.consume,
    };
  });
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ records: o.records, rounds: o.rounds, listeners: rows })}\n`);
    return;
  }
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  process.stdout.write(
    `${o.records} records of 100 bytes, acks=all, median of ${o.rounds} rounds\n${table(
      ["listener", "produce rec/s", "slower", "consume rec/s", "slower"],
      rows.map((r) => [
        r.listener,
        r.produce.toFixed(0),
        pct(r.produceSlower),
        r.consume.toFixed(0),
        pct(r.consumeSlower),
      ]),
    )}\n`,
  );
}

runMain(main, killBrokers);
