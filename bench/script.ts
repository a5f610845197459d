/**
 * What the bench scripts share: reading their command line, running their main, their scratch
 * directory, their plain-text tables.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Parses a script's arguments with `parse` (null means --help was asked): the options, or the
 * exit code after printing the usage (0 for --help, 2 with the error for a bad option).
 */
export function optionsOrExit<T>(parse: (args: string[]) => T | null, usage: () => string): T | number {
  let options: T | null;
  try {
    options = parse(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n${usage()}\n`);
    return 2;
  }
  if (options === null) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  return options;
}

/** `value` of option `flag` (e.g. `--records`) as a whole number, at least 1 (or 0), else a one-line error. */
export function intOption(flag: string, value: string, zero: "no-zero" | "zero-allowed" = "no-zero"): number {
  const n = Number(value);
  const min = zero === "zero-allowed" ? 0 : 1;
  if (!Number.isSafeInteger(n) || n < min)
    throw new Error(`${flag} ${value}: expected a ${min === 0 ? "non-negative" : "positive"} integer`);
  return n;
}

/**
 * Runs a script's main and exits with its code, so that sockets or timers a failed step left
 * behind never keep the process alive; an error prints its stack, runs `cleanup` (child
 * processes, temporary files) and exits 1.
 */
export function runMain(main: () => Promise<number>, cleanup: () => void = () => {}): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      cleanup();
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}

/**
 * A new temporary directory under `baseDir`. SIGINT or SIGTERM runs `beforeRemove` (child
 * processes), removes it and exits 130; `dispose()` does the same without exiting and takes the
 * signal handlers away.
 */
export function scratchDir(
  baseDir: string,
  prefix: string,
  beforeRemove: () => void = () => {},
): { root: string; dispose(): void } {
  fs.mkdirSync(baseDir, { recursive: true });
  const root = fs.mkdtempSync(path.join(baseDir, prefix));
  const remove = () => {
    beforeRemove();
    fs.rmSync(root, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    remove();
    process.stderr.write(`interrupted by ${signal}; removed ${root}\n`);
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return {
    root,
    dispose() {
      remove();
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

/** A plain-text table: the first column left-aligned, the others right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
