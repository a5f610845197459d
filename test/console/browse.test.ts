/**
 * The message browser page (console/pages/browse.js) in Chromium against one broker: picking a
 * topic, searches filtered by key, header and JSON path, binary values as text, hex and base64,
 * "load more" following the cursor, a live tail that shows a record produced while it runs and
 * stops, the live tail filtered in the page, producing from the form, republishing a record through its dialog, and the export of
 * the shown records as JSON lines. Screenshots: browse-topics, browse-filtered, browse-binary-hex,
 * browse-tail, browse-republish.
 */
import { readFileSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { launchBrowser, openConsole, screenshot } from "../helpers/browser.js";

let tb: TestBroker;
let browser: Browser;
let base: string;

async function post(path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await res.json();
  if (!res.ok) throw new Error(`${path}: ${JSON.stringify(answer)}`);
  return answer;
}

const b64 = (s: string | Buffer) => (typeof s === "string" ? Buffer.from(s) : s).toString("base64");

beforeAll(async () => {
  tb = await startTestBroker();
  base = `http://127.0.0.1:${tb.broker.httpPort}`;
  await post("/topics", { name: "orders", partitions: 2 });
  await post("/topics", { name: "audit", partitions: 1 });
  const records = Array.from({ length: 12 }, (_, i) => ({
    key: `order-${i}`,
    value: { id: i, status: i % 4 === 0 ? "refunded" : "paid", items: [{ sku: `SKU-${i}` }] },
    partition: i % 2,
    headers: [{ key: "region", value: b64(i % 3 === 0 ? "eu" : "us") }],
  }));
  await post("/topics/orders", { records });
  await post("/topics/audit", {
    format: "binary",
    records: [{ key: b64("raw"), value: b64(Buffer.from([0xde, 0xad, 0xbe, 0xef])), partition: 0 }],
  });
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await tb?.stop();
});

async function open(hash: string): Promise<{ page: Page; errors: string[] }> {
  const opened = await openConsole(browser, tb.broker.httpPort, hash);
  return opened;
}

const rows = (page: Page) => page.getByTestId("record-row");

async function search(page: Page, fill: Record<string, string>): Promise<void> {
  for (const [testid, value] of Object.entries(fill)) {
    const el = page.getByTestId(testid);
    if ((await el.evaluate((e) => e.tagName)) === "SELECT") await el.selectOption(value);
    else await el.fill(value);
  }
  await page.getByTestId("browse-search").click();
  await page
    .getByTestId("browse-status")
    .filter({ hasText: / shown/ })
    .waitFor();
}

async function keysShown(page: Page): Promise<string[]> {
  return rows(page).locator("td.record-key").allTextContents();
}

describe("message browser", () => {
  it("lists topics to pick from and opens the one picked", async () => {
    const { page, errors } = await open("#/browse");
    await page.getByTestId("browse-topics").getByText("orders").waitFor();
    await screenshot(page, "browse-topics");
    await page.getByTestId("browse-topic").selectOption("orders");
    await page.waitForURL(/#\/browse\/orders$/);
    await expect.poll(() => rows(page).count()).toBe(12);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("filters by key, header and JSON path", async () => {
    const { page, errors } = await open("#/browse/orders");
    await expect.poll(() => rows(page).count()).toBe(12);
    await search(page, { "browse-start": "beginning", "browse-key": "order-1" });
    expect((await keysShown(page)).sort()).toEqual(["order-1", "order-10", "order-11"]);
    await search(page, {
      "browse-key": "",
      "browse-header": "region",
      "browse-header-value": "eu",
      "browse-match": "exact",
    });
    expect((await keysShown(page)).sort()).toEqual(["order-0", "order-3", "order-6", "order-9"]);
    await search(page, {
      "browse-header": "",
      "browse-header-value": "",
      "browse-json-path": "$.status",
      "browse-json-value": "refunded",
    });
    expect((await keysShown(page)).sort()).toEqual(["order-0", "order-4", "order-8"]);
    const value = (await rows(page).first().locator("td.record-value pre").textContent()) ?? "";
    expect(JSON.parse(value)).toMatchObject({ status: "refunded" });
    expect(value).toContain('\n  "status"');
    await screenshot(page, "browse-filtered");
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows binary values as hex or base64 at the toggle", async () => {
    const { page } = await open("#/browse/audit");
    await expect.poll(() => rows(page).count()).toBe(1);
    const cell = rows(page).first().locator("td.record-value");
    const keyCell = rows(page).first().locator("td.record-key");
    // Shown as text where the bytes are UTF-8 (the key), else as hex (the value).
    expect(await keyCell.textContent()).toMatch(/text\s+raw/);
    expect(await cell.textContent()).toContain("deadbeef");
    await page.getByTestId("browse-binary-view").selectOption("base64");
    await expect.poll(() => cell.textContent()).toContain(b64(Buffer.from([0xde, 0xad, 0xbe, 0xef])));
    await page.getByTestId("browse-binary-view").selectOption("hex");
    await expect.poll(() => cell.textContent()).toContain("deadbeef");
    expect(await keyCell.textContent()).toMatch(/hex\s+726177/);
    await screenshot(page, "browse-binary-hex");
    await page.close();
  });

  it("loads more records from the cursor", async () => {
    const { page } = await open("#/browse/orders");
    await search(page, { "browse-start": "beginning", "browse-limit": "5" });
    expect(await rows(page).count()).toBe(5);
    await page.getByTestId("browse-more").click();
    await expect.poll(() => rows(page).count()).toBe(10);
    await page.getByTestId("browse-more").click();
    await expect.poll(() => rows(page).count()).toBe(12);
    const offsets = await rows(page).evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-key")));
    expect(new Set(offsets).size).toBe(12);
    await page.close();
  });

  it("tails new records live until stopped, and produces from the form", async () => {
    const { page, errors } = await open("#/browse/orders");
    await expect.poll(() => rows(page).count()).toBe(12);
    await page.getByTestId("browse-tail").click();
    await page.getByTestId("browse-status").filter({ hasText: "Live tail" }).waitFor();
    await expect
      .poll(async () => {
        await post("/topics/orders", { records: [{ key: "tailed", value: { live: true }, partition: 1 }] });
        return (await keysShown(page)).includes("tailed");
      })
      .toBe(true);
    await page.getByTestId("produce-key").fill("from-form");
    await page.getByTestId("produce-value").fill('{"made": "in the console"}');
    await page.getByTestId("produce-headers").fill("origin: console");
    await page.getByTestId("produce-partition").fill("0");
    await page.getByTestId("produce-submit").click();
    await page.getByTestId("produce-result").filter({ hasText: "Produced to partition 0" }).waitFor();
    await expect.poll(async () => (await keysShown(page)).some((k) => /text\s+from-form/.test(k))).toBe(true);
    const formRow = rows(page).filter({ hasText: "from-form" });
    expect(await formRow.locator("td").nth(5).textContent()).toContain("origin: console");
    await screenshot(page, "browse-tail");
    await page.getByTestId("browse-tail").click();
    await page.getByTestId("browse-status").filter({ hasText: "Live tail stopped" }).waitFor();
    expect(await page.getByTestId("browse-tail").textContent()).toBe("Live tail");
    expect(errors).toEqual([]);
    await page.close();
  });

  it("filters the live tail by the form's filters", async () => {
    const { page, errors } = await open("#/browse/orders");
    await search(page, { "browse-key": "wanted", "browse-match": "exact", "browse-json-path": "$.live" });
    expect(await rows(page).count()).toBe(0);
    await page.getByTestId("browse-tail").click();
    await page.getByTestId("browse-status").filter({ hasText: "Live tail (filtered)" }).waitFor();
    await expect
      .poll(async () => {
        await post("/topics/orders", {
          records: [
            { key: "unwanted", value: { live: 1 } },
            { key: "wanted", value: { other: 1 } },
            { key: "wanted", value: { live: 2 } },
          ],
        });
        return rows(page).count();
      })
      .toBeGreaterThan(0);
    const values = await rows(page).locator("td.record-value").allTextContents();
    expect(values.every((v) => v.includes('"live": 2'))).toBe(true);
    expect(await keysShown(page)).toEqual(values.map(() => "wanted"));
    await page.getByTestId("browse-tail").click();
    expect(errors).toEqual([]);
    await page.close();
  });

  it("republishes a record to another topic and exports the shown records as JSON lines", async () => {
    const { page, errors } = await open("#/browse/orders");
    await search(page, { "browse-start": "beginning", "browse-key": "order-2", "browse-match": "exact" });
    expect(await keysShown(page)).toEqual(["order-2"]);
    const key = await rows(page).first().getAttribute("data-key");
    await page.getByTestId(`republish-${key}`).click();
    await page.getByTestId("republish-topic").selectOption("audit");
    await screenshot(page, "browse-republish");
    await page.getByTestId("republish-ok").click();
    await page.getByTestId("notice-banner").filter({ hasText: "to audit partition 0 at offset 1" }).waitFor();
    const copy = (await (await fetch(`${base}/topics/audit/partitions/0/records?offset=1`)).json()) as {
      key: string;
      value: unknown;
      headers: unknown;
    }[];
    expect(copy[0]).toMatchObject({
      key: "order-2",
      value: { id: 2 },
      headers: [{ key: "region", value: b64("us") }],
    });

    const download = page.waitForEvent("download");
    await page.getByTestId("browse-export").click();
    const file = await (await download).path();
    expect((await download).suggestedFilename()).toBe("orders.jsonl");
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    expect(lines.map((l) => JSON.parse(l).key)).toEqual(["order-2"]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
