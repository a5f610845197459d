/**
 * Waiting on a condition instead of a wall-clock sleep: each wait has a bounded deadline, far
 * beyond what a quiet machine needs, and its failure names what it waited for.
 */

/** Generous enough for a loaded machine; a test still fails, naming its condition, past it. */
export const WAIT_DEADLINE_MS = 20_000;
const POLL_MS = 10;

/**
 * Resolves once `condition` holds; rejects naming `what` after `timeoutMs`, also when a check
 * (an async condition asking a broker that does not answer) is still pending at the deadline.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = WAIT_DEADLINE_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = condition();
    const held =
      typeof result === "boolean"
        ? result
        : await within(
            result,
            `${what} (a check still pending)`,
            Math.max(deadline - Date.now(), POLL_MS),
            timeoutMs,
          );
    if (held) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * `promise`'s value, or a rejection naming `what` if it has not settled after `timeoutMs` (the
 * message names `reportedMs` instead, when the wait is the rest of a longer one).
 */
export async function within<T>(
  promise: Promise<T>,
  what: string,
  timeoutMs = WAIT_DEADLINE_MS,
  reportedMs = timeoutMs,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${reportedMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves once `read()` has not changed over `rounds` consecutive polls `intervalMs` apart (a
 * broker that stopped growing something); rejects naming `what` after `timeoutMs`. For upper
 * bounds checked afterwards: a slower machine only gives the broker longer to overshoot them.
 */
export async function waitForStable(
  read: () => number,
  what: string,
  rounds = 5,
  intervalMs = 100,
  timeoutMs = WAIT_DEADLINE_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = read();
  for (let stable = 0; stable < rounds; ) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} to stop changing`);
    await new Promise((r) => setTimeout(r, intervalMs));
    const now = read();
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
}
