/**
 * A storage fault seen from the wire (storage/heal.ts, decision 0018): while the journal's disk is
 * full, produce gets KAFKA_STORAGE_ERROR and another client still reads what was acknowledged;
 * the broker logs one error line for the journal and one for the partition, not one per request;
 * once the disk is back the partition heals without a restart (one warn line each), the
 * idempotent producer's retry is appended once, and a second retry is answered as its duplicate.
 * A producer-state snapshot taken while an append is pending, that append then refused, does not
 * make the retry a duplicate after a restart: it is appended and readable.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { Broker } from "../../broker/broker.js";
import { loadBrokerConfig } from "../../broker/config.js";
import type { Message } from "../../protocol/codec.js";
import { errorCode } from "../../protocol/errors.js";
import { decodeBatches, encodeRecordBatch } from "../../protocol/record-batch.js";
import { JOURNAL_DIR } from "../../storage/journal.js";
import { FaultyFs } from "../helpers/faulty-fs.js";
import { TestClient } from "../helpers/kafka-client.js";
import { fetchRequest, produceRequest } from "../helpers/requests.js";
import { waitFor } from "../helpers/wait.js";

const STORAGE_ERROR = errorCode("KAFKA_STORAGE_ERROR");

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

const idempotent = (pid: number, seq: number, values: string[]) =>
  encodeRecordBatch(
    values.map((v) => ({ value: Buffer.from(v) })),
    { producerId: pid, producerEpoch: 0, baseSequence: seq },
  );

async function produce(c: TestClient, records: Buffer): Promise<Message> {
  const r = await c.request(0, 9, produceRequest("heal", records));
  return r.responses[0].partitionResponses[0];
}

async function values(c: TestClient): Promise<string[]> {
  const r = await c.request(1, 12, fetchRequest("heal", 0));
  const p = r.responses[0].partitions[0];
  expect(p.errorCode).toBe(0);
  return decodeBatches(p.records).map((rec) => String(rec.value));
}

describe("storage faults over the wire", () => {
  it("ENOSPC on the journal: refused, readable, logged once, healed without a restart, no duplicate", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "faults-broker-"));
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const fs = new FaultyFs();
    const broker = await Broker.start(
      loadBrokerConfig({
        flags: {
          "data.dir": dataDir,
          "kafka.port": 0,
          "http.port": 0,
          "log.heal.backoff.ms": 5,
          "log.heal.backoff.max.ms": 50,
        },
      }),
      { logger, fs },
    );
    const c = await TestClient.connect(broker.kafkaPort);
    const other = await TestClient.connect(broker.kafkaPort);
    cleanup = async () => {
      c.close();
      other.close();
      fs.heal();
      await broker.stop();
      rmSync(dataDir, { recursive: true, force: true });
    };
    const init = await c.request(22, 4, {
      transactionalId: null,
      transactionTimeoutMs: 1000,
      producerId: -1,
      producerEpoch: -1,
    });
    const pid = init.producerId as number;
    expect(await produce(c, idempotent(pid, 0, ["a", "b"]))).toMatchObject({ errorCode: 0, baseOffset: 0 });

    fs.target = (file) => file.includes(`${path.sep}${JOURNAL_DIR}${path.sep}`);
    fs.failWrites("all");
    for (let i = 0; i < 5; i++) {
      expect(await produce(c, idempotent(pid, 2, ["c"])), `retry ${i}`).toMatchObject({
        errorCode: STORAGE_ERROR,
      });
    }
    // Another client reads what was acknowledged.
    expect(await values(other)).toEqual(["a", "b"]);
    await waitFor(() => fs.calls.ftruncate >= 3, "probes of the journal while the disk is full");
    expect(await produce(c, idempotent(pid, 2, ["c"]))).toMatchObject({ errorCode: STORAGE_ERROR });

    const errors = lines.filter((l) => l.level === 50);
    expect(errors, JSON.stringify(errors)).toHaveLength(2);
    expect(errors.find((l) => l.journal === JOURNAL_DIR)).toMatchObject({ code: "ENOSPC" });
    expect(errors.find((l) => l.partition === "heal-0")).toMatchObject({ code: "ENOSPC" });
    for (const l of errors) expect(String(l.msg)).toContain("no space left on device");

    fs.heal();
    let healed: Message | null = null;
    await waitFor(async () => {
      const r = await produce(c, idempotent(pid, 2, ["c"]));
      if (r.errorCode === 0) healed = r;
      else expect(r.errorCode).toBe(STORAGE_ERROR);
      return healed !== null;
    }, "produce to succeed again");
    expect(healed).toMatchObject({ baseOffset: 2 });
    // The retry of an appended batch is its duplicate: same offset, nothing written twice.
    expect(await produce(c, idempotent(pid, 2, ["c"]))).toMatchObject({ errorCode: 0, baseOffset: 2 });
    expect(await produce(c, idempotent(pid, 3, ["d"]))).toMatchObject({ errorCode: 0, baseOffset: 3 });
    expect(await values(other)).toEqual(["a", "b", "c", "d"]);

    expect(lines.filter((l) => l.level === 50)).toHaveLength(2);
    const warns = lines.filter((l) => l.level === 40 && String(l.msg).startsWith("storage healed"));
    expect(warns.map((l) => l.journal ?? l.partition).sort()).toEqual(["heal-0", JOURNAL_DIR]);
    expect(warns[0]).toMatchObject({ code: "ENOSPC" });
  });
});

/** A FaultyFs that holds only the journal's writes, so a snapshot can be written meanwhile. */
class JournalGateFs extends FaultyFs {
  gate: Promise<void> | null = null;
  held = 0;

  override async writev(fd: number, buffers: Buffer[], position: number): Promise<void> {
    const file = this.pathOf(fd) ?? "";
    if (this.gate && file.includes(`${path.sep}${JOURNAL_DIR}${path.sep}`)) {
      this.held++;
      await this.gate;
    }
    return super.writev(fd, buffers, position);
  }
}

describe("producer-state snapshots and refused appends", () => {
  it("a snapshot taken while an append is pending does not make the refused batch a duplicate after a restart", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "faults-snapshot-"));
    const flags = { "data.dir": dataDir, "kafka.port": 0, "http.port": 0 };
    const logger = pino({ level: "silent" });
    const fs = new JournalGateFs();
    let broker = await Broker.start(loadBrokerConfig({ flags }), { logger, fs });
    let c = await TestClient.connect(broker.kafkaPort);
    cleanup = async () => {
      c.close();
      await broker.stop();
      rmSync(dataDir, { recursive: true, force: true });
    };
    const init = await c.request(22, 4, {
      transactionalId: null,
      transactionTimeoutMs: 1000,
      producerId: -1,
      producerEpoch: -1,
    });
    const pid = init.producerId as number;
    expect(await produce(c, idempotent(pid, 0, ["a"]))).toMatchObject({ errorCode: 0, baseOffset: 0 });

    let release: () => void = () => {};
    fs.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const refused = produce(c, idempotent(pid, 1, ["b"]));
    const partition = broker.topics.partition("heal", 0)!;
    await waitFor(
      () => partition.producers.snapshot().some((p) => p.batches.some((b) => b.firstSeq === 1)),
      "the pending batch's sequences recorded",
    );
    await broker.snapshot();
    fs.target = (file) => file.includes(`${path.sep}${JOURNAL_DIR}${path.sep}`);
    fs.failWrites(1);
    fs.gate = null;
    release();
    expect(await refused).toMatchObject({ errorCode: STORAGE_ERROR });

    // The log did not move, so the stop writes no new snapshot: the one above is what is read.
    c.close();
    await broker.stop();
    broker = await Broker.start(loadBrokerConfig({ flags }), { logger });
    c = await TestClient.connect(broker.kafkaPort);
    const retry = await produce(c, idempotent(pid, 1, ["b"]));
    expect(retry).toMatchObject({ errorCode: 0, baseOffset: 1 });
    expect(await values(c)).toEqual(["a", "b"]);
  });
});
