/**
 * `npm run gen:types`: writes protocol/types/ from the message specs (protocol/gen/types.ts),
 * removing generated files whose spec is gone. A build tool: the only file of protocol/ that
 * touches the file system, and nothing imports it.
 */
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { API_SPECS } from "../messages/index.js";
import { specSources } from "./sources.js";
import { generateTypes } from "./types.js";

/** protocol/types/, from dist/protocol/gen/ (compiled) or protocol/gen/ (source). */
function typesDir(): string {
  const here = import.meta.dirname;
  const root = here.includes(`${path.sep}dist${path.sep}`)
    ? path.resolve(here, "../../..")
    : path.resolve(here, "../..");
  return path.join(root, "protocol", "types");
}

const dir = typesDir();
const files = generateTypes(specSources(), API_SPECS);
const keep = new Set([...files.map((f) => f.file), "README.md"]);
for (const name of readdirSync(dir)) if (!keep.has(name)) rmSync(path.join(dir, name));
for (const f of files) writeFileSync(path.join(dir, f.file), f.text);
console.log(`wrote ${files.length} files to ${path.relative(process.cwd(), dir) || dir}`);
