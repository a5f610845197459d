import { describe, expect, it } from "vitest";
import { KafkaError } from "../../../protocol/errors.js";
import {
  encodePlain,
  PLAIN_MESSAGE_MAX_BYTES,
  PLAIN_PART_MAX_BYTES,
  parsePlain,
} from "../../../protocol/sasl/plain.js";

/** `[authzid] NUL authcid NUL passwd` from its three parts. */
const message = (authzid: string, user: string, password: string): Buffer =>
  Buffer.from(`${authzid}\0${user}\0${password}`, "utf8");

function refusal(fn: () => unknown): KafkaError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KafkaError);
    return err as KafkaError;
  }
  throw new Error("expected a throw");
}

describe("parsePlain", () => {
  it("reads the user and password, with an empty authzid or one equal to the user", () => {
    expect(parsePlain(message("", "alice", "secret"))).toEqual({ username: "alice", password: "secret" });
    expect(parsePlain(message("alice", "alice", "secret"))).toEqual({
      username: "alice",
      password: "secret",
    });
  });

  it("takes UTF-8 names and passwords, and parts of exactly 255 bytes", () => {
    expect(parsePlain(message("", "jürgen", "pässwörd 🔑"))).toEqual({
      username: "jürgen",
      password: "pässwörd 🔑",
    });
    const long = "x".repeat(PLAIN_PART_MAX_BYTES);
    const parsed = parsePlain(message(long, long, long));
    expect(parsed).toEqual({ username: long, password: long });
    expect(message(long, long, long).length).toBe(PLAIN_MESSAGE_MAX_BYTES);
  });

  it("keeps commas, equals signs and spaces as they are", () => {
    expect(parsePlain(message("", "a,b=c d", " p=w, "))).toEqual({ username: "a,b=c d", password: " p=w, " });
  });

  it.each([
    ["no NUL", Buffer.from("alice secret"), /expected 3 tokens/],
    ["one NUL", Buffer.from("alice\0secret"), /expected 3 tokens/],
    ["three NULs", Buffer.from("\0alice\0sec\0ret"), /expected 3 tokens/],
    ["an empty message", Buffer.alloc(0), /expected 3 tokens/],
    ["an empty user", message("", "", "secret"), /username not specified/],
    ["an empty password", message("", "alice", ""), /password not specified/],
    ["a user of 256 bytes", message("", "u".repeat(256), "p"), /username longer than 255/],
    ["a password of 256 bytes", message("", "u", "p".repeat(256)), /password longer than 255/],
    ["an authzid of 256 bytes", message("a".repeat(256), "u", "p"), /authorization id longer than 255/],
    ["a message over 767 bytes", Buffer.alloc(PLAIN_MESSAGE_MAX_BYTES + 1, 0x61), /too long/],
    ["a user that is not UTF-8", Buffer.from([0, 0xc3, 0x28, 0, 0x70]), /username is not UTF-8/],
    ["a password that is not UTF-8", Buffer.from([0, 0x75, 0, 0xff]), /password is not UTF-8/],
  ])("refuses %s with SASL_AUTHENTICATION_FAILED", (_, bytes, reason) => {
    const err = refusal(() => parsePlain(bytes));
    expect(err.code).toBe("SASL_AUTHENTICATION_FAILED");
    expect(err.message).toMatch(reason);
  });

  it("refuses an authzid other than the user, in Kafka's words", () => {
    const err = refusal(() => parsePlain(message("admin", "alice", "secret")));
    expect(err.code).toBe("SASL_AUTHENTICATION_FAILED");
    expect(err.message).toContain("Client requested an authorization id that is different from username");
  });

  it("never puts the password in an error message", () => {
    for (const bytes of [message("admin", "alice", "hunter2"), message("", "", "hunter2")]) {
      expect(refusal(() => parsePlain(bytes)).message).not.toContain("hunter2");
    }
  });
});

describe("encodePlain", () => {
  it("writes an empty authzid, the user and the password, as Kafka's client does", () => {
    expect(encodePlain({ username: "alice", password: "secret" })).toEqual(Buffer.from("\0alice\0secret"));
  });

  it("round-trips through parsePlain", () => {
    const credentials = { username: "jürgen,=", password: "🔑".repeat(63) };
    expect(parsePlain(encodePlain(credentials))).toEqual(credentials);
  });

  it.each([
    ["an empty user", { username: "", password: "p" }],
    ["an empty password", { username: "u", password: "" }],
    ["a NUL in the user", { username: "a\0b", password: "p" }],
    ["a NUL in the password", { username: "u", password: "a\0b" }],
    ["a password of 256 bytes", { username: "u", password: "é".repeat(128) }],
  ])("refuses %s with UNACCEPTABLE_CREDENTIAL", (_, credentials) => {
    expect(refusal(() => encodePlain(credentials)).code).toBe("UNACCEPTABLE_CREDENTIAL");
  });
});
