/** Retries with jittered exponential backoff, for errors marked retriable. */
import { isRetriable } from "./errors.js";

export interface RetryOptions {
  retries?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export const DEFAULT_RETRY: Required<RetryOptions> = {
  retries: 5,
  initialBackoffMs: 100,
  maxBackoffMs: 2_000,
};

/** The wait before retry number `attempt` (0-based): exponential, capped, with +-20% jitter. */
export function backoffMs(attempt: number, options: RetryOptions = {}): number {
  const { initialBackoffMs, maxBackoffMs } = { ...DEFAULT_RETRY, ...options };
  const base = Math.min(maxBackoffMs, initialBackoffMs * 2 ** attempt);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * Runs `attempt` until it succeeds, fails with a non-retriable error, or the retries are spent.
 * `onRetry` runs before each retry (to refresh metadata, reconnect).
 */
export async function withRetry<T>(
  attempt: (n: number) => Promise<T>,
  options: RetryOptions = {},
  onRetry?: (err: unknown) => Promise<void> | void,
): Promise<T> {
  const { retries } = { ...DEFAULT_RETRY, ...options };
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (n >= retries || !isRetriable(err)) throw err;
      await onRetry?.(err);
      await new Promise((r) => setTimeout(r, backoffMs(n, options)));
    }
  }
}
