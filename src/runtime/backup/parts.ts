/**
 * The parts of one backup that run at the same time (pg_dump, row counts, the table of contents
 * check, globals). The first failure stops the others through `signal`; every failure is kept in
 * the order it was seen, so that the cause can be told from its consequences (pickCause).
 */
import type { PartFailure } from '../../core/backup/failure.js';
import { OpsError } from '../../core/errors.js';

export class PartsRun {
  readonly failures: PartFailure[] = [];
  private readonly ac = new AbortController();

  /** Aborted at the first failure (or interruption): parts stop their programs and queries. */
  get signal(): AbortSignal {
    return this.ac.signal;
  }

  get failed(): boolean {
    return this.failures.length > 0;
  }

  fail(part: string, message: string, error?: OpsError): void {
    this.failures.push({
      part,
      message,
      seq: this.failures.length,
      afterAbort: this.ac.signal.aborted,
      error,
    });
    if (!this.ac.signal.aborted) this.ac.abort();
  }

  /** Runs a part; a rejection is recorded (stopping the others) and the part resolves undefined. */
  async part<T>(
    name: string,
    fn: () => Promise<T>,
    asError?: (err: unknown) => OpsError | undefined,
  ): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      const e = err instanceof OpsError ? err : asError?.(err);
      this.fail(name, e?.message ?? (err instanceof Error ? err.message : String(err)), e);
      return undefined;
    }
  }
}
