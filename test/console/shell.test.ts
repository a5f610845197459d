/**
 * The console's shell (issue 16, docs/decisions/0041): broker/http/console.ts serving `/` and
 * the files under console/ with their content types and nothing outside it, and in Chromium the
 * page loading with its sidebar, the hash router moving between pages and saying so for a page
 * that does not exist, without a script error.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleFile, packageRoot } from "../../broker/http/console.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { launchBrowser, openConsole, screenshot } from "../helpers/browser.js";

let tb: TestBroker;
let browser: Browser;
let base: string;

beforeAll(async () => {
  tb = await startTestBroker();
  base = `http://127.0.0.1:${tb.broker.httpPort}`;
  browser = await launchBrowser();
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await tb?.stop();
});

describe("console files", () => {
  it("serves index.html at / and the modules and stylesheet with their content types", async () => {
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(index.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(await index.text()).toContain('<script type="module" src="/console/app.js">');
    const app = await fetch(`${base}/console/app.js`);
    expect(app.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await app.text()).toContain("// @ts-check");
    const css = await fetch(`${base}/console/style.css`);
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
  });

  it("answers 404 NOT_FOUND for missing files, other file types and paths that leave console/", async () => {
    for (const p of [
      "/console/nope.js",
      "/console/tsconfig.json",
      "/console/../package.json",
      "/console/%2e%2e/package.json",
      "/console/pages/%2e%2e/%2e%2e/broker/http/console.ts",
      "/console/..%2f..%2fpackage.json",
      "/console/.hidden.js",
      "/console/pages//x.js",
      "/console/%5c..%5cpackage.json",
    ]) {
      const res = await fetch(`${base}${p}`);
      expect(res.status, p).toBe(404);
      expect(((await res.json()) as { error_code: string }).error_code, p).toBe("NOT_FOUND");
    }
  });

  it("finds the package root and keeps file names inside console/", () => {
    const root = packageRoot(import.meta.dirname);
    expect(root).not.toBeNull();
    const dir = `${root}/console`;
    expect(consoleFile(dir, "pages/overview.js")).toBe(`${dir}/pages/overview.js`);
    expect(consoleFile(dir, "../package.json")).toBeNull();
    expect(consoleFile(dir, "pages/../../x.js")).toBeNull();
    expect(consoleFile(dir, "README.md")).toBeNull();
  });
});

describe("console shell in Chromium", () => {
  it("loads / with the sidebar's pages and routes between them", async () => {
    const { page, errors } = await openConsole(browser, tb.broker.httpPort);
    const nav = page.getByTestId("nav");
    for (const label of ["Overview", "Topics", "Messages", "Groups", "Security"])
      await nav.getByText(label, { exact: true }).waitFor();
    await page.locator('[data-page="overview"] h1', { hasText: "Overview" }).waitFor();
    expect(await page.getByTestId("nav-overview").getAttribute("aria-current")).toBe("page");
    await screenshot(page, "shell-overview");

    await page.getByTestId("nav-topics").click();
    await page.waitForURL(/#\/topics$/);
    expect(await page.getByTestId("nav-topics").getAttribute("aria-current")).toBe("page");

    await page.locator('[data-page="topics"] h1', { hasText: "Topics" }).waitFor();
    expect(errors).toEqual([]);

    await page.goto(`${base}/#/no-such-page`);
    await page.getByTestId("page-missing").waitFor();
    await page.close();
  });
});
