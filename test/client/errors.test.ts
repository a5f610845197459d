/**
 * A broker's error answer becomes one KafkaError that names its code once: samsa's brokers start
 * their errorMessage with the error's name, and the client's KafkaError adds it again unless
 * `brokerError` drops the broker's copy (the CLI printed "INVALID_CONFIG: ... INVALID_CONFIG: ...").
 */
import { afterEach, describe, expect, it } from "vitest";
import { brokerError } from "../../client/errors.js";
import { Admin } from "../../client/index.js";
import { errorCode } from "../../protocol/errors.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";

function occurrences(text: string, word: string): number {
  return text.split(word).length - 1;
}

describe("brokerError", () => {
  const code = errorCode("INVALID_CONFIG");

  it("says the error's name once, whether or not the broker's message starts with it", () => {
    expect(brokerError(code, "create topic t", "INVALID_CONFIG: bad value").message).toBe(
      "INVALID_CONFIG: create topic t: bad value",
    );
    expect(brokerError(code, "create topic t", "bad value").message).toBe(
      "INVALID_CONFIG: create topic t: bad value",
    );
    expect(brokerError(code, "create topic t", "INVALID_CONFIG").message).toBe(
      "INVALID_CONFIG: create topic t",
    );
    expect(brokerError(code, "create topic t", null).message).toBe("INVALID_CONFIG: create topic t");
    // Another error's name inside the message is the broker's text, kept as it is.
    expect(brokerError(code, "alter t", "POLICY_VIOLATION: no").message).toBe(
      "INVALID_CONFIG: alter t: POLICY_VIOLATION: no",
    );
    expect(brokerError(code, "x", "y")).toMatchObject({ code: "INVALID_CONFIG", retriable: false });
  });
});

describe("Admin errors from a samsa broker", () => {
  let tb: TestBroker | null = null;
  let admin: Admin | null = null;
  afterEach(async () => {
    await admin?.close();
    await tb?.stop();
    admin = null;
    tb = null;
  });

  it("name INVALID_CONFIG once for a refused config value and an unknown key", async () => {
    tb = await startTestBroker();
    admin = new Admin({ brokers: [`127.0.0.1:${tb.port}`] });
    const create = admin.createTopics([{ name: "bad", configs: { "compression.type": "brotli" } }]);
    const refused = await create.catch((err: Error) => err);
    expect(refused).toMatchObject({ code: "INVALID_CONFIG" });
    expect(occurrences((refused as Error).message, "INVALID_CONFIG"), (refused as Error).message).toBe(1);
    expect((refused as Error).message).toMatch(/^INVALID_CONFIG: create topic bad: .*compression\.type/);

    await admin.createTopics([{ name: "good" }]);
    const alter = await admin.alterTopicConfigs("good", { "no.such.config": "1" }).catch((err: Error) => err);
    expect(alter).toMatchObject({ code: "INVALID_CONFIG" });
    expect(occurrences((alter as Error).message, "INVALID_CONFIG"), (alter as Error).message).toBe(1);
  });
});
