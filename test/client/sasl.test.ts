/**
 * The client's SASL (client/sasl.ts) against a fake broker made here: it answers ApiVersions,
 * SaslHandshake and SaslAuthenticate (PLAIN checked by hand, SCRAM by a real ScramServer over
 * credentials from scramCredential) and Metadata only on an authenticated connection that is not
 * re-authenticating. Anything else it records as a violation and closes the connection.
 */
import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Admin } from "../../client/admin.js";
import { type Message, MessageCodec } from "../../protocol/codec.js";
import { KafkaError } from "../../protocol/errors.js";
import { RequestHeader, ResponseHeader } from "../../protocol/messages/header.js";
import { API_SPECS } from "../../protocol/messages/index.js";
import { Reader } from "../../protocol/reader.js";
import { parsePlain } from "../../protocol/sasl/plain.js";
import {
  isScramMechanism,
  type ScramCredential,
  ScramServer,
  scramCredential,
} from "../../protocol/sasl/scram.js";
import { Writer } from "../../protocol/writer.js";
import { waitFor, waitForStable } from "../helpers/wait.js";

const USER = "alice";
const PASSWORD = "alice-secret";
const ALL_MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];
/** What the fake broker answers a failed PLAIN exchange (Kafka's words). */
const PLAIN_FAILURE = "Authentication failed: Invalid username or password";

interface FakeOptions {
  /** Mechanisms the broker enables (all three by default). */
  mechanisms?: string[];
  /** SessionLifetimeMs answered with a completed authentication (v1+). */
  sessionLifetimeMs?: number;
  /** The highest SaslAuthenticate version served (2 by default). */
  authenticateMaxVersion?: number;
  /** Whether ApiVersions lists the SASL APIs (a listener without SASL does not). */
  serveSasl?: boolean;
  /** SCRAM: answer a server-final signature that proves nothing (a broker without the credential). */
  forgeServerFinal?: boolean;
}

interface ConnState {
  id: number;
  mechanism?: string;
  scram?: ScramServer;
  authenticated: boolean;
  reauthenticating: boolean;
}

const requestHeader = new MessageCodec(RequestHeader);
const responseHeader = new MessageCodec(ResponseHeader);
const codec = (apiKey: number, type: "request" | "response") => new MessageCodec(API_SPECS[apiKey][type]);

class FakeBroker {
  readonly server = net.createServer((s) => this.accept(s));
  readonly sockets = new Set<net.Socket>();
  /** Passwords for PLAIN; SCRAM credentials are made from them. */
  readonly passwords = new Map<string, string>([[USER, PASSWORD]]);
  private readonly credentials = new Map<string, ScramCredential>();
  /** What happened, in order: `<connection>:<event>`. */
  readonly events: string[] = [];
  readonly violations: string[] = [];
  connections = 0;
  frames = 0;
  completed = 0;
  failures = 0;
  /** Set: the next re-authentication's first SaslAuthenticate is held until `release()`. */
  holdReauth = false;
  private held: (() => void) | undefined;
  /** Set: a Metadata answer waits until a SaslHandshake has arrived behind it on its connection. */
  holdMetadataUntilHandshake = false;
  private handshakeArrived: (() => void) | undefined;

  /** Whether a Metadata answer waits for a SaslHandshake. */
  get holdingMetadata(): boolean {
    return this.handshakeArrived !== undefined;
  }

  constructor(readonly options: FakeOptions = {}) {}

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return this.address;
  }

  get address(): string {
    return `127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  get holding(): boolean {
    return this.held !== undefined;
  }

  release(): void {
    this.holdReauth = false;
    this.held?.();
    this.held = undefined;
  }

  async stop(): Promise<void> {
    this.release();
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private credential(user: string, mechanism: string): ScramCredential | undefined {
    const password = this.passwords.get(user);
    if (password === undefined || !isScramMechanism(mechanism)) return undefined;
    const key = `${mechanism}\0${user}\0${password}`;
    let c = this.credentials.get(key);
    if (!c) {
      c = scramCredential(mechanism, password, 4096);
      this.credentials.set(key, c);
    }
    return c;
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => {});
    const state: ConnState = { id: ++this.connections, authenticated: false, reauthenticating: false };
    let buffered = Buffer.alloc(0);
    let chain = Promise.resolve();
    socket.on("data", (data: Buffer) => {
      buffered = Buffer.concat([buffered, data]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const frame = buffered.subarray(4, 4 + buffered.readInt32BE(0));
        buffered = buffered.subarray(4 + frame.length);
        this.frames += 1;
        if (frame.readInt16BE(0) === 17) this.handshakeArrived?.();
        // One request at a time, answered in order, as a Kafka broker does.
        chain = chain.then(() => this.onRequest(socket, state, frame));
      }
    });
  }

  private async onRequest(socket: net.Socket, state: ConnState, frame: Buffer): Promise<void> {
    const apiKey = frame.readInt16BE(0);
    const version = frame.readInt16BE(2);
    const request = codec(apiKey, "request");
    const r = new Reader(frame);
    const header = requestHeader.decode(r, request.isFlexible(version) ? 2 : 1);
    const body = request.decode(r, version);
    const answer = (response: Message) => {
      const w = new Writer();
      const responseCodec = codec(apiKey, "response");
      w.int32(0);
      const flexible = responseCodec.isFlexible(version) && apiKey !== 18;
      responseHeader.encode(w, flexible ? 1 : 0, { correlationId: header.correlationId });
      responseCodec.encode(w, version, response);
      const out = w.toBuffer();
      out.writeInt32BE(out.length - 4, 0);
      socket.write(out);
    };
    if (apiKey === 18) return answer(this.apiVersions());
    if (apiKey === 17) return answer(this.handshake(state, body.mechanism));
    if (apiKey === 36) {
      this.events.push(`${state.id}:authenticate v${version}`);
      const response = await this.authenticate(state, body.authBytes);
      answer(response);
      if (response.errorCode !== 0) socket.end();
      return;
    }
    if (apiKey === 3 && state.authenticated && !state.reauthenticating) {
      this.events.push(`${state.id}:metadata`);
      if (this.holdMetadataUntilHandshake) {
        this.holdMetadataUntilHandshake = false;
        await new Promise<void>((resolve) => {
          this.handshakeArrived = resolve;
        });
        this.handshakeArrived = undefined;
      }
      const port = (this.server.address() as net.AddressInfo).port;
      return answer({
        throttleTimeMs: 0,
        brokers: [{ nodeId: 1, host: "127.0.0.1", port, rack: null }],
        clusterId: "fake",
        controllerId: 1,
        topics: [],
      });
    }
    const when = state.reauthenticating ? "while re-authenticating" : "before authentication";
    this.violations.push(`${state.id}: API ${apiKey} ${when}`);
    socket.destroy();
  }

  private apiVersions(): Message {
    const sasl = this.options.serveSasl === false;
    const keys = [
      { apiKey: 3, minVersion: 0, maxVersion: 12 },
      { apiKey: 18, minVersion: 0, maxVersion: 3 },
      ...(sasl
        ? []
        : [
            { apiKey: 17, minVersion: 0, maxVersion: 1 },
            { apiKey: 36, minVersion: 0, maxVersion: this.options.authenticateMaxVersion ?? 2 },
          ]),
    ];
    return { errorCode: 0, apiKeys: keys, throttleTimeMs: 0 };
  }

  private handshake(state: ConnState, mechanism: string): Message {
    this.events.push(`${state.id}:handshake ${mechanism}`);
    const enabled = this.options.mechanisms ?? ALL_MECHANISMS;
    if (!enabled.includes(mechanism)) return { errorCode: 33, mechanisms: enabled };
    state.mechanism = mechanism;
    state.reauthenticating = state.authenticated;
    state.scram = isScramMechanism(mechanism)
      ? new ScramServer(mechanism, (user, m) => this.credential(user, m))
      : undefined;
    return { errorCode: 0, mechanisms: enabled };
  }

  private async authenticate(state: ConnState, authBytes: Buffer): Promise<Message> {
    if (this.holdReauth && state.reauthenticating) {
      await new Promise<void>((resolve) => {
        this.held = resolve;
      });
    }
    try {
      const token = state.scram ? await state.scram.evaluate(authBytes) : this.plain(authBytes);
      if (state.scram && !state.scram.complete) return this.ok(token, 0);
      const forged = this.options.forgeServerFinal && state.scram;
      if (forged) return this.ok(Buffer.from(`v=${Buffer.alloc(32).toString("base64")}`), 0);
      state.authenticated = true;
      state.reauthenticating = false;
      this.completed += 1;
      this.events.push(`${state.id}:authenticated`);
      return this.ok(token, this.options.sessionLifetimeMs ?? 0);
    } catch (err) {
      if (!KafkaError.is(err)) throw err;
      this.failures += 1;
      this.events.push(`${state.id}:failed`);
      const message = err.message.slice(err.code.length + 2);
      return {
        errorCode: err.errorCode,
        errorMessage: message,
        authBytes: Buffer.alloc(0),
        sessionLifetimeMs: 0,
      };
    }
  }

  private plain(authBytes: Buffer): Buffer {
    const { username, password } = parsePlain(authBytes);
    if (this.passwords.get(username) !== password)
      throw new KafkaError("SASL_AUTHENTICATION_FAILED", PLAIN_FAILURE);
    return Buffer.alloc(0);
  }

  private ok(authBytes: Buffer, sessionLifetimeMs: number): Message {
    return { errorCode: 0, errorMessage: null, authBytes, sessionLifetimeMs };
  }
}

let fakes: FakeBroker[] = [];
let admins: Admin[] = [];

async function setup(
  options: FakeOptions,
  sasl: { mechanism: string; username?: string; password?: string },
  client: { maxInFlightRequests?: number } = {},
) {
  const fake = new FakeBroker(options);
  fakes.push(fake);
  const address = await fake.start();
  const admin = new Admin({
    brokers: [address],
    sasl: { username: USER, password: PASSWORD, ...sasl } as never,
    retry: { retries: 3, initialBackoffMs: 1, maxBackoffMs: 1 },
    ...client,
  });
  admins.push(admin);
  return { fake, admin };
}

afterEach(async () => {
  await Promise.all(admins.map((a) => a.close()));
  await Promise.all(fakes.map((f) => f.stop()));
  admins = [];
  fakes = [];
});

describe("SASL in the client", () => {
  it.each([
    ["plain", 2],
    ["scram-sha-256", 2],
    ["SCRAM-SHA-512", 2],
    ["PLAIN", 1],
    ["scram-sha-256", 0],
  ])(
    "authenticates with %s (SaslAuthenticate up to v%i) before any other request",
    async (mechanism, max) => {
      const { fake, admin } = await setup({ authenticateMaxVersion: max }, { mechanism });
      // Both requests wait for the one connection's authentication.
      await Promise.all([admin.listTopics(), admin.listTopics()]);
      const name = mechanism.toUpperCase();
      const rounds = name === "PLAIN" ? 1 : 2;
      expect(fake.events).toEqual([
        `1:handshake ${name}`,
        ...Array(rounds).fill(`1:authenticate v${max}`),
        "1:authenticated",
        "1:metadata",
        "1:metadata",
      ]);
      expect(fake.connections).toBe(1);
      expect(fake.violations).toEqual([]);
    },
  );

  it.each(["plain", "scram-sha-256", "scram-sha-512"])(
    "a wrong %s password fails once with SASL_AUTHENTICATION_FAILED and the broker's message",
    async (mechanism) => {
      const { fake, admin } = await setup({}, { mechanism, password: "wrong" });
      const err = await admin.listTopics().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KafkaError);
      expect(err).toMatchObject({ code: "SASL_AUTHENTICATION_FAILED", retriable: false });
      const said = mechanism === "plain" ? PLAIN_FAILURE : "Authentication failed";
      expect((err as Error).message).toContain(said);
      // Not retried: one connection, one failed exchange.
      expect(fake.connections).toBe(1);
      expect(fake.failures).toBe(1);
      expect(fake.violations).toEqual([]);
    },
  );

  it("a mechanism the broker does not offer fails naming the ones it does", async () => {
    const { fake, admin } = await setup(
      { mechanisms: ["PLAIN", "SCRAM-SHA-256"] },
      { mechanism: "scram-sha-512" },
    );
    const err = await admin.listTopics().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "UNSUPPORTED_SASL_MECHANISM", retriable: false });
    expect((err as Error).message).toContain("SCRAM-SHA-512");
    expect((err as Error).message).toContain("it offers PLAIN, SCRAM-SHA-256");
    expect(fake.connections).toBe(1);
  });

  it("a broker whose SCRAM server-final proves nothing is refused before any other request", async () => {
    const { fake, admin } = await setup({ forgeServerFinal: true }, { mechanism: "scram-sha-256" });
    const err = await admin.listTopics().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "SASL_AUTHENTICATION_FAILED", retriable: false });
    expect((err as Error).message).toContain("invalid server signature");
    expect(fake.connections).toBe(1);
    expect(fake.violations).toEqual([]);
  });

  it("a broker without SASL is refused with ILLEGAL_SASL_STATE, nothing else sent", async () => {
    const { fake, admin } = await setup({ serveSasl: false }, { mechanism: "plain" });
    await expect(admin.listTopics()).rejects.toMatchObject({ code: "ILLEGAL_SASL_STATE", retriable: false });
    expect(fake.events).toEqual([]);
    expect(fake.violations).toEqual([]);
  });

  it("malformed sasl options are refused when the client is made", () => {
    const make = (sasl: unknown) => () => new Admin({ brokers: ["127.0.0.1:1"], sasl: sasl as never });
    expect(make({ mechanism: "gssapi", username: "u", password: "p" })).toThrow(/sasl.mechanism/);
    expect(make({ mechanism: "plain", username: "", password: "p" })).toThrow(/sasl.username/);
    expect(make({ mechanism: "plain", username: "u" })).toThrow(/sasl.password/);
    expect(make("plain")).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });

  it.each([
    ["plain", 1],
    ["scram-sha-256", 2],
    ["scram-sha-512", 1],
  ])(
    "%s re-authenticates on the same connection before a short session (v%i) ends",
    async (mechanism, max) => {
      const { fake, admin } = await setup(
        { sessionLifetimeMs: 300, authenticateMaxVersion: max },
        { mechanism },
      );
      await admin.listTopics();
      await waitFor(() => fake.completed >= 3, "two re-authentications");
      await admin.listTopics();
      expect(fake.connections).toBe(1);
      expect(fake.events.filter((e) => e.startsWith("1:handshake")).length).toBeGreaterThanOrEqual(3);
      expect(fake.failures).toBe(0);
      expect(fake.violations).toEqual([]);
    },
  );

  it("a request issued during re-authentication waits for it", async () => {
    const { fake, admin } = await setup({ sessionLifetimeMs: 300 }, { mechanism: "scram-sha-256" });
    await admin.listTopics();
    fake.holdReauth = true;
    await waitFor(() => fake.holding, "the re-authentication to be held");
    const listed = admin.listTopics();
    listed.catch(() => {}); // awaited below; a failed assertion must not leave it unhandled
    const framesWhileHeld = fake.frames;
    // Nothing more reaches the broker while the re-authentication is held.
    await waitForStable(() => fake.frames, "frames while held");
    expect(fake.frames).toBe(framesWhileHeld);
    fake.release();
    await listed;
    const reauthenticated = fake.events.indexOf("1:authenticated", fake.events.indexOf("1:metadata"));
    expect(reauthenticated).toBeGreaterThan(0);
    expect(fake.events.indexOf("1:metadata", reauthenticated)).toBeGreaterThan(reauthenticated);
    expect(fake.connections).toBe(1);
    expect(fake.violations).toEqual([]);
  });

  it("a request waiting for an in-flight slot when re-authentication begins waits for it too", async () => {
    const { fake, admin } = await setup(
      { sessionLifetimeMs: 1_000 },
      { mechanism: "plain" },
      { maxInFlightRequests: 1 },
    );
    await admin.listTopics();
    fake.holdReauth = true;
    // The first request is answered only once the re-authentication's handshake is behind it;
    // the second, issued once the first is in flight, waits for its slot, which frees during the
    // re-authentication.
    fake.holdMetadataUntilHandshake = true;
    const first = admin.listTopics();
    await waitFor(() => fake.holdingMetadata, "the first request to be held");
    const both = Promise.all([first, admin.listTopics()]);
    both.catch(() => {}); // awaited below; a failed assertion must not leave it unhandled
    await waitFor(() => fake.holding, "the re-authentication to be held");
    await waitForStable(() => fake.frames, "frames while held");
    expect(fake.violations).toEqual([]);
    fake.release();
    await both;
    expect(fake.events.slice(-5)).toEqual([
      "1:metadata",
      "1:handshake PLAIN",
      "1:authenticate v2",
      "1:authenticated",
      "1:metadata",
    ]);
    expect(fake.connections).toBe(1);
    expect(fake.violations).toEqual([]);
  });

  it("a refused re-authentication closes the connection; the next one fails with the broker's error", async () => {
    const { fake, admin } = await setup({ sessionLifetimeMs: 300 }, { mechanism: "plain" });
    await admin.listTopics();
    fake.passwords.set(USER, "changed");
    await waitFor(() => fake.failures === 1 && fake.sockets.size === 0, "the refused re-authentication");
    const err = await admin.listTopics().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "SASL_AUTHENTICATION_FAILED", retriable: false });
    expect((err as Error).message).toContain(PLAIN_FAILURE);
    expect(fake.connections).toBe(2);
    expect(fake.violations).toEqual([]);
  });
});
