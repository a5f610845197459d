/**
 * How the stores run their listeners (watch events, lost sessions and leases): one at a time, and
 * a listener's throw is that listener's bug, reported and contained. Rethrowing it (from the
 * store's step, or from a microtask) would end the whole broker, and every broker that sees the
 * same event after it.
 */
import type { Logger } from "pino";

/** What a store does with the error a listener threw. */
export type ListenerFault = (err: unknown) => void;

/** Logs a listener's throw at error level on `logger` (stderr when none is given). */
export function logListenerFaults(logger: Logger | undefined, what: string): ListenerFault {
  return (err) => {
    const message = `metadata: a ${what} listener threw`;
    if (logger) logger.error({ err }, message);
    else console.error(message, err);
  };
}

/** Runs `run`; a throw goes to `fault`, never further. */
export function callListener(run: () => void, fault: ListenerFault): void {
  try {
    run();
  } catch (err) {
    fault(err);
  }
}

/** Runs `run` in a microtask, its throw contained as `callListener`'s. */
export function callListenerSoon(run: () => void, fault: ListenerFault): void {
  queueMicrotask(() => callListener(run, fault));
}
