/**
 * Loaded into the broker child with `node --import` (never by the broker itself): samples the
 * process's event-loop delay with perf_hooks and appends one JSON line per interval to the file
 * named by SAMSA_ATTACK_ELD_FILE: `{"t": ms since epoch, "max_ms", "p99_ms", "mean_ms"}`. A
 * blocked loop delays the write too, so the line after a block carries the block in `max_ms`.
 */
import { appendFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";

/** How often a line is written, and the histogram reset. */
const INTERVAL_MS = 250;

const file = process.env.SAMSA_ATTACK_ELD_FILE;
if (file) {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  setInterval(() => {
    const line = { t: Date.now(), max_ms: ms(h.max), p99_ms: ms(h.percentile(99)), mean_ms: ms(h.mean) };
    h.reset();
    try {
      appendFileSync(file, `${JSON.stringify(line)}\n`);
    } catch {
      // The harness removed the file: nothing to report to.
    }
  }, INTERVAL_MS).unref();
}
