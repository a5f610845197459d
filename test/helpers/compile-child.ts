/**
 * Compiles some project sources (and what they import) into a private temporary directory, with
 * a child script beside them, for tests that spawn and `kill -9` a process: a private build
 * cannot race other suites' builds of dist/. The compiled sources import npm dependencies from
 * the project's node_modules (symlinked).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");

export interface ChildBuild {
  /** Where the compiled sources and `child.mjs` live (run the child with this as cwd). */
  build: string;
  /** The child script's path. */
  child: string;
  remove(): void;
}

/** `entries` are paths relative to the project root, e.g. "storage/log.ts". */
export function compileChild(prefix: string, entries: string[], childSource: string): ChildBuild {
  const root = mkdtempSync(path.join(tmpdir(), prefix));
  const build = path.join(root, "build");
  mkdirSync(build, { recursive: true });
  const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
  const args = [
    ...["--outDir", build, "--rootDir", ROOT, "--module", "NodeNext", "--moduleResolution", "NodeNext"],
    ...["--target", "ES2022", "--skipLibCheck", "--types", "node", "--sourceMap", "false"],
    ...["--declaration", "false", "--noEmitOnError", "false"],
    ...entries.map((e) => path.join(ROOT, e)),
  ];
  try {
    execFileSync(process.execPath, [tsc, ...args], { cwd: ROOT, stdio: "pipe" });
  } catch (err) {
    // Type errors elsewhere (work in progress) still emit JavaScript; only missing output is fatal.
    const first = path.join(build, entries[0].replace(/\.ts$/, ".js"));
    if (!existsSync(first)) throw err;
  }
  const child = path.join(build, "child.mjs");
  writeFileSync(child, childSource);
  symlinkSync(path.join(ROOT, "node_modules"), path.join(build, "node_modules"), "dir");
  return { build, child, remove: () => rmSync(root, { recursive: true, force: true }) };
}
