/**
 * A real browser for the console's tests (issue 16, docs/decisions/0041): Debian's Chromium
 * (/usr/bin/chromium, `apt-get install -y chromium`; .ci/run installs it) driven by
 * playwright-core, which downloads no browser of its own. `launchBrowser()` starts it headless;
 * `openConsole()` opens a 1280x800 page on a broker's console and collects the page's uncaught
 * errors and console errors; `screenshot()` writes a PNG to $SAMSA_SCREENSHOTS or
 * `<tmpdir>/samsa-console-shots/` and answers its path.
 */
import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";

export const CHROMIUM_PATH = "/usr/bin/chromium";

/** The window the console is laid out for and screenshotted at. */
export const VIEWPORT = { width: 1280, height: 800 } as const;

/** Starts headless Chromium; throws naming the package when the binary is missing. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error("chromium is missing: apt-get install -y chromium");
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-background-networking"],
  });
}

export interface ConsolePage {
  page: Page;
  /** Uncaught exceptions and console.error lines of the page, in order. */
  errors: string[];
}

/** A new 1280x800 page at `http://127.0.0.1:<httpPort>/<hash>`, its errors collected. */
export async function openConsole(browser: Browser, httpPort: number, hash = "#/"): Promise<ConsolePage> {
  const page = await browser.newPage({ viewport: VIEWPORT });
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(`console.error: ${msg.text()}`);
  });
  await page.goto(`http://127.0.0.1:${httpPort}/${hash}`);
  return { page, errors };
}

/** The folder screenshots go to. */
export function screenshotDir(): string {
  return process.env.SAMSA_SCREENSHOTS ?? path.join(tmpdir(), "samsa-console-shots");
}

/** Writes a full-page PNG of `page` as `<name>.png` and answers its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = screenshotDir();
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
