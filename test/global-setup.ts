/**
 * Runs once before any suite (vitest globalSetup): compiles the sources into dist/ (what the bin,
 * and so every test/e2e suite, runs) and copies that build into a private temporary directory for
 * the kill -9 child processes (test/helpers/compile-child.ts), which nothing rewrites while they
 * run. Compiling here rather than in a suite's hook keeps a slow compile on a loaded machine
 * from eating a test's or hook's timeout, and compiles once instead of once per suite.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { TestProject } from "vitest/node";

const ROOT = path.resolve(import.meta.dirname, "..");

declare module "vitest" {
  export interface ProvidedContext {
    /** A private copy of dist/ beside a link to node_modules: `import "./storage/log.js"` works. */
    privateBuild: string;
  }
}

export default function setup(project: TestProject): () => void {
  const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
  try {
    // As `npm run build`: build mode keeps its state in dist/ and does nothing, in about a
    // second, when no source changed and no output is missing.
    execFileSync(process.execPath, [tsc, "-b", "tsconfig.build.json"], { cwd: ROOT, stdio: "pipe" });
  } catch (err) {
    // Type errors (work in progress) still emit JavaScript; `npm test` type-checks on its own.
    const out = (err as { stdout?: Buffer }).stdout?.toString() ?? "";
    process.stderr.write(`global-setup: tsc -b tsconfig.build.json reported errors:\n${out}`);
  }
  const root = mkdtempSync(path.join(tmpdir(), "samsa-build-"));
  const build = path.join(root, "build");
  cpSync(path.join(ROOT, "dist"), build, { recursive: true });
  symlinkSync(path.join(ROOT, "node_modules"), path.join(build, "node_modules"), "dir");
  project.provide("privateBuild", build);
  return () => rmSync(root, { recursive: true, force: true });
}
