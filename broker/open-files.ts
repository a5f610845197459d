/**
 * The open-files limit checked before the broker's modules load: `samsa broker start` asks this
 * small module first, since loading the broker's module graph opens many files at once and would
 * fail with a bare EMFILE below the limit instead of the one line saying how to raise it.
 * Broker.start checks again (an embedding application starts it without the CLI).
 */
import { openFilesBudget, readFdLimit } from "../storage/fd-limit.js";

/** Throws FdLimitError (one line, how to raise the limit) when the broker cannot run with it. */
export function checkOpenFilesLimit(maxOpenFiles: number): void {
  openFilesBudget(readFdLimit(), maxOpenFiles);
}
