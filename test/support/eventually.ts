/**
 * The one way tests wait for something that becomes true later (a replica streams, a metric shows,
 * a lock is held): poll `probe` every `intervalMs` until it returns a value other than `undefined`
 * or `false`, and return that value. Past `timeoutMs` it throws, naming what it waited for and what
 * it last saw, so a wait that never ends is a failing test, not a hung one.
 */
export interface EventuallyOptions {
  timeoutMs: number;
  intervalMs: number;
  /** Errors thrown by the probe mean "not yet" (the last one is reported) instead of failing at once. */
  retryOnError?: boolean;
  /** What the probe last saw, for the timeout message. */
  detail?: () => string;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  opts: EventuallyOptions,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    let v: T | undefined | false;
    try {
      v = await probe();
    } catch (err) {
      if (!opts.retryOnError) throw err;
      lastError = err;
      v = undefined;
    }
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) {
      const last = opts.detail?.() ?? (lastError === undefined ? '' : String(lastError));
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting until ${what}${last ? `: ${last}` : ''}`);
    }
    await sleep(opts.intervalMs);
  }
}
