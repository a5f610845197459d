/**
 * SASL PLAIN (RFC 4616): the client's single message is `[authzid] NUL authcid NUL passwd` in
 * UTF-8. Kafka takes authcid as the user name and accepts an authzid only when it is empty or
 * equal to the user name. This file parses and builds that message; checking the password is the
 * caller's (compare in constant time).
 */
import { KafkaError } from "../errors.js";

/** RFC 4616: authzid, authcid and passwd are each at most 255 octets. */
export const PLAIN_PART_MAX_BYTES = 255;

/** The longest PLAIN message: three parts of at most 255 bytes and two NULs. */
export const PLAIN_MESSAGE_MAX_BYTES = 3 * PLAIN_PART_MAX_BYTES + 2;

/** What a PLAIN message names: the user (authcid) and the password. */
export interface PlainCredentials {
  username: string;
  password: string;
}

const NUL = 0;
const utf8 = new TextDecoder("utf-8", { fatal: true });

function refuse(reason: string): KafkaError {
  return new KafkaError("SASL_AUTHENTICATION_FAILED", `Invalid SASL/PLAIN response: ${reason}`);
}

function decodePart(bytes: Buffer, what: string): string {
  if (bytes.length > PLAIN_PART_MAX_BYTES) throw refuse(`${what} longer than ${PLAIN_PART_MAX_BYTES} bytes`);
  try {
    return utf8.decode(bytes);
  } catch {
    throw refuse(`${what} is not UTF-8`);
  }
}

/**
 * Parses a client's PLAIN message into the user name and password. Throws
 * SASL_AUTHENTICATION_FAILED, with a message safe to send to the client, when the message does
 * not hold exactly three NUL-separated parts, a part is longer than 255 bytes or not UTF-8, the
 * user name or password is empty, or the authzid is neither empty nor the user name.
 */
export function parsePlain(message: Buffer): PlainCredentials {
  if (message.length > PLAIN_MESSAGE_MAX_BYTES) throw refuse("message too long");
  const first = message.indexOf(NUL);
  const second = first < 0 ? -1 : message.indexOf(NUL, first + 1);
  if (second < 0 || message.indexOf(NUL, second + 1) >= 0) throw refuse("expected 3 tokens");
  const authzid = decodePart(message.subarray(0, first), "authorization id");
  const username = decodePart(message.subarray(first + 1, second), "username");
  const password = decodePart(message.subarray(second + 1), "password");
  if (username.length === 0) throw refuse("username not specified");
  if (password.length === 0) throw refuse("password not specified");
  if (authzid.length > 0 && authzid !== username) {
    throw new KafkaError(
      "SASL_AUTHENTICATION_FAILED",
      "Authentication failed: Client requested an authorization id that is different from username",
    );
  }
  return { username, password };
}

function encodePart(text: string, what: string): Buffer {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length > PLAIN_PART_MAX_BYTES || bytes.includes(NUL)) {
    throw new KafkaError(
      "UNACCEPTABLE_CREDENTIAL",
      `SASL/PLAIN ${what} must be at most ${PLAIN_PART_MAX_BYTES} bytes of UTF-8 without NUL`,
    );
  }
  return bytes;
}

/**
 * The client's PLAIN message for a user and password, with an empty authzid (as Kafka's client
 * sends it). Throws UNACCEPTABLE_CREDENTIAL for an empty user name or password, a part longer
 * than 255 bytes, or one holding NUL.
 */
export function encodePlain(credentials: PlainCredentials): Buffer {
  const username = encodePart(credentials.username, "username");
  const password = encodePart(credentials.password, "password");
  if (username.length === 0 || password.length === 0) {
    throw new KafkaError("UNACCEPTABLE_CREDENTIAL", "SASL/PLAIN username and password must not be empty");
  }
  return Buffer.concat([Buffer.from([NUL]), username, Buffer.from([NUL]), password]);
}
