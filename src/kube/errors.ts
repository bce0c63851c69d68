/**
 * Kubernetes API failures as messages a person can act on: no kubeconfig, a server that does not
 * answer, permissions, objects that are not there.
 */
import { OperationFailed, OpsError, UsageError } from '../core/errors.js';

const NETWORK =
  /HTTP protocol is not allowed|ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|EAI_AGAIN|socket hang up|certificate|self[- ]signed/i;

/** The HTTP status of a client error (`code` on the client's ApiException, `status` on KubeApiFailure). */
export function httpStatus(err: unknown): number | undefined {
  const e = err as { code?: unknown; status?: unknown };
  if (typeof e?.code === 'number') return e.code;
  return typeof e?.status === 'number' ? e.status : undefined;
}

/** The error to show for a failed API call made while doing `what`. */
export function kubeError(what: string, err: unknown, server?: string): OpsError {
  if (err instanceof OpsError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const status = httpStatus(err);
  if (status === 401 || status === 403)
    return new OperationFailed(
      'E_KUBE_FORBIDDEN',
      `${what}: the Kubernetes API refused (${status === 401 ? 'not authenticated' : 'forbidden'})`,
      { status },
      { hint: 'Check your credentials and RBAC: kubectl auth can-i --list' },
    );
  if (NETWORK.test(message) || (err as { type?: string })?.type === 'system')
    return new OperationFailed(
      'E_NO_CLUSTER',
      `${what}: no Kubernetes API server answers${server ? ` at ${server}` : ''} (${message.replace(/^request to \S+ failed, reason: /, '')})`,
      server ? { server } : {},
      {
        hint: 'Check the cluster and your context (kubectl cluster-info), pass --context NAME, or use the local mode: postgres-ops local up',
      },
    );
  if (status === 404)
    return new UsageError(
      'E_NOT_FOUND',
      `${what}: not found`,
      {},
      { hint: 'Check -n/--namespace and --release.' },
    );
  return new OperationFailed('E_KUBE', `${what}: ${message.split('\n')[0]}`, status ? { status } : {});
}

/** When no kubeconfig (or no usable context) exists. */
export function noKubeconfig(detail: string): OpsError {
  return new OperationFailed(
    'E_NO_CLUSTER',
    `no Kubernetes cluster configured (${detail})`,
    {},
    {
      hint: 'Point KUBECONFIG at a kubeconfig (or pass --context NAME), or run PostgreSQL on this machine: postgres-ops local up',
    },
  );
}
