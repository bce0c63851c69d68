/**
 * Errors that reach a person. Every failure the CLI or the agent reports is one of these, so that
 * `main` can print one message with a hint and exit with a code scripts rely on:
 *   1 the operation failed, 2 bad usage or input, 3 refused for safety.
 * Codes come from the registry in `error-codes.ts`: each class takes only the codes registered with
 * its exit status, so a new code is registered (and documented in docs/errors.md) or does not compile.
 */
import type { ErrorCode, ExitCode, FailureCode, RefusalCode, RelayedCode, UsageCode } from './error-codes.js';

export type { ErrorCode, ExitCode } from './error-codes.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export class OpsError extends Error {
  constructor(
    readonly code: ErrorCode | RelayedCode,
    message: string,
    readonly exitCode: ExitCode = 1,
    readonly meta: Record<string, JsonValue> = {},
    options?: ErrorOptions & { hint?: string },
  ) {
    super(message, options);
    this.name = new.target.name;
    this.hint = options?.hint;
  }
  readonly hint: string | undefined;
}

/** Exit 2: a bad flag, an unknown backup, a malformed value. Nothing was touched. */
export class UsageError extends OpsError {
  constructor(
    code: UsageCode,
    message: string,
    meta: Record<string, JsonValue> = {},
    options?: ErrorOptions & { hint?: string },
  ) {
    super(code, message, 2, meta, options);
  }
}

/** Exit 3: refused because going on could lose data (corrupt backup, unconfirmed destructive act). */
export class SafetyRefusal extends OpsError {
  constructor(
    code: RefusalCode,
    message: string,
    meta: Record<string, JsonValue> = {},
    options?: ErrorOptions & { hint?: string },
  ) {
    super(code, message, 3, meta, options);
  }
}

/** Exit 1: the operation was attempted and failed. */
export class OperationFailed extends OpsError {
  constructor(
    code: FailureCode,
    message: string,
    meta: Record<string, JsonValue> = {},
    options?: ErrorOptions & { hint?: string },
  ) {
    super(code, message, 1, meta, options);
  }
}

/** Wraps any thrown value with what was being done, keeping an OpsError's code and exit code. */
export function whileDoing(what: string, err: unknown): OpsError {
  if (err instanceof OpsError) {
    const wrapped = new OpsError(err.code, `${what}: ${err.message}`, err.exitCode, err.meta, {
      cause: err,
      hint: err.hint,
    });
    return wrapped;
  }
  const message = err instanceof Error ? err.message : String(err);
  return new OperationFailed('E_FAILED', `${what}: ${message}`, {}, { cause: err });
}
