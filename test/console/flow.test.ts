/**
 * The flow through the console in Chromium (issue 16): create a topic on the topics page
 * -> produce records from the message browser's form -> browse with a JSON-path filter -> a
 * consumer group (the samsa client) reads them all and its offsets and lag (0) show on the groups
 * page -> reset its offsets to the earliest with a preview, and the lag is every record again.
 * Screenshots at each step:
 * flow-1-topic, flow-2-produced, flow-3-filtered, flow-4-lag, flow-5-reset.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { launchBrowser, openConsole, screenshot } from "../helpers/browser.js";
import { groupThatRead } from "../helpers/console-data.js";

let tb: TestBroker;
let browser: Browser;

beforeAll(async () => {
  tb = await startTestBroker();
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await tb?.stop();
});

const SHIPMENTS = [
  { key: "parcel-1", value: '{"status": "delivered", "city": "Oslo"}', partition: "0" },
  { key: "parcel-2", value: '{"status": "lost", "city": "Bergen"}', partition: "1" },
  { key: "parcel-3", value: '{"status": "delivered", "city": "Tromsø"}', partition: "0" },
  { key: "parcel-4", value: '{"status": "in transit", "city": "Oslo"}', partition: "1" },
];

async function produceFromForm(page: Page, r: (typeof SHIPMENTS)[number], at: number): Promise<void> {
  await page.getByTestId("produce-partition").fill(r.partition);
  await page.getByTestId("produce-key").fill(r.key);
  await page.getByTestId("produce-value").fill(r.value);
  await page.getByTestId("produce-headers").fill("carrier: posten");
  await page.getByTestId("produce-submit").click();
  await page
    .getByTestId("produce-result")
    .filter({ hasText: `Produced to partition ${r.partition} at offset ${at}.` })
    .waitFor();
}

const cells = (page: Page, testid: string, key: string) =>
  page.getByTestId(testid).locator(`tr[data-key="${key}"] td`).allTextContents();

describe("the issue's flow", () => {
  it("create topic -> produce -> browse with a filter -> group lag -> reset offsets", async () => {
    const { page, errors } = await openConsole(browser, tb.broker.httpPort, "#/topics");

    // 1. Create a topic.
    await page.getByTestId("create-topic").click();
    await page.getByTestId("create-name").fill("shipments");
    await page.getByTestId("create-partitions").fill("2");
    await page.getByTestId("create-submit").click();
    await page.waitForURL(/#\/topics\/shipments$/);
    await page.getByTestId("partitions-table").locator('tr[data-key="1"]').waitFor();
    await screenshot(page, "flow-1-topic");

    // 2. Produce from the message browser.
    await page.getByTestId("browse-link").click();
    await page.waitForURL(/#\/browse\/shipments$/);
    await page
      .getByTestId("browse-status")
      .filter({ hasText: / shown/ })
      .waitFor();
    const at = { "0": 0, "1": 0 };
    for (const r of SHIPMENTS) await produceFromForm(page, r, at[r.partition as "0" | "1"]++);
    await page.getByTestId("browse-search").click();
    await expect.poll(() => page.getByTestId("record-row").count()).toBe(4);
    await screenshot(page, "flow-2-produced");

    // 3. Browse with a filter: the lost parcel.
    await page.getByTestId("browse-start").selectOption("beginning");
    await page.getByTestId("browse-json-path").fill("$.status");
    await page.getByTestId("browse-json-value").fill("lost");
    await page.getByTestId("browse-match").selectOption("exact");
    await page.getByTestId("browse-search").click();
    await page.getByTestId("browse-status").filter({ hasText: "1 record shown" }).waitFor();
    const row = page.getByTestId("record-row");
    expect(await row.locator("td.record-key").textContent()).toContain("parcel-2");
    expect(await row.locator("td.record-value").textContent()).toContain('"city": "Bergen"');
    await screenshot(page, "flow-3-filtered");

    // 4. A group reads every record, commits and leaves; the groups page shows its offsets and lag.
    const group = await groupThatRead([`127.0.0.1:${tb.port}`], "tracking", "shipments", 4);
    await group.close();
    await page.getByTestId("nav-groups").click();
    await page.getByTestId("groups-table").locator('tr[data-key="tracking"]').waitFor();
    await page.getByTestId("groups-table").getByRole("link", { name: "tracking" }).click();
    await page.getByTestId("offsets-table").locator('tr[data-key="shipments/0"]').waitFor();
    expect((await cells(page, "offsets-table", "shipments/0")).slice(2, 5)).toEqual(["2", "2", "0"]);
    await page.getByTestId("stat-lag").getByText("0").waitFor();
    await screenshot(page, "flow-4-lag");

    // 5. Reset to the earliest offsets: a preview, then the reset; the lag is every record again.
    await page.getByTestId("reset-to").selectOption("earliest");
    await page.getByTestId("reset-preview").click();
    await page.getByTestId("reset-preview-table").locator('tr[data-key="shipments/1"]').waitFor();
    await page.getByTestId("reset-apply").click();
    await page.getByTestId("confirm-ok").click();
    await page.getByTestId("notice-banner").waitFor();
    await page.getByTestId("stat-lag").getByText("4").waitFor();
    expect((await cells(page, "offsets-table", "shipments/1")).slice(2, 5)).toEqual(["0", "2", "2"]);
    await screenshot(page, "flow-5-reset");
    expect(errors).toEqual([]);
    await page.close();
  });
});
