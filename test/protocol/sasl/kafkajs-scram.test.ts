/**
 * samsa's ScramServer against a SCRAM client nobody here wrote: KafkaJS's (a dev dependency, for
 * test/compat), driven without a network. KafkaJS passes SASL tokens with an int32 length prefix
 * inside SaslAuthenticate's bytes; the fake transport below strips and adds it, as its
 * SaslAuthenticate request and response codecs do.
 */
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { KafkaError } from "../../../protocol/errors.js";
import {
  SCRAM_MECHANISMS,
  type ScramMechanismName,
  ScramServer,
  scramCredential,
} from "../../../protocol/sasl/scram.js";

interface KafkaJsScram {
  authenticate(): Promise<void>;
}

interface TokenCodec {
  encode(): Promise<Buffer>;
}

interface ReplyCodec {
  decode(raw: Buffer): Promise<unknown>;
  parse(decoded: unknown): Promise<unknown>;
}

const require = createRequire(import.meta.url);
const { SCRAM, DIGESTS } = require("kafkajs/src/broker/saslAuthenticator/scram.js") as {
  SCRAM: new (
    sasl: { username: string; password: string },
    host: string,
    port: number,
    logger: { debug(): void; error(): void },
    saslAuthenticate: (exchange: { request: TokenCodec; response: ReplyCodec }) => Promise<unknown>,
    digest: unknown,
  ) => KafkaJsScram;
  DIGESTS: { SHA256: unknown; SHA512: unknown };
};

const quiet = { debug: () => {}, error: () => {} };

/**
 * KafkaJS's SCRAM client for `user`, speaking to `server` with no network in between; a failure
 * of the server (what the broker would answer) is pushed to `failures`.
 */
function kafkajsClient(
  mechanism: ScramMechanismName,
  user: string,
  password: string,
  server: ScramServer,
  failures: unknown[] = [],
) {
  const digest = mechanism === "SCRAM-SHA-256" ? DIGESTS.SHA256 : DIGESTS.SHA512;
  const transport = async ({ request, response }: { request: TokenCodec; response: ReplyCodec }) => {
    const token = (await request.encode()).subarray(4);
    const answer = await server.evaluate(token).catch((err: unknown) => {
      failures.push(err);
      throw err;
    });
    const framed = Buffer.alloc(4 + answer.length);
    framed.writeInt32BE(answer.length, 0);
    answer.copy(framed, 4);
    return response.parse(await response.decode(framed));
  };
  return new SCRAM({ username: user, password }, "localhost", 9092, quiet, transport, digest);
}

describe.each(SCRAM_MECHANISMS)("KafkaJS's %s client against ScramServer", (mechanism) => {
  const table = {
    alice: scramCredential(mechanism, "alice-secret", 4096),
    "a,b=c": scramCredential(mechanism, "pässwörd", 8192),
  };
  const lookup = (name: string) => table[name as keyof typeof table];

  it.each([
    ["alice", "alice-secret"],
    ["a,b=c", "pässwörd"],
  ])("authenticates %j, and KafkaJS accepts the server's signature", async (user, password) => {
    const server = new ScramServer(mechanism, lookup);
    await kafkajsClient(mechanism, user, password, server).authenticate();
    expect(server.complete).toBe(true);
    expect(server.username).toBe(user);
  });

  it("refuses KafkaJS with a wrong password, and an unknown user with the same error", async () => {
    const messages: string[] = [];
    for (const [user, password] of [
      ["alice", "wrong"],
      ["nobody", "alice-secret"],
    ]) {
      const server = new ScramServer(mechanism, lookup);
      const failures: unknown[] = [];
      await expect(kafkajsClient(mechanism, user, password, server, failures).authenticate()).rejects.toThrow(
        /SASL SCRAM/,
      );
      expect(failures).toHaveLength(1);
      expect(KafkaError.is(failures[0], "SASL_AUTHENTICATION_FAILED")).toBe(true);
      messages.push((failures[0] as Error).message);
      expect(server.complete).toBe(false);
    }
    expect(messages[1]).toBe(messages[0]);
  });
});
