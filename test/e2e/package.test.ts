/**
 * The package as users get it: `npm pack` ships dist/, bin/, README.md and LICENSE, and a global
 * install of the tarball runs `samsa --version`; the README's samsa commands run the clone's bin
 * directly (docs/decisions/0013-cli-from-a-clone.md) and name real subcommands.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const PKG = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
  version: string;
  license: string;
};
/** A global install resolves dependencies from npm's cache first, the npm registry otherwise. */
const INSTALL_TIMEOUT_MS = 240_000;

const scratch = mkdtempSync(path.join(tmpdir(), "samsa-pack-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** `npm pack` without its `prepare` script: test/global-setup.ts has built dist/ already. */
function pack(extra: string[]): string {
  return execFileSync("npm", ["pack", "--ignore-scripts", "--json", ...extra], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
}

describe("npm pack", () => {
  it("ships the compiled dist/, the bin, README.md and LICENSE, and no sources or tests", () => {
    const [listing] = JSON.parse(pack(["--dry-run"])) as { files: { path: string }[] }[];
    const files = listing.files.map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining([
        "bin/samsa.js",
        "dist/cli/main.js",
        "dist/client/index.js",
        "dist/client/index.d.ts",
        "dist/broker/broker.js",
        "console/index.html",
        "console/app.js",
        "README.md",
        "LICENSE",
        "package.json",
      ]),
    );
    const stray = files.filter((f) => f.startsWith("test/") || (f.endsWith(".ts") && !f.endsWith(".d.ts")));
    expect(stray).toEqual([]);
  });

  it("LICENSE is the Apache License 2.0 that package.json names", () => {
    expect(PKG.license).toBe("Apache-2.0");
    const text = readFileSync(path.join(ROOT, "LICENSE"), "utf8");
    expect(text).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004/);
    expect(text).toContain("END OF TERMS AND CONDITIONS");
  });

  it(
    "a global install of the tarball runs `samsa --version`",
    () => {
      pack(["--pack-destination", scratch]);
      const tarball = path.join(scratch, `samsa-${PKG.version}.tgz`);
      const prefix = path.join(scratch, "prefix");
      const install = spawnSync(
        "npm",
        ["install", "-g", "--prefix", prefix, tarball, "--prefer-offline", "--no-audit", "--no-fund"],
        { cwd: scratch, encoding: "utf8", timeout: INSTALL_TIMEOUT_MS },
      );
      expect(install.status, `npm install -g failed: ${install.stderr}`).toBe(0);
      const run = spawnSync(path.join(prefix, "bin", "samsa"), ["--version"], {
        cwd: scratch,
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(run.stderr).toBe("");
      expect(run.stdout.trim()).toBe(PKG.version);
      expect(run.status).toBe(0);
    },
    INSTALL_TIMEOUT_MS + 60_000,
  );
});

describe("in a clone", () => {
  it("npm run build (the prepare script npx runs) writes nothing when dist/ is current", () => {
    const main = path.join(ROOT, "dist", "cli", "main.js");
    const before = statSync(main).mtimeMs;
    execFileSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: "pipe", timeout: 120_000 });
    expect(statSync(main).mtimeMs).toBe(before);
  });

  it("npx samsa --version with an empty npm cache runs the clone's bin without rebuilding dist/", () => {
    const cache = mkdtempSync(path.join(scratch, "npm-cache-"));
    const main = path.join(ROOT, "dist", "cli", "main.js");
    const before = statSync(main).mtimeMs;
    const out = execFileSync("npx", ["samsa", "--version"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, npm_config_cache: cache, npm_config_yes: "true" },
    });
    expect(out.trim()).toBe(PKG.version);
    expect(statSync(main).mtimeMs, "dist/ rebuilt by npx's install").toBe(before);
  });
});

describe("README.md", () => {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  const lines = blocks.flatMap((b) => b.split("\n"));

  it("runs the clone's own bin, never through npx (which installs the clone into its cache)", () => {
    expect(lines.filter((l) => /\bnpx samsa\b/.test(l))).toEqual([]);
    expect(lines.filter((l) => l.includes("node bin/samsa.js")).length).toBeGreaterThan(5);
  });

  it("each samsa command it shows is a real command (its --help exits 0)", () => {
    const commands = new Set<string>();
    for (const line of lines) {
      const at = line.indexOf("node bin/samsa.js ");
      if (at < 0) continue;
      const words = line.slice(at + "node bin/samsa.js ".length).split(/\s+/);
      // Global options first (-b host:port), then the command and its subcommand, if any.
      while (words[0]?.startsWith("-")) words.splice(0, 2);
      const [command, sub] = words;
      commands.add(sub && /^[a-z-]+$/.test(sub) ? `${command} ${sub}` : command);
    }
    expect(commands.size).toBeGreaterThan(4);
    for (const command of commands) {
      const help = spawnSync(process.execPath, ["bin/samsa.js", ...command.split(" "), "--help"], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(help.status, `node bin/samsa.js ${command} --help: ${help.stderr}`).toBe(0);
      expect(help.stdout).toContain("Usage:");
    }
  });
});
