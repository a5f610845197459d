import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { KafkaError } from "../../../protocol/errors.js";
import {
  isScramMechanism,
  SCRAM_MAX_ITERATIONS,
  SCRAM_MECHANISMS,
  SCRAM_MIN_ITERATIONS,
  SCRAM_SALT_BYTES,
  ScramClient,
  type ScramCredential,
  type ScramCredentialLookup,
  ScramMechanism,
  type ScramMechanismName,
  ScramServer,
  scramCredential,
  scramCredentialFromSaltedPassword,
  scramFailureMessage,
  scramMechanismCode,
  scramMechanismName,
  scramSaltedPassword,
} from "../../../protocol/sasl/scram.js";

const b = (text: string): Buffer => Buffer.from(text, "utf8");

/** What `promise` rejected with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<KafkaError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(KafkaError);
    return err as KafkaError;
  }
  throw new Error("expected a rejection");
}

function thrown(fn: () => unknown): KafkaError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KafkaError);
    return err as KafkaError;
  }
  throw new Error("expected a throw");
}

/** A lookup over a fixed table of users, per mechanism. */
function users(table: Record<string, ScramCredential>): ScramCredentialLookup {
  return (name) => table[name];
}

/** One full exchange between a ScramClient and a ScramServer. */
async function exchange(client: ScramClient, server: ScramServer): Promise<void> {
  const serverFirst = await server.evaluate(client.firstMessage());
  const serverFinal = await server.evaluate(await client.finalMessage(serverFirst));
  client.verifyServerFinal(serverFinal);
}

// ------------------------------------------------------------------------------------------------
// RFC 7677, section 3: SCRAM-SHA-256, user "user", password "pencil".

const RFC = {
  clientNonce: "rOprNGfwEbeRWgbNEkqO",
  serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
  salt: Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64"),
  clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
  serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
  clientFinal:
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
  serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

function rfcServer(): ScramServer {
  const credential = scramCredential("SCRAM-SHA-256", "pencil", 4096, RFC.salt);
  return new ScramServer("SCRAM-SHA-256", users({ user: credential }), { nonce: () => RFC.serverNonce });
}

describe("RFC 7677's SCRAM-SHA-256 example", () => {
  it("the client writes its client-first and client-final messages and accepts server-final", async () => {
    const client = new ScramClient("SCRAM-SHA-256", "user", "pencil", { nonce: RFC.clientNonce });
    expect(client.firstMessage().toString()).toBe(RFC.clientFirst);
    expect((await client.finalMessage(b(RFC.serverFirst))).toString()).toBe(RFC.clientFinal);
    expect(() => client.verifyServerFinal(b(RFC.serverFinal))).not.toThrow();
  });

  it("the server answers with its server-first and server-final messages", async () => {
    const server = rfcServer();
    expect((await server.evaluate(b(RFC.clientFirst))).toString()).toBe(RFC.serverFirst);
    expect(server.complete).toBe(false);
    expect((await server.evaluate(b(RFC.clientFinal))).toString()).toBe(RFC.serverFinal);
    expect(server.complete).toBe(true);
    expect(server.username).toBe("user");
  });

  it("the credential holds the example's keys, computed here from the RFC's formulas", () => {
    const salted = pbkdf2Sync("pencil", RFC.salt, 4096, 32, "sha256");
    const clientKey = createHmac("sha256", salted).update("Client Key").digest();
    const credential = scramCredential("SCRAM-SHA-256", "pencil", 4096, RFC.salt);
    expect(credential.storedKey).toEqual(createHash("sha256").update(clientKey).digest());
    expect(credential.serverKey).toEqual(createHmac("sha256", salted).update("Server Key").digest());
    expect(credential.salt).toEqual(RFC.salt);
    expect(credential.iterations).toBe(4096);
    expect(scramSaltedPassword("SCRAM-SHA-256", "pencil", RFC.salt, 4096)).toEqual(salted);
    expect(scramCredentialFromSaltedPassword("SCRAM-SHA-256", RFC.salt, salted, 4096)).toEqual(credential);
  });
});

// ------------------------------------------------------------------------------------------------

describe.each(SCRAM_MECHANISMS)("%s round trips", (mechanism) => {
  it.each([
    ["alice", "secret"],
    ["a,b=c", "p,w=d"],
    ["jürgen 東京", "pässwörd 🔑"],
  ])("user %j authenticates and the client checks the server's signature", async (user, password) => {
    const server = new ScramServer(mechanism, users({ [user]: scramCredential(mechanism, password, 4096) }));
    const client = new ScramClient(mechanism, user, password);
    await exchange(client, server);
    expect(server.complete).toBe(true);
    expect(server.username).toBe(user);
  });

  it("escapes ',' and '=' in the user name as =2C and =3D", () => {
    const client = new ScramClient(mechanism, "a,b=c", "x", { nonce: "abc" });
    expect(client.firstMessage().toString()).toBe("n,,n=a=2Cb=3Dc,r=abc");
  });

  it("works at the highest iteration count and with an async lookup", async () => {
    const credential = scramCredential(mechanism, "pw", SCRAM_MAX_ITERATIONS);
    const server = new ScramServer(mechanism, async (name) => (name === "u" ? credential : undefined));
    await exchange(new ScramClient(mechanism, "u", "pw"), server);
    expect(server.username).toBe("u");
  });

  it("passes the mechanism to the lookup", async () => {
    const seen: [string, ScramMechanismName][] = [];
    const server = new ScramServer(mechanism, (name, m) => {
      seen.push([name, m]);
      return undefined;
    });
    await server.evaluate(new ScramClient(mechanism, "who", "pw").firstMessage());
    expect(seen).toEqual([["who", mechanism]]);
  });
});

// ------------------------------------------------------------------------------------------------
// Hand-written client messages, built with the RFC's formulas (not with ScramClient).

interface HandClient {
  mechanism: ScramMechanismName;
  password: string;
  gs2Header: string;
  bare: string;
}

function handFinal(hand: HandClient, serverFirst: string, extra = "", noncePrefix = ""): string {
  const algorithm = hand.mechanism === "SCRAM-SHA-256" ? "sha256" : "sha512";
  const size = algorithm === "sha256" ? 32 : 64;
  const attrs = new Map(serverFirst.split(",").map((a) => [a[0], a.slice(2)]));
  const salted = pbkdf2Sync(
    hand.password,
    Buffer.from(attrs.get("s")!, "base64"),
    Number(attrs.get("i")),
    size,
    algorithm,
  );
  const clientKey = createHmac(algorithm, salted).update("Client Key").digest();
  const storedKey = createHash(algorithm).update(clientKey).digest();
  const withoutProof = `c=${Buffer.from(hand.gs2Header).toString("base64")},r=${noncePrefix}${attrs.get("r")}${extra}`;
  const signature = createHmac(algorithm, storedKey)
    .update(`${hand.bare},${serverFirst},${withoutProof}`)
    .digest();
  const proof = Buffer.from(clientKey.map((byte, i) => byte ^ signature[i]));
  return `${withoutProof},p=${proof.toString("base64")}`;
}

async function handExchange(
  server: ScramServer,
  hand: HandClient,
  extra = "",
): Promise<{ serverFirst: string; serverFinal: string }> {
  const serverFirst = (await server.evaluate(b(hand.gs2Header + hand.bare))).toString();
  const serverFinal = (await server.evaluate(b(handFinal(hand, serverFirst, extra)))).toString();
  return { serverFirst, serverFinal };
}

describe("ScramServer: what Kafka clients may send", () => {
  const mechanism = "SCRAM-SHA-512";
  const credential = scramCredential(mechanism, "pw", 4096);
  const server = () => new ScramServer(mechanism, users({ bob: credential }));

  it("accepts an authzid equal to the user, with the channel binding of that header", async () => {
    const s = server();
    const { serverFinal } = await handExchange(s, {
      mechanism,
      password: "pw",
      gs2Header: "n,a=bob,",
      bare: "n=bob,r=xyz",
    });
    expect(serverFinal).toMatch(/^v=/);
    expect(s.username).toBe("bob");
  });

  it("ignores extensions other than tokenauth, in client-first and client-final", async () => {
    const hand = {
      mechanism,
      password: "pw",
      gs2Header: "n,,",
      bare: "n=bob,r=xyz,foo=bar,tokenauth=false",
    } as const;
    const s = server();
    await handExchange(s, hand, ",ext=1");
    expect(s.username).toBe("bob");
  });

  it("refuses an authzid other than the user, saying so as Kafka does", async () => {
    const err = await rejection(server().evaluate(b("n,a=alice,n=bob,r=xyz")));
    expect(err.code).toBe("SASL_AUTHENTICATION_FAILED");
    expect(err.message).toContain("authorization id that is different from username");
  });

  it("refuses Kafka's delegation-token extension (tokenauth=true): samsa has no tokens", async () => {
    const err = await rejection(server().evaluate(b("n,,n=bob,r=xyz,tokenauth=true")));
    expect(err.code).toBe("SASL_AUTHENTICATION_FAILED");
    expect(err.message).toContain(scramFailureMessage(mechanism));
  });
});

describe("ScramServer: failures look alike", () => {
  const mechanism = "SCRAM-SHA-256";
  const stored = scramCredential(mechanism, "right", 4096);
  const lookup = users({ alice: stored });

  it("a wrong password fails at client-final with Kafka's generic message", async () => {
    const server = new ScramServer(mechanism, lookup);
    const client = new ScramClient(mechanism, "alice", "wrong");
    const serverFirst = await server.evaluate(client.firstMessage());
    const err = await rejection(server.evaluate(await client.finalMessage(serverFirst)));
    expect(err.code).toBe("SASL_AUTHENTICATION_FAILED");
    expect(err.message).toBe(`SASL_AUTHENTICATION_FAILED: ${scramFailureMessage(mechanism)}`);
    expect(server.complete).toBe(false);
    expect(() => server.username).toThrow(/ILLEGAL_SASL_STATE/);
  });

  it("an unknown user gets a server-first like a known one and the same error at the proof", async () => {
    const first = async (user: string, key = Buffer.from("k")) => {
      const server = new ScramServer(mechanism, lookup, { fakeSaltKey: key });
      const client = new ScramClient(mechanism, user, "wrong");
      const serverFirst = (await server.evaluate(client.firstMessage())).toString();
      const err = await rejection(server.evaluate(await client.finalMessage(b(serverFirst))));
      return { serverFirst, err };
    };
    const shape = (m: string) => {
      const [r, s, i] = m.split(",");
      return [r.length, Buffer.from(s.slice(2), "base64").length, i];
    };
    const known = await first("alice");
    const unknown = await first("mallory");
    expect(shape(unknown.serverFirst)).toEqual(shape(known.serverFirst));
    expect(shape(known.serverFirst)[1]).toBe(SCRAM_SALT_BYTES);
    expect(unknown.err.code).toBe(known.err.code);
    expect(unknown.err.message).toBe(known.err.message);
    // Only the cause, for the broker's log, tells them apart.
    expect((known.err.cause as Error).message).toBe("wrong proof");
    expect((unknown.err.cause as Error).message).toBe("unknown user");
    // The unknown user's salt is stable, as a real one is, and differs between names and keys.
    const salt = (m: string) => m.split(",")[1];
    expect(salt((await first("mallory")).serverFirst)).toBe(salt(unknown.serverFirst));
    expect(salt((await first("trudy")).serverFirst)).not.toBe(salt(unknown.serverFirst));
    expect(salt((await first("mallory", Buffer.from("other"))).serverFirst)).not.toBe(
      salt(unknown.serverFirst),
    );
  });

  it("a stored credential below 4096 iterations is treated as no credential", async () => {
    const weak = { ...scramCredential(mechanism, "pw", 4096), iterations: 1000 };
    const server = new ScramServer(mechanism, users({ old: weak }));
    const serverFirst = (await server.evaluate(b("n,,n=old,r=abc"))).toString();
    expect(serverFirst).toMatch(/,i=4096$/);
    const hand = { mechanism, password: "pw", gs2Header: "n,,", bare: "n=old,r=abc" } as const;
    const err = await rejection(server.evaluate(b(handFinal(hand, serverFirst))));
    expect(err.code).toBe("SASL_AUTHENTICATION_FAILED");
  });

  it("a lookup that throws fails with the generic message, the reason kept as its cause", async () => {
    const server = new ScramServer(mechanism, async () => {
      throw new Error("store down");
    });
    const err = await rejection(server.evaluate(b("n,,n=alice,r=abc")));
    expect(err.message).toBe(`SASL_AUTHENTICATION_FAILED: ${scramFailureMessage(mechanism)}`);
    expect((err.cause as Error).message).toBe("store down");
  });

  it("a client-final with a tampered nonce fails", async () => {
    const server = new ScramServer(mechanism, lookup);
    const client = new ScramClient(mechanism, "alice", "right");
    const serverFirst = await server.evaluate(client.firstMessage());
    const final = (await client.finalMessage(serverFirst)).toString();
    const tampered = final.replace(
      /,r=([^,]*)/,
      (_, n: string) => `,r=${n.slice(0, -1)}${n.endsWith("A") ? "B" : "A"}`,
    );
    expect(tampered).not.toBe(final);
    const err = await rejection(server.evaluate(b(tampered)));
    expect(err.message).toContain(scramFailureMessage(mechanism));
    expect((err.cause as Error).message).toMatch(/nonce/);
  });

  it("takes librdkafka's client-final, whose nonce repeats the client's in front (as Kafka does)", async () => {
    const server = new ScramServer(mechanism, lookup);
    const hand: HandClient = { mechanism, password: "right", gs2Header: "n,,", bare: "n=alice,r=CLIENTPART" };
    const serverFirst = (await server.evaluate(b(`n,,${hand.bare}`))).toString();
    const final = await server.evaluate(b(handFinal(hand, serverFirst, "", "CLIENTPART")));
    expect(final.toString()).toMatch(/^v=/);
    expect(server.complete).toBe(true);
  });

  it("a channel binding that does not match the gs2 header fails", async () => {
    const server = new ScramServer(mechanism, users({ alice: scramCredential(mechanism, "pw", 4096) }));
    const serverFirst = (await server.evaluate(b("n,a=alice,n=alice,r=abc"))).toString();
    // Proof computed for header "n,," (c=biws) although the client sent "n,a=alice,".
    const hand = { mechanism, password: "pw", gs2Header: "n,,", bare: "n=alice,r=abc" } as const;
    const err = await rejection(server.evaluate(b(handFinal(hand, serverFirst))));
    expect((err.cause as Error).message).toMatch(/channel binding/);
  });

  it.each([
    ["y,,n=alice,r=abc", /channel binding/],
    ["p=tls-unique,,n=alice,r=abc", /channel binding/],
  ])("refuses channel binding flags: %s", async (message, reason) => {
    const err = await rejection(new ScramServer(mechanism, lookup).evaluate(b(message)));
    expect(err.message).toBe(`SASL_AUTHENTICATION_FAILED: ${scramFailureMessage(mechanism)}`);
    expect((err.cause as Error).message).toMatch(reason);
  });

  it.each([
    "",
    "n",
    "n,,",
    "n,,n=alice",
    "n,,r=abc,n=alice",
    "x,,n=alice,r=abc",
    "n,x,n=alice,r=abc",
    "n,,m=ext,n=alice,r=abc",
    "n,,n=al=ice,r=abc",
    "n,,n=alice,r=",
    "n,,n=alice,r=a b",
    "n,,n=alice,r=abc,",
    "n,,n=alice,r=abc,junk",
    "n,,n=,r=abc",
    "n,,n=al\0ice,r=abc",
    `n,,n=alice,r=${"x".repeat(5000)}`,
  ])("refuses malformed client-first #%# and then any further message", async (message) => {
    const server = new ScramServer(mechanism, lookup);
    const err = await rejection(server.evaluate(b(message)));
    expect(err.message).toBe(`SASL_AUTHENTICATION_FAILED: ${scramFailureMessage(mechanism)}`);
    expect((await rejection(server.evaluate(b("n,,n=alice,r=abc")))).code).toBe("ILLEGAL_SASL_STATE");
  });

  it("refuses a client-first that is not UTF-8", async () => {
    const message = Buffer.concat([b("n,,n="), Buffer.from([0xff, 0xfe]), b(",r=abc")]);
    const err = await rejection(new ScramServer(mechanism, lookup).evaluate(message));
    expect((err.cause as Error).message).toMatch(/UTF-8/);
  });

  it.each([
    ["no proof", (final: string) => final.replace(/,p=.*/, "")],
    ["a short proof", (final: string) => final.replace(/,p=.*/, ",p=AAAA")],
    ["a proof not base64", (final: string) => final.replace(/,p=.*/, ",p=!!!!")],
    ["no channel binding", (final: string) => final.replace(/^c=biws,/, "")],
    ["a channel binding not base64", (final: string) => final.replace(/^c=biws/, "c=b")],
    [
      "a flipped proof bit",
      (final: string) => final.replace(/p=(.)/, (_, c: string) => `p=${c === "A" ? "B" : "A"}`),
    ],
  ])("refuses a client-final with %s", async (_, tamper) => {
    const server = new ScramServer(mechanism, lookup);
    const client = new ScramClient(mechanism, "alice", "right");
    const final = (await client.finalMessage(await server.evaluate(client.firstMessage()))).toString();
    const err = await rejection(server.evaluate(b(tamper(final))));
    expect(err.message).toBe(`SASL_AUTHENTICATION_FAILED: ${scramFailureMessage(mechanism)}`);
  });
});

describe("ScramServer: state", () => {
  const mechanism = "SCRAM-SHA-256";
  const credential = scramCredential(mechanism, "pw", 4096);

  it("refuses a message after completion with ILLEGAL_SASL_STATE, and stays complete", async () => {
    const server = new ScramServer(mechanism, users({ u: credential }));
    await exchange(new ScramClient(mechanism, "u", "pw"), server);
    expect((await rejection(server.evaluate(b("n,,n=u,r=abc")))).code).toBe("ILLEGAL_SASL_STATE");
    expect(server.complete).toBe(true);
    expect(server.username).toBe("u");
  });

  it("refuses a message that arrives during the lookup, and the exchange then fails", async () => {
    let release: (c: ScramCredential) => void = () => {};
    const server = new ScramServer(mechanism, () => new Promise<ScramCredential>((r) => (release = r)));
    const first = server.evaluate(b("n,,n=u,r=abc"));
    expect((await rejection(server.evaluate(b("c=biws,r=abc,p=AAAA")))).code).toBe("ILLEGAL_SASL_STATE");
    release(credential);
    expect((await rejection(first)).code).toBe("SASL_AUTHENTICATION_FAILED");
    expect(server.complete).toBe(false);
  });
});

// ------------------------------------------------------------------------------------------------

describe("ScramClient checks the server", () => {
  const mechanism = "SCRAM-SHA-256";
  const client = () => new ScramClient(mechanism, "user", "pencil", { nonce: RFC.clientNonce });

  it.each([
    ["a nonce that does not extend its own", "r=other,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", /nonce/],
    ["a nonce equal to its own", "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", /nonce/],
    ["4095 iterations", "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095", /iteration/],
    ["16385 iterations", "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=16385", /iteration/],
    [
      "a huge iteration count",
      "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999",
      /iteration/,
    ],
    ["an empty salt", "r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096", /attribute/],
    ["a salt not base64", "r=rOprNGfwEbeRWgbNEkqOx,s=W22,i=4096", /base64/],
    ["no iteration count", "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==", /expected attribute i/],
    ["a mandatory extension", "m=x,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", /mandatory/],
  ])("refuses a server-first with %s", async (_, serverFirst, reason) => {
    const c = client();
    c.firstMessage();
    const err = await rejection(c.finalMessage(b(serverFirst)));
    expect(err.code).toBe("SASL_AUTHENTICATION_FAILED");
    expect(err.message).toMatch(reason);
  });

  it("takes a lower iteration bound of its own", async () => {
    const c = new ScramClient(mechanism, "user", "pencil", { nonce: RFC.clientNonce, maxIterations: 4095 });
    c.firstMessage();
    expect((await rejection(c.finalMessage(b(RFC.serverFirst)))).message).toMatch(/iteration/);
  });

  it("refuses a wrong server signature and reports a server error", async () => {
    for (const [serverFinal, reason] of [
      ["v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", /invalid server signature/],
      ["v=AAAA", /invalid server signature/],
      ["e=invalid-proof", /server reported invalid-proof/],
      ["x=1", /expected attribute v/],
    ] as const) {
      const c = client();
      c.firstMessage();
      await c.finalMessage(b(RFC.serverFirst));
      const err = thrown(() => c.verifyServerFinal(b(serverFinal)));
      expect(err.code).toBe("SASL_AUTHENTICATION_FAILED");
      expect(err.message).toMatch(reason);
    }
  });

  it("refuses calls out of turn with ILLEGAL_SASL_STATE", async () => {
    expect(thrown(() => client().verifyServerFinal(b(RFC.serverFinal))).code).toBe("ILLEGAL_SASL_STATE");
    expect((await rejection(client().finalMessage(b(RFC.serverFirst)))).code).toBe("ILLEGAL_SASL_STATE");
    const c = client();
    c.firstMessage();
    expect(thrown(() => c.firstMessage()).code).toBe("ILLEGAL_SASL_STATE");
  });

  it("refuses a nonce it cannot send", () => {
    expect(thrown(() => new ScramClient(mechanism, "u", "p", { nonce: "a,b" })).code).toBe(
      "SASL_AUTHENTICATION_FAILED",
    );
  });
});

describe("credentials", () => {
  it.each(SCRAM_MECHANISMS)("%s: keys of the hash's size, a fresh 32-byte salt by default", (mechanism) => {
    const size = mechanism === "SCRAM-SHA-256" ? 32 : 64;
    const a = scramCredential(mechanism, "pw", 4096);
    const c = scramCredential(mechanism, "pw", 4096);
    expect(a.salt.length).toBe(SCRAM_SALT_BYTES);
    expect(a.storedKey.length).toBe(size);
    expect(a.serverKey.length).toBe(size);
    expect(a.salt).not.toEqual(c.salt);
    expect(a.storedKey).not.toEqual(c.storedKey);
  });

  it("refuses iteration counts outside 4096..16384 with UNACCEPTABLE_CREDENTIAL", () => {
    const salt = Buffer.from("salt");
    for (const [iterations, message] of [
      [SCRAM_MIN_ITERATIONS - 1, /Too few iterations/],
      [SCRAM_MAX_ITERATIONS + 1, /Too many iterations/],
      [4096.5, /Too few iterations/],
    ] as const) {
      const fromPassword = thrown(() => scramCredential("SCRAM-SHA-256", "pw", iterations, salt));
      expect(fromPassword.code).toBe("UNACCEPTABLE_CREDENTIAL");
      expect(fromPassword.message).toMatch(message);
      const fromSalted = thrown(() =>
        scramCredentialFromSaltedPassword("SCRAM-SHA-512", salt, Buffer.alloc(64, 1), iterations),
      );
      expect(fromSalted.code).toBe("UNACCEPTABLE_CREDENTIAL");
    }
    expect(scramCredential("SCRAM-SHA-256", "pw", SCRAM_MAX_ITERATIONS, salt).iterations).toBe(16384);
  });

  it("refuses an empty salt or salted password", () => {
    expect(
      thrown(() => scramCredentialFromSaltedPassword("SCRAM-SHA-256", Buffer.alloc(0), b("x"), 4096)).code,
    ).toBe("UNACCEPTABLE_CREDENTIAL");
    expect(
      thrown(() => scramCredentialFromSaltedPassword("SCRAM-SHA-256", b("s"), Buffer.alloc(0), 4096)).code,
    ).toBe("UNACCEPTABLE_CREDENTIAL");
  });

  it("maps Kafka's ScramMechanism codes", () => {
    expect(ScramMechanism).toEqual({ UNKNOWN: 0, SCRAM_SHA_256: 1, SCRAM_SHA_512: 2 });
    expect(scramMechanismCode("SCRAM-SHA-256")).toBe(1);
    expect(scramMechanismCode("SCRAM-SHA-512")).toBe(2);
    expect(scramMechanismName(1)).toBe("SCRAM-SHA-256");
    expect(scramMechanismName(2)).toBe("SCRAM-SHA-512");
    expect(scramMechanismName(0)).toBeUndefined();
    expect(scramMechanismName(3)).toBeUndefined();
    expect(isScramMechanism("SCRAM-SHA-512")).toBe(true);
    expect(isScramMechanism("scram-sha-512")).toBe(false);
    expect(isScramMechanism("PLAIN")).toBe(false);
  });
});
