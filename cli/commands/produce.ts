/** `samsa produce <topic>`: records from stdin (one per line, or -D delimited) or one per file. */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { brokersOf, collect, pairs, unescapeArg } from "./common.js";

interface ProduceOpts {
  delimiter: string;
  keyDelimiter?: string;
  key?: string;
  header: string[];
  partition?: string;
  acks: string;
  compression: string;
  lingerMs: string;
}

/** Splits stdin into records: by `delimiter`, a trailing empty record dropped. */
function splitRecords(input: Buffer, delimiter: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = input.indexOf(delimiter, start); i >= 0; i = input.indexOf(delimiter, start)) {
    out.push(input.subarray(start, i));
    start = i + delimiter.length;
  }
  if (start < input.length) out.push(input.subarray(start));
  return out;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function registerProduceCommand(program: Command): void {
  program
    .command("produce <topic> [files...]")
    .description("produce records from stdin (one per line) or one record per file")
    .option("-D, --delimiter <delim>", "record delimiter on stdin", "\\n")
    .option("-K, --key-delimiter <delim>", "split each record into key<delim>value")
    .option("-k, --key <key>", "key for every record")
    .option("-H, --header <name=value>", "header for every record (repeatable)", collect, [])
    .option("-p, --partition <n>", "partition (default: by key, sticky for null keys)")
    .option("--acks <acks>", "0, 1 or -1 (all)", "-1")
    .option("-z, --compression <codec>", "none, gzip, snappy, lz4 or zstd", "none")
    .option("--linger-ms <ms>", "batching delay", "5")
    .addHelpText(
      "after",
      `
Examples:
  echo hello | samsa produce greetings
  printf 'k1:v1\\nk2:v2\\n' | samsa produce orders -K : -H source=cli -z zstd
  samsa produce images photo1.jpg photo2.jpg`,
    )
    .action(async (topic: string, files: string[], opts: ProduceOpts, cmd: Command) => {
      const { Producer } = await import("../../client/producer.js");
      const acks = Number(opts.acks === "all" ? -1 : opts.acks);
      if (acks !== 0 && acks !== 1 && acks !== -1)
        throw new Error(`--acks ${opts.acks}: expected 0, 1 or -1`);
      const headers = pairs(opts.header, "--header");
      const producer = new Producer(
        { brokers: brokersOf(cmd), retry: { retries: 3 } },
        {
          acks,
          compression: opts.compression as "none",
          lingerMs: Number(opts.lingerMs),
          idempotent: acks === -1,
        },
      );
      const started = Date.now();
      let count = 0;
      let bytes = 0;
      const sends: Promise<unknown>[] = [];
      const partition = opts.partition !== undefined ? Number(opts.partition) : undefined;
      const records: { key: Buffer | null; value: Buffer }[] = [];
      if (files.length > 0) {
        for (const f of files)
          records.push({
            key: opts.key !== undefined ? Buffer.from(opts.key) : null,
            value: readFileSync(f),
          });
      } else {
        const keyDelim = opts.keyDelimiter !== undefined ? Buffer.from(unescapeArg(opts.keyDelimiter)) : null;
        for (const line of splitRecords(await readStdin(), Buffer.from(unescapeArg(opts.delimiter)))) {
          let key: Buffer | null = opts.key !== undefined ? Buffer.from(opts.key) : null;
          let value = line;
          if (keyDelim) {
            const at = line.indexOf(keyDelim);
            if (at >= 0) {
              key = line.subarray(0, at);
              value = line.subarray(at + keyDelim.length);
            }
          }
          records.push({ key, value });
        }
      }
      try {
        for (const r of records) {
          sends.push(producer.send({ topic, key: r.key, value: r.value, headers, partition }));
          count++;
          bytes += r.value.length;
        }
        await Promise.all(sends);
      } finally {
        await producer.close();
      }
      const seconds = (Date.now() - started) / 1000;
      process.stderr.write(
        `produced ${count} records (${bytes} bytes) to ${topic} in ${seconds.toFixed(2)} s\n`,
      );
    });
}
