/**
 * kill -9: a child process appends under flush.policy=always and prints each acknowledged append;
 * the test kills it with SIGKILL at a random moment, reopens the log, and checks that every
 * acknowledged append is there, byte for byte, and nothing but whole appends in order follows.
 * Several rounds run on the same directory, the child recovering what the last kill left.
 *
 * The child runs plain JavaScript: the private build that test/global-setup.ts compiles once before
 * every suite (a copy of dist/ that nothing rewrites meanwhile), beside a link to node_modules.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeRecords } from "../../protocol/record-batch.js";
import { DEFAULT_LOG_CONFIG, type LogConfig } from "../../storage/config.js";
import { PartitionLog } from "../../storage/log.js";
import { type ChildBuild, compileChild } from "../helpers/compile-child.js";
import { type StoredBatch, storedBatches } from "../helpers/log-check.js";
import { baseSeed, type Random, withSeed } from "../helpers/random.js";

const BASE_SEED = baseSeed(9_000_017);

const CONFIG: LogConfig = {
  ...DEFAULT_LOG_CONFIG,
  segmentBytes: 16 * 1024,
  indexIntervalBytes: 512,
  flushPolicy: "always",
  fileDeleteDelayMs: 0,
};

/** Appends forever from id argv[3] on; prints "id baseOffset lastOffset" once each is acknowledged. */
const CHILD = `
import { PartitionLog } from "./storage/log.js";
import { encodeRecordBatch } from "./protocol/record-batch.js";
const [dir, first, configJson] = process.argv.slice(2);
const log = await PartitionLog.open({ dir, config: JSON.parse(configJson), cleanShutdown: false, recoveryPoint: 0 });
process.stdout.write("ready " + log.logEndOffset + "\\n");
let id = Number(first);
for (;;) {
  const pending = [];
  for (let n = 1 + (id % 5); n > 0; n--) {
    const mine = id++;
    const records = [];
    for (let j = 0; j <= mine % 4; j++) {
      records.push({ key: Buffer.from("k" + mine), value: Buffer.from("v" + mine + "-" + j + "-" + "x".repeat(mine % 300)), timestamp: 1700000000000 + mine });
    }
    pending.push(log.append(encodeRecordBatch(records)).then((r) => process.stdout.write(mine + " " + r.baseOffset + " " + r.lastOffset + "\\n")));
  }
  await Promise.all(pending);
}
`;

let compiled: ChildBuild;
let root: string;

beforeAll(() => {
  compiled = compileChild("samsa-kill-", CHILD);
  root = mkdtempSync(path.join(tmpdir(), "samsa-kill-data-"));
});
afterAll(() => {
  compiled.remove();
  rmSync(root, { recursive: true, force: true });
});

interface Ack {
  id: number;
  base: number;
  last: number;
}

/** Runs the child from `firstId` until `acks` appends are acknowledged, then SIGKILLs it. */
async function runAndKill(
  dir: string,
  firstId: number,
  acks: number,
): Promise<{ ready: number; acked: Ack[] }> {
  const child: ChildProcess = spawn(
    process.execPath,
    [compiled.child, dir, String(firstId), JSON.stringify(CONFIG)],
    { cwd: compiled.build, stdio: ["ignore", "pipe", "pipe"] },
  );
  const acked: Ack[] = [];
  let ready = -1;
  let stderr = "";
  let pending = "";
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdout?.on("data", (d: Buffer) => {
    pending += d.toString();
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      const parts = line.split(" ");
      if (parts[0] === "ready") ready = Number(parts[1]);
      else acked.push({ id: Number(parts[0]), base: Number(parts[1]), last: Number(parts[2]) });
    }
    if (acked.length >= acks && child.exitCode === null) child.kill("SIGKILL");
  });
  const timeout = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timeout);
  if (acked.length < acks) throw new Error(`child stopped after ${acked.length} acks: ${stderr}`);
  return { ready, acked };
}

/** The id a batch of the child carries in its key ("k<id>"), checking the batch's records. */
function idOf(batch: StoredBatch): number {
  const records = decodeRecords(batch.bytes);
  const id = Number(records[0].key?.toString().slice(1));
  expect(records.length, `records of append ${id}`).toBe((id % 4) + 1);
  records.forEach((r, j) => {
    expect(r.value?.toString(), `record ${j} of append ${id}`).toBe(`v${id}-${j}-${"x".repeat(id % 300)}`);
  });
  return id;
}

describe("kill -9", () => {
  it("every acknowledged append survives SIGKILL, round after round", async () => {
    await withSeed(BASE_SEED, async (rng: Random) => {
      const dir = path.join(root, "log");
      let nextId = 0;
      let batches: StoredBatch[] = [];
      for (let round = 0; round < 5; round++) {
        const target = rng.int(1, 400);
        const { ready, acked } = await runAndKill(dir, nextId, target);
        expect(ready, `round ${round}: the child recovered the log the last round left`).toBe(
          batches.length > 0 ? batches[batches.length - 1].last + 1 : 0,
        );

        const log = await PartitionLog.open({ dir, config: CONFIG, cleanShutdown: false, recoveryPoint: 0 });
        try {
          const all: StoredBatch[] = [];
          let offset = 0;
          while (offset < log.logEndOffset) {
            const { records } = await log.read(offset, { maxBytes: 1 << 20 });
            if (records.length === 0) break;
            for (const b of storedBatches(records)) {
              all.push(b);
              offset = b.last + 1;
            }
          }
          expect(offset, `round ${round}: read to the log end`).toBe(log.logEndOffset);
          // The log holds appends 0, 1, 2, ... in order, contiguous offsets, each whole.
          all.forEach((b, i) => {
            expect(idOf(b), `round ${round}: append at position ${i}`).toBe(i);
            expect(b.base, `round ${round}: offsets of append ${i}`).toBe(i === 0 ? 0 : all[i - 1].last + 1);
          });
          // Earlier rounds' batches are unchanged; every acknowledged append is present where it was acknowledged.
          batches.forEach((b, i) => {
            if (!all[i]?.bytes.equals(b.bytes)) expect.fail(`round ${round}: append ${i} changed`);
          });
          for (const a of acked) {
            const b = all[a.id];
            expect(b, `round ${round}: acknowledged append ${a.id}`).toBeDefined();
            expect([b.base, b.last], `round ${round}: offsets of acknowledged append ${a.id}`).toEqual([
              a.base,
              a.last,
            ]);
          }
          batches = all;
          nextId = all.length;
        } finally {
          await log.close();
        }
      }
      expect(batches.length).toBeGreaterThan(0);
    });
  });
});
