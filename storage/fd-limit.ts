/**
 * The process's open-files limit and how the broker divides it: segment files (storage's
 * FileCache, `log.max.open.files`) get a share, the rest stays for sockets, the journal, the
 * metadata store and files opened for a moment (checkpoints, index files).
 *
 * The limit is read once at start from /proc/self/limits ("Max open files", the soft limit,
 * which is what EMFILE enforces). Where that file does not exist (not Linux) the limit is
 * unknown and the broker assumes FALLBACK_FD_LIMIT.
 */
import { readFileSync } from "node:fs";

/** Descriptors kept for everything but segment files and client connections. */
export const RESERVED_FDS = 64;
/** Fewest segment files the broker runs with. */
export const MIN_OPEN_FILES = 32;
/** Fewest descriptors left for client connections. */
export const MIN_CONNECTION_FDS = 64;
/** The smallest open-files limit the broker starts with. */
export const MIN_FD_LIMIT = RESERVED_FDS + MIN_OPEN_FILES + MIN_CONNECTION_FDS;
/** Share of the limit that segment files get by default; the rest is for connections. */
export const OPEN_FILES_SHARE = 0.5;
/** Assumed limit where the real one cannot be read (Linux's usual soft default). */
export const FALLBACK_FD_LIMIT = 1024;
/** The limit to suggest when the broker refuses to start. */
const SUGGESTED_FD_LIMIT = 65_536;

/** Raised when the open-files limit (or `log.max.open.files` against it) cannot work. */
export class FdLimitError extends Error {
  readonly code = "FD_LIMIT_TOO_LOW";
}

/** The soft "Max open files" of this process, or null when it cannot be read. */
export function readFdLimit(limitsFile = "/proc/self/limits"): number | null {
  let text: string;
  try {
    text = readFileSync(limitsFile, "utf8");
  } catch {
    return null;
  }
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (!m) return null;
  return m[1] === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(m[1]);
}

const HOW_TO_RAISE = `raise it before starting samsa (ulimit -n ${SUGGESTED_FD_LIMIT} in the shell, or LimitNOFILE=${SUGGESTED_FD_LIMIT} in the systemd unit)`;

/**
 * How many segment files may be open at once: `configured` when it is positive, otherwise
 * OPEN_FILES_SHARE of the limit. Throws FdLimitError when the limit is below MIN_FD_LIMIT, or
 * when `configured` leaves fewer than MIN_CONNECTION_FDS descriptors for connections.
 */
export function openFilesBudget(limit: number | null, configured: number): number {
  const known = limit ?? FALLBACK_FD_LIMIT;
  if (limit !== null && limit < MIN_FD_LIMIT) {
    throw new FdLimitError(
      `the open-files limit is ${limit}, below the ${MIN_FD_LIMIT} samsa needs; ${HOW_TO_RAISE}`,
    );
  }
  if (configured <= 0) return Math.max(MIN_OPEN_FILES, Math.floor(known * OPEN_FILES_SHARE));
  const most = known - RESERVED_FDS - MIN_CONNECTION_FDS;
  if (configured < MIN_OPEN_FILES || (limit !== null && configured > most)) {
    throw new FdLimitError(
      `log.max.open.files=${configured} does not fit the open-files limit ${known} (expected ${MIN_OPEN_FILES}..${Math.max(MIN_OPEN_FILES, most)}); lower it, or ${HOW_TO_RAISE}`,
    );
  }
  return configured;
}
