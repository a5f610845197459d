/**
 * Defaults of broker-wide storage settings, in a module that imports nothing, so that reading a
 * broker's configuration (broker/config.ts, and with it every `samsa` command's start) does not
 * load the codecs and the segment reader that use them.
 */

/** Default of `decompression.memory.max.bytes`: decompressed bytes held at once, process-wide. */
export const DECOMPRESSION_MEMORY_BYTES_DEFAULT = 256 * 1024 * 1024;
/** log.heal.backoff.ms: the first probe of a failed journal or log comes this long after the fault. */
export const DEFAULT_HEAL_BACKOFF_MS = 1000;
/** log.heal.backoff.max.ms: probes of a target that stays failed slow down to this interval. */
export const DEFAULT_HEAL_BACKOFF_MAX_MS = 30_000;
