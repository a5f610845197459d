/**
 * The broker's own login on a SASL inter-broker listener, from Kafka's keys: `sasl.jaas.config`
 * (security/jaas.ts: Kafka's SCRAM and PLAIN login modules, anything else refused),
 * `sasl.mechanism.inter.broker.protocol` (default: the first of sasl.enabled.mechanisms), checked
 * at load in one INVALID_CONFIG line that never shows the password; and Kafka's `--add-scram`
 * form (broker/format.ts), refused likewise.
 */
import { describe, expect, it } from "vitest";
import { loadBrokerConfig } from "../../../broker/config.js";
import { parseAddScram } from "../../../broker/format.js";
import { brokerListeners, interBrokerListener, interBrokerSasl } from "../../../broker/net/listeners.js";
import { parseJaasConfig } from "../../../broker/security/jaas.js";

const SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule";
const PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule";

/** The error `run` throws. */
function thrown(run: () => unknown): Error & { code?: string } {
  try {
    run();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error("nothing thrown");
}

/** Expects one INVALID_CONFIG line holding `message` and not `secret`. */
function expectRefused(run: () => unknown, message: string, secret = "s3cret"): void {
  const err = thrown(run);
  expect(err.code).toBe("INVALID_CONFIG");
  expect(err.message).toContain(message);
  expect(err.message).not.toContain("\n");
  expect(err.message).not.toContain(secret);
}

describe("sasl.jaas.config", () => {
  it("gives the username and password of Kafka's SCRAM and PLAIN login modules", () => {
    expect(parseJaasConfig(`${SCRAM} required username="broker" password="s3cret";`)).toEqual({
      loginModule: SCRAM,
      username: "broker",
      password: "s3cret",
    });
    // Words unquoted, other options ignored, escapes and ; = inside quotes, any control flag.
    expect(
      parseJaasConfig(
        `  ${PLAIN}  Optional\n username=broker-1 serviceName="kafka" password="a\\"b;c=d\\\\" ; `,
      ),
    ).toEqual({ loginModule: PLAIN, username: "broker-1", password: 'a"b;c=d\\' });
    expect(parseJaasConfig(`${SCRAM} required username='broker' password='it"s';`).password).toBe('it"s');
  });

  it.each([
    ["", "expected a login module class name"],
    [
      `com.sun.security.auth.module.Krb5LoginModule required principal="k" password="s3cret";`,
      "Krb5LoginModule is not supported",
    ],
    [`${SCRAM} username="b" password="s3cret";`, "expected a control flag"],
    [`${SCRAM} required username="b" password="s3cret"`, "must end with ;"],
    [`${SCRAM} required username="b" password="s3cret`, "a quoted value is not closed"],
    [`${SCRAM} required password="s3cret";`, "needs a username"],
    [`${SCRAM} required username="b";`, "needs a password"],
    [`${SCRAM} required username="b" password "s3cret";`, "expected options name=value"],
    [`${SCRAM} required username="b" password="s3cret" password="s3cret";`, "password is given twice"],
    [
      `${SCRAM} required username="b" password="s3cret"; ${PLAIN} required username="c" password="d";`,
      "more than one login module",
    ],
  ])("refuses %j in one line without its value", (value, message) => {
    expectRefused(() => parseJaasConfig(value), message);
    expect(thrown(() => parseJaasConfig(value)).message).toMatch(/^INVALID_CONFIG: sasl\.jaas\.config: /);
  });
});

describe("the inter-broker login at load", () => {
  const sasl = {
    "data.dir": "/tmp/x",
    cluster: "etcd://127.0.0.1:2379",
    listeners: "CLIENT://:9092,INTERNAL://:9093",
    "listener.security.protocol.map": "CLIENT:PLAINTEXT,INTERNAL:SASL_PLAINTEXT",
    "inter.broker.listener.name": "INTERNAL",
    "sasl.jaas.config": `${SCRAM} required username="broker" password="s3cret";`,
  };
  const login = (flags: Record<string, unknown>) => {
    const config = loadBrokerConfig({ flags: { ...sasl, ...flags } });
    return interBrokerSasl(config, interBrokerListener(config, brokerListeners(config)));
  };

  it("takes the first enabled mechanism unless sasl.mechanism.inter.broker.protocol names one", () => {
    expect(login({})).toMatchObject({ mechanism: "SCRAM-SHA-256", username: "broker", password: "s3cret" });
    expect(login({ "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512" })?.mechanism).toBe("PLAIN");
    expect(login({ "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512" })?.mechanism).toBe(
      "SCRAM-SHA-512",
    );
  });

  it("needs none without peers or on a listener without SASL, but checks a given sasl.jaas.config", () => {
    expect(login({ cluster: "" })).toBeNull();
    expect(login({ "inter.broker.listener.name": "CLIENT" })).toBeNull();
    expectRefused(
      () => login({ cluster: "", "sasl.jaas.config": `${SCRAM} required password="s3cret";` }),
      "needs a username",
    );
  });

  it.each([
    [
      { "sasl.jaas.config": "" },
      "the inter-broker listener INTERNAL (SASL_PLAINTEXT) needs the broker's username and password",
    ],
    [
      { "sasl.enabled.mechanisms": "PLAIN", "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512" },
      "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512: is not one of sasl.enabled.mechanisms (PLAIN)",
    ],
    [{ "sasl.mechanism.inter.broker.protocol": "GSSAPI" }, "sasl.mechanism.inter.broker.protocol=GSSAPI"],
    [
      {
        "listener.name.internal.scram-sha-256.sasl.jaas.config": `${SCRAM} required username="b" password="s3cret";`,
      },
      "is not supported: give the broker's login in sasl.jaas.config",
    ],
  ])("refuses %j in one line", (flags, message) => {
    expectRefused(() => login(flags), message);
  });
});

describe("--add-scram", () => {
  it("reads Kafka's MECHANISM=[name=...,password=...] form", () => {
    expect(parseAddScram("SCRAM-SHA-256=[name=alice,password=alice-secret]")).toEqual({
      mechanism: "SCRAM-SHA-256",
      user: "alice",
      password: "alice-secret",
      iterations: 4096,
    });
    expect(parseAddScram('scram-sha-512=[name="bob",password="a,b]\\"c",iterations=8192]')).toEqual({
      mechanism: "SCRAM-SHA-512",
      user: "bob",
      password: 'a,b]"c',
      iterations: 8192,
    });
  });

  it.each([
    ["alice:s3cret", "expected MECHANISM=[name=...,password=...]"],
    ["PLAIN=[name=alice,password=s3cret]", "PLAIN is not one of SCRAM-SHA-256, SCRAM-SHA-512"],
    ["SCRAM-SHA-256=[password=s3cret]", "needs name=<user>"],
    ["SCRAM-SHA-256=[name=alice]", "user alice needs password=<password>"],
    ["SCRAM-SHA-256=[name=alice,password=s3cret,iterations=100]", "iterations must be 4096 to 16384"],
    ["SCRAM-SHA-256=[name=alice,password=s3cret,salt=abc]", "salt is not supported"],
    ['SCRAM-SHA-256=[name=alice,password="s3cret]', "a quoted value is not closed"],
  ])("refuses %j in one line without the password", (text, message) => {
    expectRefused(() => parseAddScram(text), `--add-scram: ${message}`);
  });
});
