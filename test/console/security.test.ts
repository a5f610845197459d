/**
 * The security page (console/pages/security.js) in Chromium: on a broker without security it says
 * so and how to turn it on; on one with HTTP authentication and ACLs (a SASL listener,
 * StandardAuthorizer, admin a super user, bob nobody), logged in with HTTP Basic, admin sees who
 * they are, creates a user and an ACL and removes both, while bob sees the broker's refusals
 * (CLUSTER_AUTHORIZATION_FAILED) in the cards and in a banner. The message browser's live tail
 * works for a logged-in user too. Screenshots: security-off, security-admin, security-bob.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ACL_OPERATIONS,
  ACL_PATTERN_TYPES,
  ACL_PERMISSIONS,
  ACL_RESOURCE_TYPES,
} from "../../broker/metadata/acl-bindings.js";
import { basicAuth, startSecuredBroker, startTestBroker, type TestBroker } from "../helpers/broker.js";
import { launchBrowser, openConsole, screenshot, VIEWPORT } from "../helpers/browser.js";

const USERS = { admin: "admin-secret", bob: "bob-secret" } as const;

let open: TestBroker;
let secured: TestBroker;
let browser: Browser;

beforeAll(async () => {
  open = await startTestBroker();
  secured = await startSecuredBroker(USERS);
  await secured.broker.topics.create("orders", 1, 1, {});
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await secured?.stop();
  await open?.stop();
});

/** A 1280x800 page on the secured broker's console, logged in as `user` (HTTP Basic). */
async function loggedIn(user: keyof typeof USERS, hash: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({
    viewport: VIEWPORT,
    httpCredentials: { username: user, password: USERS[user] },
  });
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(`pageerror: ${err.message}`));
  await page.goto(`http://127.0.0.1:${secured.broker.httpPort}/${hash}`);
  return { page, errors };
}

describe("security page", () => {
  it("says security is off and how to turn it on", async () => {
    const { page, errors } = await openConsole(browser, open.broker.httpPort, "#/security");
    await page.getByTestId("security-off").waitFor();
    expect(await page.getByTestId("whoami-principal").textContent()).toBe("User:ANONYMOUS");
    expect(await page.getByTestId("security-off").textContent()).toContain(
      "authorizer.class.name=StandardAuthorizer",
    );
    expect(await page.getByTestId("users-card").count()).toBe(0);
    await screenshot(page, "security-off");
    expect(errors).toEqual([]);
    await page.close();
  });

  it("lets admin create and delete a user and add and remove an ACL", async () => {
    const { page, errors } = await loggedIn("admin", "#/security");
    await page.getByTestId("users-table").waitFor();
    expect(await page.getByTestId("whoami-principal").textContent()).toBe("User:admin");
    expect(await page.getByTestId("whoami-authorization").textContent()).toBe("on");

    await page.getByTestId("user-name").fill("dave");
    await page.getByTestId("user-password").fill("dave-secret");
    await page.getByTestId("user-mechanism").selectOption("SCRAM-SHA-512");
    await page.getByTestId("user-create").click();
    const dave = page.getByTestId("users-table").locator('tr[data-key="dave"]');
    await dave.waitFor();
    expect(await dave.textContent()).toContain("SCRAM-SHA-512 (4096 iterations)");

    // The form offers exactly the names the broker takes (read from its /openapi.json).
    const options = (testid: string) =>
      page
        .getByTestId(testid)
        .locator("option")
        .evaluateAll((os) => os.map((o) => o.textContent).sort());
    expect(await options("acl-operation")).toEqual([...ACL_OPERATIONS].sort());
    expect(await options("acl-resource-type")).toEqual([...ACL_RESOURCE_TYPES].sort());
    expect(await options("acl-pattern-type")).toEqual([...ACL_PATTERN_TYPES].sort());
    expect(await options("acl-permission")).toEqual([...ACL_PERMISSIONS].sort());
    expect(await page.getByTestId("acl-permission").inputValue()).toBe("ALLOW");
    await page.getByTestId("acl-resource-name").fill("orders");
    await page.getByTestId("acl-principal").fill("User:dave");
    await page.getByTestId("acl-operation").selectOption("READ");
    await page.getByTestId("acl-add").click();
    const acl = page.getByTestId("acls-table").locator("tbody tr", { hasText: "User:dave" });
    await acl.waitFor();
    expect(await acl.textContent()).toMatch(/TOPIC orders\s*User:dave\s*\*\s*READ\s*ALLOW/);
    await screenshot(page, "security-admin");

    await acl.getByTestId("acl-remove").click();
    await page.getByTestId("confirm-ok").click();
    await page.getByTestId("acls-table").getByText("No ACLs.").waitFor();
    await dave.getByTestId("user-delete-dave").click();
    await page.getByTestId("confirm-ok").click();
    await expect.poll(() => dave.count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows bob the broker's refusals", async () => {
    const { page } = await loggedIn("bob", "#/security");
    await page.getByTestId("users-card").getByTestId("refused").waitFor();
    await page.getByTestId("acls-card").getByTestId("refused").waitFor();
    expect(await page.getByTestId("users-card").textContent()).toContain("CLUSTER_AUTHORIZATION_FAILED");
    expect(await page.getByTestId("acls-card").textContent()).toContain("CLUSTER_AUTHORIZATION_FAILED");
    expect(await page.getByTestId("whoami-operations").textContent()).toBe("nothing");
    await page.getByTestId("acl-resource-name").fill("orders");
    await page.getByTestId("acl-principal").fill("User:bob");
    await page.getByTestId("acl-add").click();
    expect(await page.getByTestId("error-code").textContent()).toBe("CLUSTER_AUTHORIZATION_FAILED");
    await screenshot(page, "security-bob");
    await page.close();
  });

  it("tails records live for a logged-in user", async () => {
    const { page, errors } = await loggedIn("admin", "#/browse/orders");
    await page
      .getByTestId("browse-status")
      .filter({ hasText: / shown/ })
      .waitFor();
    await page.getByTestId("browse-tail").click();
    await page.getByTestId("browse-status").filter({ hasText: "Live tail" }).waitFor();
    const auth = basicAuth("admin", USERS.admin);
    await expect
      .poll(async () => {
        await fetch(`http://127.0.0.1:${secured.broker.httpPort}/topics/orders`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: auth },
          body: JSON.stringify({ records: [{ key: "live", value: 1 }] }),
        });
        return page.getByTestId("record-row").count();
      })
      .toBeGreaterThan(0);
    expect(errors).toEqual([]);
    await page.close();
  });
});
