/**
 * A child script beside a private build of the project's sources, for tests that spawn and
 * `kill -9` a process. The build is compiled once before any suite by test/global-setup.ts (so no
 * hook waits on a compiler) and is a copy of dist/ that nothing rewrites while children run; its
 * modules import npm dependencies from the project's node_modules (symlinked).
 */
import { randomUUID } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { inject } from "vitest";

export interface ChildBuild {
  /** Where the compiled sources and the child script live (run the child with this as cwd). */
  build: string;
  /** The child script's path: it imports the sources as "./storage/log.js" and so on. */
  child: string;
  remove(): void;
}

/** Writes `childSource` as a module beside the private build; `remove` deletes it again. */
export function compileChild(prefix: string, childSource: string): ChildBuild {
  const build = inject("privateBuild");
  const child = path.join(build, `${prefix}${randomUUID()}.mjs`);
  writeFileSync(child, childSource);
  return { build, child, remove: () => rmSync(child, { force: true }) };
}
