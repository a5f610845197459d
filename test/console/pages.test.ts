/**
 * The console's overview, topics and groups pages in Chromium (issue 16), against one in-process
 * broker with records and a consumer group made by the samsa client: the overview lists the
 * broker and a topic with its records; a topic is created through the form, configured, given
 * more partitions and deleted after a confirmation; a group's lag is shown, and a reset to the
 * earliest offsets is previewed, then applied, and the new offsets and lag shown. Each page is
 * screenshotted (helpers/browser.ts) at 1280x800.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { launchBrowser, openConsole, screenshot } from "../helpers/browser.js";
import { groupThatRead, produceTo } from "../helpers/console-data.js";

let tb: TestBroker;
let browser: Browser;
let brokers: string[];
const pages: Page[] = [];

async function post(path: string, body: unknown): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${tb.broker.httpPort}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status, await res.clone().text()).toBeLessThan(300);
}

async function open(hash: string): Promise<{ page: Page; errors: string[] }> {
  const opened = await openConsole(browser, tb.broker.httpPort, hash);
  pages.push(opened.page);
  return opened;
}

/** The text of the cells of the table row whose data-key is `key`. */
async function rowCells(page: Page, testid: string, key: string): Promise<string[]> {
  return page.getByTestId(testid).locator(`tr[data-key="${key}"] td`).allInnerTexts();
}

beforeAll(async () => {
  tb = await startTestBroker({ "num.partitions": 1 });
  brokers = [`127.0.0.1:${tb.port}`];
  await post("/topics", { name: "payments", partitions: 2 });
  await produceTo(brokers, "payments", [0, 1], 25);
  const group = await groupThatRead(brokers, "billing", "payments", 50);
  await group.close();
  await produceTo(brokers, "payments", [0], 5);
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  for (const p of pages) await p.close().catch(() => {});
  await browser?.close();
  await tb?.stop();
});

describe("console pages", () => {
  it("overview shows the broker as controller and a topic with its records", async () => {
    const { page, errors } = await open("#/");
    const broker = page.getByTestId("brokers-table").locator('tr[data-key="1"]');
    await broker.getByText("Up").waitFor();
    await broker.getByText("Controller").waitFor();
    const cells = await rowCells(page, "overview-topics-table", "payments");
    expect(cells.slice(0, 4)).toEqual(["payments", "2", "1", "55"]);
    await page.getByTestId("stat-health").getByText("Healthy").waitFor();
    await screenshot(page, "overview");
    expect(errors).toEqual([]);
  });

  it("overview shows a topic's throughput from the change of its offsets between polls", async () => {
    await post("/topics", { name: "ticks", partitions: 1 });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    pages.push(page);
    await page.addInitScript('localStorage.setItem("samsa.console.poll.ms", "300")');
    await page.goto(`http://127.0.0.1:${tb.broker.httpPort}/#/`);
    const rate = page.getByTestId("overview-topics-table").locator('tr[data-key="ticks"] td').nth(5);
    await rate.getByText("0/s").waitFor();
    await produceTo(brokers, "ticks", [0], 40);
    await rate.getByText(/^[1-9][\d,.]*\/s$/).waitFor();
  });

  it("creates a topic, configures it, adds partitions and deletes it", async () => {
    const { page, errors } = await open("#/topics");
    await page.getByTestId("topics-table").locator('tr[data-key="payments"]').waitFor();
    await page.getByTestId("create-topic").click();
    await page.getByTestId("create-name").fill("audit");
    await page.getByTestId("create-partitions").fill("2");
    await page.getByTestId("create-configs").fill("retention.ms=3600000");
    await screenshot(page, "topics-create");
    await page.getByTestId("create-submit").click();
    await page.waitForURL(/#\/topics\/audit$/);
    await page.getByTestId("partitions-table").locator('tr[data-key="1"]').waitFor();
    expect(await page.getByTestId("config-value-retention.ms").textContent()).toBe("3600000");

    await page.getByTestId("config-edit-cleanup.policy").click();
    await page.getByTestId("config-input-cleanup.policy").fill("compact");
    await page.getByTestId("config-save-cleanup.policy").click();
    await page.getByTestId("config-value-cleanup.policy").getByText("compact").waitFor();
    await page.getByTestId("config-reset-retention.ms").click();
    await page.getByTestId("config-value-retention.ms").getByText("604800000").waitFor();

    await page.getByTestId("partitions-count").fill("4");
    await page.getByTestId("partitions-submit").click();
    await page.getByTestId("partitions-table").locator('tr[data-key="3"]').waitFor();
    expect(await page.getByTestId("partitions-table").locator("tbody tr").count()).toBe(4);
    const cells = await rowCells(page, "partitions-table", "3");
    expect(cells.slice(0, 6)).toEqual(["3", "1", "1", "1", "0", "0"]);
    expect(await page.getByTestId("browse-link").getAttribute("href")).toBe("#/browse/audit");
    await screenshot(page, "topic-detail");

    await page.getByTestId("delete-topic").click();
    await page.getByTestId("confirm-dialog").waitFor();
    await page.getByTestId("confirm-ok").click();
    await page.waitForURL(/#\/topics$/);
    await page.getByTestId("topics-table").locator('tr[data-key="payments"]').waitFor();
    expect(await page.getByTestId("topics-table").locator('tr[data-key="audit"]').count()).toBe(0);
    await screenshot(page, "topics-list");
    expect(errors).toEqual([]);
  });

  it("shows a group's lag, previews a reset to the earliest offsets, then applies it", async () => {
    const { page, errors } = await open("#/groups");
    await page.getByTestId("groups-table").locator('tr[data-key="billing"]').getByText("Empty").waitFor();
    expect((await rowCells(page, "groups-table", "billing"))[5]).toBe("5");
    await screenshot(page, "groups-list");

    await page.getByTestId("groups-table").getByRole("link", { name: "billing" }).click();
    await page.getByTestId("offsets-table").locator('tr[data-key="payments/0"]').waitFor();
    expect((await rowCells(page, "offsets-table", "payments/0")).slice(2, 5)).toEqual(["25", "30", "5"]);
    expect((await rowCells(page, "offsets-table", "payments/1")).slice(2, 5)).toEqual(["25", "25", "0"]);
    expect(await page.getByTestId("offsets-unknown").count()).toBe(0);

    await page.getByTestId("reset-to").selectOption("earliest");
    await page.getByTestId("reset-preview").click();
    const preview = page.getByTestId("reset-preview-table");
    await preview.locator('tr[data-key="payments/1"]').waitFor();
    const row0 = await rowCells(page, "reset-preview-table", "payments/0");
    expect([row0[2], row0[4]]).toEqual(["25", "0"]);
    await screenshot(page, "group-reset-preview");
    // The preview committed nothing.
    const group = await fetch(`http://127.0.0.1:${tb.broker.httpPort}/groups/billing`);
    const { offsets } = (await group.json()) as { offsets: { committed_offset: number }[] };
    expect(offsets.map((o) => o.committed_offset)).toEqual([25, 25]);

    await page.getByTestId("reset-apply").click();
    await page.getByTestId("confirm-ok").click();
    await page.getByTestId("notice-banner").waitFor();
    await page.getByTestId("stat-lag").getByText("55").waitFor();
    expect((await rowCells(page, "offsets-table", "payments/0")).slice(2, 5)).toEqual(["0", "30", "30"]);
    expect((await rowCells(page, "offsets-table", "payments/1")).slice(2, 5)).toEqual(["0", "25", "25"]);
    await screenshot(page, "group-after-reset");
    expect(errors).toEqual([]);
  });

  it("says which partitions' log end is unknown, and shows their lag as unknown", async () => {
    // What the route answers when a partition's leader does not answer (test/broker/http-groups
    // and groups.ts): its log end and lag null, its lag left out of the total.
    const page = await browser.newPage();
    pages.push(page);
    await page.route("**/groups/billing", async (route) => {
      const answer = await route.fetch();
      const body = (await answer.json()) as { offsets: Record<string, unknown>[] };
      for (const o of body.offsets.filter((x) => x.partition === 1))
        Object.assign(o, { log_end_offset: null, lag: null });
      await route.fulfill({ response: answer, json: body });
    });
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    await page.goto(`http://127.0.0.1:${tb.broker.httpPort}/#/groups/billing`);
    const note = page.getByTestId("offsets-unknown");
    await note.waitFor();
    expect(await note.textContent()).toContain("payments/1:");
    expect(await note.textContent()).not.toContain("payments/0");
    expect((await rowCells(page, "offsets-table", "payments/1")).slice(2, 5)).toEqual(["0", "—", "—"]);
    await screenshot(page, "group-unknown-log-end");
    expect(errors).toEqual([]);
  });
});
