/**
 * The one reading of a failed Kubernetes API call: its HTTP status, what the status means, and the
 * error code and exit status it becomes. The operator's adapter (src/kube/errors.ts) and the
 * snapshot Job (src/core/snapshot/errors.ts) build their errors here and add their own words.
 */
import { type JsonValue, OperationFailed, type OpsError, UsageError } from './errors.js';

export type KubeFailureKind =
  'unauthenticated' | 'forbidden' | 'not-found' | 'conflict' | 'invalid' | 'transient' | 'other';

/**
 * The HTTP status of a failed call: `code` on the client's ApiException, `status` on
 * KubeApiFailure (the snapshot Job's) and on plain objects a stand-in throws.
 */
export function kubeStatus(err: unknown): number | undefined {
  const e = err as { code?: unknown; status?: unknown };
  if (typeof e?.code === 'number') return e.code;
  return typeof e?.status === 'number' ? e.status : undefined;
}

/** What a status means; no status (a network failure), throttling and 5xx are worth a retry. */
export function kubeFailureKind(status: number | undefined): KubeFailureKind {
  switch (status) {
    case 401:
      return 'unauthenticated';
    case 403:
      return 'forbidden';
    case 404:
      return 'not-found';
    case 409:
      return 'conflict';
    case 422:
      return 'invalid';
  }
  return status === undefined || status === 429 || status >= 500 ? 'transient' : 'other';
}

/** The API said the object (or its resource type) does not exist. */
export function isKubeNotFound(err: unknown): boolean {
  return kubeFailureKind(kubeStatus(err)) === 'not-found';
}

export interface KubeFailureOptions {
  /**
   * Who chose the object that turned out missing. `named`: the person, on the command line (a
   * namespace, a release): bad input, exit 2, E_NOT_FOUND. `needed`: the operation itself (a
   * resource type the cluster lacks, an object the chart should have made): the environment is
   * wrong, exit 1, E_KUBE_NOT_FOUND.
   */
  missing: 'named' | 'needed';
  meta?: Record<string, JsonValue>;
  cause?: unknown;
  hint?: string;
}

/**
 * The error for a call that failed with `status`, with the caller's message: 401 is
 * E_KUBE_UNAUTHORIZED and 403 E_KUBE_FORBIDDEN (credentials and RBAC are fixed outside the
 * command: exit 1), 404 as `missing` says, anything else E_KUBE (exit 1). Statuses with a meaning
 * of their own to a caller (409 for a name the user chose) are the caller's to map first.
 */
export function kubeFailure(status: number | undefined, message: string, opts: KubeFailureOptions): OpsError {
  const { meta = {}, cause, hint } = opts;
  const options = { ...(cause === undefined ? {} : { cause }), ...(hint === undefined ? {} : { hint }) };
  switch (kubeFailureKind(status)) {
    case 'unauthenticated':
      return new OperationFailed('E_KUBE_UNAUTHORIZED', message, meta, options);
    case 'forbidden':
      return new OperationFailed('E_KUBE_FORBIDDEN', message, meta, options);
    case 'not-found':
      return opts.missing === 'named'
        ? new UsageError('E_NOT_FOUND', message, meta, options)
        : new OperationFailed('E_KUBE_NOT_FOUND', message, meta, options);
    default:
      return new OperationFailed('E_KUBE', message, meta, options);
  }
}
