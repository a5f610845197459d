/** Runs the examples in client/README.md, as written and in order, against one real broker. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
let tb: TestBroker;
beforeAll(async () => {
  // No wait before a new group's first rebalance (Kafka's default waits 3 s for more members).
  tb = await startTestBroker({ "group.initial.rebalance.delay.ms": 0 });
});
afterAll(async () => tb.stop());

const readme = readFileSync(path.join(ROOT, "client/README.md"), "utf8");
const examples = [...readme.matchAll(/```ts example\n([\s\S]*?)```/g)].map((m) => m[1]);

it("has examples", () => {
  expect(examples.length).toBeGreaterThanOrEqual(2);
});

for (const [i, example] of examples.entries()) {
  it(`runs README example ${i + 1}`, async () => {
    // The package name resolves to this checkout's client.
    const code = example.replace(
      /from "samsa\/client"/g,
      `from ${JSON.stringify(path.join(ROOT, "client/index.ts"))}`,
    );
    const dir = mkdtempSync(path.join(ROOT, "test/client/.readme-"));
    try {
      const file = path.join(dir, "example.ts");
      writeFileSync(file, code);
      process.env.SAMSA_BROKERS = `127.0.0.1:${tb.port}`;
      const received = (await import(file)).default as string[];
      expect(received).toHaveLength(3);
      expect(received.map((r) => r.split(" = ")[1]).sort()).toEqual(["bonjour", "hallo", "hello"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
