/**
 * Byte layouts of the SASL, SCRAM-credential and ACL APIs, derived by hand from Kafka's message
 * specs (every version's round trip is in messages.test.ts, which covers every spec).
 */
import { describe, expect, it } from "vitest";
import { type Message, MessageCodec } from "../../protocol/codec.js";
import { API_SPECS } from "../../protocol/messages/index.js";
import { Reader } from "../../protocol/reader.js";
import { Writer } from "../../protocol/writer.js";

function codecOf(key: number, side: "request" | "response"): MessageCodec {
  return new MessageCodec(API_SPECS[key][side]);
}

function encode(codec: MessageCodec, version: number, value: Message): Buffer {
  const w = new Writer(64);
  codec.encode(w, version, value);
  return w.toBuffer();
}

function decode(codec: MessageCodec, version: number, bytes: Buffer): Message {
  const r = new Reader(bytes);
  const out = codec.decode(r, version);
  expect(r.remaining()).toBe(0);
  return out;
}

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ""), "hex");
}

/** The hex of an ASCII text, for the string bodies inside a vector. */
function ascii(text: string): string {
  return Buffer.from(text, "ascii").toString("hex");
}

/** Encodes `value` to exactly `bytes` and decodes `bytes` back to `decoded` (default: `value`). */
function golden(
  key: number,
  side: "request" | "response",
  version: number,
  value: Message,
  bytes: Buffer,
  decoded = value,
) {
  const codec = codecOf(key, side);
  expect(encode(codec, version, value).toString("hex")).toBe(bytes.toString("hex"));
  expect(decode(codec, version, bytes)).toEqual(decoded);
}

describe("SaslHandshake (17)", () => {
  it("v1 request: the mechanism as an int16-length string", () => {
    golden(17, "request", 1, { mechanism: "SCRAM-SHA-256" }, hex(`000d ${ascii("SCRAM-SHA-256")}`));
  });

  it("v0 response: UNSUPPORTED_SASL_MECHANISM and the enabled mechanisms", () => {
    const value = { errorCode: 33, mechanisms: ["PLAIN", "SCRAM-SHA-512"] };
    golden(
      17,
      "response",
      0,
      value,
      hex(`0021 00000002 0005 ${ascii("PLAIN")} 000d ${ascii("SCRAM-SHA-512")}`),
    );
  });
});

describe("SaslAuthenticate (36)", () => {
  const plain = { authBytes: Buffer.from("\0u\0p") };

  it("v0 request: int32-length bytes; v2: compact bytes and a tag section", () => {
    golden(36, "request", 0, plain, hex("00000004 00750070"));
    golden(36, "request", 2, plain, hex("05 00750070 00"));
  });

  it("v0 response has no session lifetime; decoding fills 0", () => {
    const value = { errorCode: 0, errorMessage: null, authBytes: Buffer.from("v=") };
    golden(36, "response", 0, value, hex("0000 ffff 00000002 763d"), { ...value, sessionLifetimeMs: 0 });
  });

  it("v1 response: SASL_AUTHENTICATION_FAILED with a message, no bytes, lifetime 0", () => {
    const value = { errorCode: 58, errorMessage: "bad", authBytes: Buffer.alloc(0), sessionLifetimeMs: 0 };
    golden(36, "response", 1, value, hex(`003a 0003 ${ascii("bad")} 00000000 0000000000000000`));
  });

  it("v2 response: null message as compact 0, lifetime one hour", () => {
    const value = {
      errorCode: 0,
      errorMessage: null,
      authBytes: Buffer.from("v="),
      sessionLifetimeMs: 3_600_000,
    };
    golden(36, "response", 2, value, hex("0000 00 03 763d 000000000036ee80 00"));
  });
});

describe("DescribeUserScramCredentials (50)", () => {
  it("v0 request: every user (null) or named ones", () => {
    golden(50, "request", 0, { users: null }, hex("00 00"));
    golden(50, "request", 0, { users: [{ name: "alice" }] }, hex(`02 06 ${ascii("alice")} 00 00`));
  });

  it("v0 response: a user's mechanism and iterations", () => {
    const value = {
      throttleTimeMs: 0,
      errorCode: 0,
      errorMessage: null,
      results: [
        {
          user: "alice",
          errorCode: 0,
          errorMessage: null,
          credentialInfos: [{ mechanism: 1, iterations: 4096 }],
        },
      ],
    };
    const bytes = hex(
      [
        "00000000 0000 00", // throttle, error, null message
        `02 06 ${ascii("alice")} 0000 00`, // results: 1 -> user, error, null message
        "02 01 00001000 00", // credential infos: 1 -> SCRAM-SHA-256, 4096, tags
        "00 00", // result tags, message tags
      ].join(" "),
    );
    golden(50, "response", 0, value, bytes);
  });
});

describe("AlterUserScramCredentials (51)", () => {
  it("v0 request: a deletion and an upsertion with salt and salted password", () => {
    const value = {
      deletions: [{ name: "old", mechanism: 2 }],
      upsertions: [
        { name: "u", mechanism: 1, iterations: 8192, salt: hex("aabb"), saltedPassword: hex("01") },
      ],
    };
    const bytes = hex(
      [
        `02 04 ${ascii("old")} 02 00`, // deletions: 1 -> "old", SCRAM-SHA-512, tags
        "02 02 75 01 00002000 03 aabb 02 01 00", // upsertions: 1 -> "u", SHA-256, 8192, salt, salted
        "00", // message tags
      ].join(" "),
    );
    golden(51, "request", 0, value, bytes);
  });

  it("v0 response: UNACCEPTABLE_CREDENTIAL for one user", () => {
    const value = {
      throttleTimeMs: 0,
      results: [{ user: "u", errorCode: 93, errorMessage: "Too few iterations" }],
    };
    golden(51, "response", 0, value, hex(`00000000 02 02 75 005d 13 ${ascii("Too few iterations")} 00 00`));
  });
});

const ACL = { principal: "User:a", host: "*" };
const PRINCIPAL = `0006 ${ascii("User:a")}`;
const COMPACT_PRINCIPAL = `07 ${ascii("User:a")}`;

describe("DescribeAcls (29)", () => {
  const filter = { resourceTypeFilter: 2, resourceNameFilter: "t", principalFilter: null, hostFilter: null };

  it("v0 request has no pattern type; decoding fills LITERAL (3)", () => {
    const value = { ...filter, operation: 3, permissionType: 3 };
    golden(29, "request", 0, value, hex("02 0001 74 ffff ffff 03 03"), { ...value, patternTypeFilter: 3 });
  });

  it("v1 request: PREFIXED (4) after the resource name", () => {
    const value = { ...filter, patternTypeFilter: 4, operation: 3, permissionType: 3 };
    golden(29, "request", 1, value, hex("02 0001 74 04 ffff ffff 03 03"));
  });

  it("v2 request: a filter of ANY with compact nullable strings", () => {
    const value = {
      resourceTypeFilter: 1,
      resourceNameFilter: null,
      patternTypeFilter: 1,
      principalFilter: "User:a",
      hostFilter: null,
      operation: 1,
      permissionType: 1,
    };
    golden(29, "request", 2, value, hex(`01 00 01 ${COMPACT_PRINCIPAL} 00 01 01 00`));
  });

  const response = {
    throttleTimeMs: 0,
    errorCode: 0,
    errorMessage: null,
    resources: [
      {
        resourceType: 2,
        resourceName: "t",
        patternType: 3,
        acls: [{ ...ACL, operation: 3, permissionType: 3 }],
      },
    ],
  };

  it("v1 response: one resource and its ACL", () => {
    const bytes = hex(`00000000 0000 ffff 00000001 02 0001 74 03 00000001 ${PRINCIPAL} 0001 2a 03 03`);
    golden(29, "response", 1, response, bytes);
  });

  it("v3 response: the same, flexible", () => {
    const bytes = hex(`00000000 0000 00 02 02 02 74 03 02 ${COMPACT_PRINCIPAL} 02 2a 03 03 00 00 00`);
    golden(29, "response", 3, response, bytes);
  });
});

describe("CreateAcls (30)", () => {
  const creation = { resourceType: 2, resourceName: "t", ...ACL, operation: 4, permissionType: 3 };

  it("v0 request has no pattern type; decoding fills LITERAL (3)", () => {
    const bytes = hex(`00000001 02 0001 74 ${PRINCIPAL} 0001 2a 04 03`);
    golden(30, "request", 0, { creations: [creation] }, bytes, {
      creations: [{ ...creation, resourcePatternType: 3 }],
    });
  });

  it("v1 request: PREFIXED (4) after the resource name", () => {
    const value = { creations: [{ ...creation, resourcePatternType: 4 }] };
    golden(30, "request", 1, value, hex(`00000001 02 0001 74 04 ${PRINCIPAL} 0001 2a 04 03`));
  });

  it("v3 request (flexible, USER resources allowed): compact strings and tag sections", () => {
    const value = { creations: [{ ...creation, resourcePatternType: 3 }] };
    golden(30, "request", 3, value, hex(`02 02 02 74 03 ${COMPACT_PRINCIPAL} 02 2a 04 03 00 00`));
  });

  it("v2 response: one success and one INVALID_REQUEST", () => {
    const value = {
      throttleTimeMs: 0,
      results: [
        { errorCode: 0, errorMessage: null },
        { errorCode: 42, errorMessage: "x" },
      ],
    };
    golden(30, "response", 2, value, hex("00000000 03 0000 00 00 002a 02 78 00 00"));
  });
});

describe("DeleteAcls (31)", () => {
  it("v2 request: a topic filter matching any pattern, principal, host and operation", () => {
    const value = {
      filters: [
        {
          resourceTypeFilter: 2,
          resourceNameFilter: "t",
          patternTypeFilter: 1,
          principalFilter: null,
          hostFilter: null,
          operation: 1,
          permissionType: 1,
        },
      ],
    };
    golden(31, "request", 2, value, hex("02 02 02 74 01 00 00 01 01 00 00"));
  });

  const matching = {
    errorCode: 0,
    errorMessage: null,
    resourceType: 2,
    resourceName: "t",
    patternType: 3,
    ...ACL,
    operation: 3,
    permissionType: 3,
  };
  const response = {
    throttleTimeMs: 0,
    filterResults: [{ errorCode: 0, errorMessage: null, matchingAcls: [matching] }],
  };

  it("v1 response: the ACL a filter removed, with its pattern type", () => {
    const bytes = hex(
      `00000000 00000001 0000 ffff 00000001 0000 ffff 02 0001 74 03 ${PRINCIPAL} 0001 2a 03 03`,
    );
    golden(31, "response", 1, response, bytes);
  });

  it("v3 response: the same, flexible, with a PREFIXED pattern", () => {
    const prefixed = {
      ...response,
      filterResults: [{ ...response.filterResults[0], matchingAcls: [{ ...matching, patternType: 4 }] }],
    };
    const bytes = hex(`00000000 02 0000 00 02 0000 00 02 02 74 04 ${COMPACT_PRINCIPAL} 02 2a 03 03 00 00 00`);
    golden(31, "response", 3, prefixed, bytes);
  });

  it("v0 response: no pattern type on the wire", () => {
    const bytes = hex(`00000000 00000001 0000 ffff 00000001 0000 ffff 02 0001 74 ${PRINCIPAL} 0001 2a 03 03`);
    golden(31, "response", 0, response, bytes);
  });
});
