/**
 * Issue 15's pre-authentication fuzz, against a broker child with a PLAINTEXT and a SASL_PLAINTEXT
 * listener and the suite's lowered limits (limits.ts): before a connection authenticates it may
 * send only ApiVersions and the SASL APIs, in frames of at most 512 KiB (Kafka's CVE-2022-34917
 * was an allocation before authentication). Seeded random frames, frames declaring sizes far
 * beyond that, frames stalled halfway and SASL requests with hostile lengths, from many
 * connections: every one is answered or closed, the broker's peak RSS growth stays within
 * PEAK_GROWTH_MB.preAuth, it answers a probe client throughout and after, and starts again on
 * its data directory.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KafkaConn } from "../../bench/attacks/wire.js";
import { baseSeed, type Random, withSeed } from "../helpers/random.js";
import { waitFor } from "../helpers/wait.js";
import { type Child, startChild } from "./child.js";
import { PEAK_GROWTH_MB } from "./limits.js";

const KiB = 1024;
const SEED = baseSeed(15_015);
/** The most a connection may send before it authenticates (broker/net/connection-auth.ts). */
const PRE_AUTH_FRAME_MAX = 512 * KiB;
const SASL_HANDSHAKE = 17;
const SASL_AUTHENTICATE = 36;

let child: Child;
let saslPort = 0;

beforeAll(async () => {
  child = await startChild({
    settings: {
      listeners: "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
      "connection.failed.authentication.delay.ms": 0,
    },
  });
  saslPort = child.broker.listenerPorts.get("SASL_PLAINTEXT") ?? 0;
  expect(saslPort, "the SASL listener's port in the start line").toBeGreaterThan(0);
}, 60_000);

afterAll(async () => {
  await child?.dispose();
});

/** A frame: its declared size, then a request header (apiKey, version, correlation id, client id) and `body`. */
function frame(apiKey: number, version: number, body: Buffer, declared?: number): Buffer {
  const head = Buffer.alloc(14);
  head.writeInt32BE(declared ?? 10 + body.length, 0);
  head.writeInt16BE(apiKey, 4);
  head.writeInt16BE(version, 6);
  head.writeInt32BE(1, 8);
  head.writeInt16BE(-1, 12);
  return Buffer.concat([head, body]);
}

/** One random thing a client could send before authenticating. */
function randomFrame(rng: Random): Buffer {
  switch (rng.int(0, 3)) {
    case 0: // any API at any version, random body
      return frame(rng.int(-5, 80), rng.int(-1, 20), rng.bytes(rng.int(0, 4 * KiB)));
    case 1: // the SASL APIs with random bodies: lengths and counts that lie
      return frame(
        rng.chance(0.5) ? SASL_HANDSHAKE : SASL_AUTHENTICATE,
        rng.int(0, 3),
        rng.bytes(rng.int(0, 512)),
      );
    case 2: // a frame just under or over the pre-auth limit
      return frame(rng.int(0, 80), rng.int(0, 12), rng.bytes(PRE_AUTH_FRAME_MAX + rng.int(-64, 64) - 10));
    default: // bytes that are not a frame at all
      return rng.bytes(rng.int(1, 2 * KiB));
  }
}

/** Waits until the broker closed `conns` (it answers nothing else before authentication). */
async function closedAll(conns: KafkaConn[], what: string): Promise<void> {
  await waitFor(() => conns.every((c) => c.closed), what, 60_000);
}

describe("issue 15: before authentication, memory stays bounded and the broker answers others", () => {
  it("seeded random frames from 240 connections (12 rounds of 20)", async () => {
    const base = child.peakMb();
    await withSeed(SEED, async (rng) => {
      for (let round = 0; round < 12; round++) {
        const conns = await Promise.all(Array.from({ length: 20 }, () => child.connect(saslPort)));
        for (const c of conns) for (let n = rng.int(1, 4); n > 0; n--) void c.writeRaw(randomFrame(rng));
        await child.probe();
        // ApiVersions is the one API served before authentication: a frame that happens to be a
        // valid one is answered and the connection stays, so those are closed here.
        await waitFor(() => conns.every((c) => c.closed || c.receivedBytes > 0), "answers or closes", 60_000);
        for (const c of conns) c.close();
      }
    });
    expect(child.peakMb() - base, "peak RSS growth (MB)").toBeLessThanOrEqual(PEAK_GROWTH_MB.preAuth);
    await child.probe();
  });

  it("frames declaring 2 GiB and 100 MiB, and whole frames of 513 KiB, are closed unanswered", async () => {
    const base = child.peakMb();
    const conns: KafkaConn[] = [];
    for (const declared of [0x7fff_ffff, 100 * 1024 * KiB]) {
      for (let i = 0; i < 10; i++) {
        const c = await child.connect(saslPort);
        void c.writeRaw(frame(SASL_AUTHENTICATE, 2, Buffer.alloc(64 * KiB, 1), declared));
        conns.push(c);
      }
    }
    // Complete frames just over the limit: a broker that read them would answer SaslAuthenticate.
    for (let i = 0; i < 10; i++) {
      const c = await child.connect(saslPort);
      void c.writeRaw(frame(SASL_AUTHENTICATE, 2, Buffer.alloc(PRE_AUTH_FRAME_MAX + KiB - 10, 1)));
      conns.push(c);
    }
    await closedAll(conns, "the broker closing every oversized pre-auth frame");
    expect(conns.map((c) => c.receivedBytes)).toEqual(conns.map(() => 0));
    expect(child.peakMb() - base, "peak RSS growth (MB)").toBeLessThanOrEqual(PEAK_GROWTH_MB.preAuth);
    await child.probe();
  });

  it("40 connections stalled inside 500 KiB frames are closed; the broker answers others meanwhile", async () => {
    const base = child.peakMb();
    const conns: KafkaConn[] = [];
    for (let i = 0; i < 40; i++) {
      const c = await child.connect(saslPort);
      void c.writeRaw(frame(SASL_AUTHENTICATE, 2, Buffer.alloc(499 * KiB, 7), 500 * KiB));
      conns.push(c);
    }
    await child.probe();
    await closedAll(
      conns,
      "the broker closing connections stalled inside a frame (request.frame.timeout.ms)",
    );
    expect(child.peakMb() - base, "peak RSS growth (MB)").toBeLessThanOrEqual(PEAK_GROWTH_MB.preAuth);
  });

  it("a request other than ApiVersions or SASL closes the connection unanswered; the broker restarts on its data", async () => {
    const c = await child.connect(saslPort);
    // Metadata v12, no topics: well formed, but not allowed before authentication.
    void c.writeRaw(frame(3, 12, Buffer.from([0x00, 0x01, 0x00, 0x00])));
    await closedAll([c], "the broker closing a pre-auth Metadata");
    expect(c.receivedBytes).toBe(0);
    await child.restart();
    await child.probe();
  });
});
