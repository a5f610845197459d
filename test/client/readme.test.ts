/** Runs the example in client/README.md, as written, against a real broker. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
let tb: TestBroker;
beforeAll(async () => {
  tb = await startTestBroker();
});
afterAll(async () => tb.stop());

it("runs the README example", async () => {
  const readme = readFileSync(path.join(ROOT, "client/README.md"), "utf8");
  const m = /```ts example\n([\s\S]*?)```/.exec(readme);
  expect(m).not.toBeNull();
  // The package name resolves to this checkout's client.
  const code = m![1].replace(
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
