/**
 * The console with HTTP authentication and ACLs on (a SASL listener, StandardAuthorizer): without
 * credentials `/` is a Basic challenge, so the browser asks for a login; logged in, every page
 * acts as that user. The super user sees and creates topics; a user granted nothing sees no
 * topics on the overview and has a topic creation refused with the Kafka error in a banner.
 */
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSecuredBroker, type TestBroker } from "../helpers/broker.js";
import { launchBrowser, screenshot, VIEWPORT } from "../helpers/browser.js";

const USERS = { admin: "admin-secret", bob: "bob-secret" } as const;

let tb: TestBroker;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  tb = await startSecuredBroker(USERS);
  await tb.broker.topics.create("ledger", 1, 1, {});
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await tb?.stop();
});

async function as(user: keyof typeof USERS) {
  const context = await browser.newContext({
    viewport: VIEWPORT,
    httpCredentials: { username: user, password: USERS[user] },
  });
  contexts.push(context);
  return context.newPage();
}

describe("the console with authentication and ACLs", () => {
  it("answers / without credentials with a Basic challenge", async () => {
    const res = await fetch(`http://127.0.0.1:${tb.broker.httpPort}/`);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Basic realm="samsa"/);
  });

  it("shows the super user every topic and lets it create one", async () => {
    const page = await as("admin");
    await page.goto(`http://127.0.0.1:${tb.broker.httpPort}/#/topics`);
    await page.getByTestId("topics-table").locator('tr[data-key="ledger"]').waitFor();
    await page.getByTestId("create-topic").click();
    await page.getByTestId("create-name").fill("admins-topic");
    await page.getByTestId("create-submit").click();
    await page.waitForURL(/#\/topics\/admins-topic$/);
    await page.getByTestId("partitions-table").locator('tr[data-key="0"]').waitFor();
  });

  it("shows a user granted nothing no topics and refuses its topic creation in a banner", async () => {
    const page = await as("bob");
    await page.goto(`http://127.0.0.1:${tb.broker.httpPort}/#/`);
    await page.getByTestId("brokers-table").locator('tr[data-key="1"]').waitFor();
    await page.getByTestId("overview-topics-table").getByText("No topics yet").waitFor();
    await page.goto(`http://127.0.0.1:${tb.broker.httpPort}/#/topics`);
    await page.getByTestId("topics-table").waitFor();
    await page.getByTestId("create-topic").click();
    await page.getByTestId("create-name").fill("bobs-topic");
    await page.getByTestId("create-submit").click();
    await page.getByTestId("error-code").getByText("TOPIC_AUTHORIZATION_FAILED").waitFor();
    await screenshot(page, "topics-refused");
    expect(tb.broker.store.topic("bobs-topic")).toBeUndefined();
  });
});
