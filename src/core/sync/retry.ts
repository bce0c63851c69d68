import { classifyStoreFailure } from './errors.js';

export interface RetryPolicy {
  attempts: number;
  baseMs: number;
  maxMs: number;
  sleep: (ms: number) => Promise<void>;
  onRetry?: (attempt: number, delayMs: number, err: unknown) => void;
}

export const DEFAULT_RETRY: Omit<RetryPolicy, 'sleep'> = { attempts: 5, baseMs: 500, maxMs: 8000 };

/** Runs `fn`, retrying transient failures with exponential backoff; never retries auth or not-found. */
export async function withRetries<T>(fn: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= policy.attempts || classifyStoreFailure(err) !== 'transient') throw err;
      const delay = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
      policy.onRetry?.(attempt, delay, err);
      await policy.sleep(delay);
    }
  }
}
