/** What the bench scripts share: reading their command line, running their main. */

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
