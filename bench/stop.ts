/**
 * Stop and start of a broker holding many partitions (issue 12: "a graceful stop with 10,000
 * partitions takes 54-103 s").
 *
 *   create   topics of up to 1,000 partitions until `--partitions` exist (untimed set-up)
 *   write    one record into every `--write-every`-th partition (untimed)
 *   stop     Broker.stop(): producer-state snapshots, every log flushed and closed, checkpoints,
 *            the clean-shutdown marker
 *   start    Broker.start() on the same directory (a clean start), until it listens
 *   stop2    Broker.stop() again right after that start: nothing was written since
 *
 * The broker runs in this process on 127.0.0.1 with ports chosen by the OS, default configs
 * (flush.policy=always through the journal) and `log.max.open.files` as given.
 *
 *   node dist/bench/stop.js [--partitions N] [--write-every K] [--max-open-files F] [--dir D] [--json]
 */
import * as os from "node:os";
import { parseArgs } from "node:util";
import { Broker } from "../broker/broker.js";
import { loadBrokerConfig } from "../broker/config.js";
import { encodeRecordBatch } from "../protocol/record-batch.js";
import { optionsOrExit, runMain, scratchDir, table } from "./script.js";

interface Options {
  partitions: number;
  writeEvery: number;
  maxOpenFiles: number;
  dir: string;
  json: boolean;
}

const TOPIC_PARTITIONS = 1000;

function usage(): string {
  return "usage: node dist/bench/stop.js [--partitions N (10000)] [--write-every K (1)] [--max-open-files F (-1)] [--dir D] [--json]";
}

function parse(args: string[]): Options | null {
  const { values } = parseArgs({
    args,
    options: {
      partitions: { type: "string", default: "10000" },
      "write-every": { type: "string", default: "1" },
      "max-open-files": { type: "string", default: "-1" },
      dir: { type: "string", default: os.tmpdir() },
      json: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return null;
  const int = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name} ${v}: expected an integer >= ${min}`);
    return n;
  };
  return {
    partitions: int("partitions", values.partitions, 1),
    writeEvery: int("write-every", values["write-every"], 1),
    maxOpenFiles: int("max-open-files", values["max-open-files"], -1),
    dir: values.dir,
    json: values.json,
  };
}

async function timed<T>(what: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const t0 = process.hrtime.bigint();
  const value = await what();
  return { value, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

async function main(): Promise<number> {
  const parsed = optionsOrExit(parse, usage);
  if (typeof parsed === "number") return parsed;
  const o = parsed;
  const scratch = scratchDir(o.dir, "samsa-bench-stop-");
  const config = loadBrokerConfig({
    flags: {
      "data.dir": scratch.root,
      "kafka.port": 0,
      "http.port": 0,
      "log.max.open.files": o.maxOpenFiles,
      "max.broker.partitions": o.partitions + 100,
    },
  });
  const say = (line: string) => {
    if (!o.json) process.stderr.write(`${line}\n`);
  };
  try {
    let broker = await Broker.start(config);
    const create = await timed(async () => {
      for (let made = 0, t = 0; made < o.partitions; t++) {
        const n = Math.min(TOPIC_PARTITIONS, o.partitions - made);
        await broker.topics.create(`stop-${t}`, n, 1, {});
        made += n;
      }
    });
    say(`created ${o.partitions} partitions in ${create.seconds.toFixed(1)} s`);
    const write = await timed(async () => {
      let written = 0;
      for (const p of broker.topics.allPartitions()) {
        if (p.index % o.writeEvery !== 0) continue;
        await p.append(encodeRecordBatch([{ value: Buffer.from(`${p.topic}-${p.index}`) }]));
        written++;
      }
      return written;
    });
    say(`wrote ${write.value} records in ${write.seconds.toFixed(1)} s`);
    const stop = await timed(() => broker.stop());
    say(`stop ${stop.seconds.toFixed(1)} s`);
    const start = await timed(() => Broker.start(config));
    broker = start.value;
    const held = broker.topics.allPartitions().length;
    if (held < o.partitions) throw new Error(`restart holds ${held} partitions, expected ${o.partitions}`);
    say(`start ${start.seconds.toFixed(1)} s`);
    const stop2 = await timed(() => broker.stop());
    const result = {
      partitions: o.partitions,
      written: write.value,
      max_open_files: o.maxOpenFiles,
      create_s: round(create.seconds),
      stop_s: round(stop.seconds),
      start_s: round(start.seconds),
      stop_idle_s: round(stop2.seconds),
    };
    if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else
      process.stdout.write(
        `${table(
          ["partitions", "written", "stop s", "start s", "stop idle s"],
          [
            [
              String(result.partitions),
              String(result.written),
              String(result.stop_s),
              String(result.start_s),
              String(result.stop_idle_s),
            ],
          ],
        )}\n`,
      );
    return 0;
  } finally {
    scratch.dispose();
  }
}

function round(s: number): number {
  return Math.round(s * 100) / 100;
}

runMain(main);
