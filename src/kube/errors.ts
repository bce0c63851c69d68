/**
 * Kubernetes API failures as messages a person can act on: no kubeconfig, a server that does not
 * answer, permissions, objects that are not there.
 */
import { OperationFailed, OpsError } from '../core/errors.js';
import { kubeFailure, kubeFailureKind, kubeStatus } from '../core/kube-errors.js';

const NETWORK =
  /HTTP protocol is not allowed|ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|EAI_AGAIN|socket hang up|certificate|self[- ]signed/i;

/** The error to show for a failed API call made while doing `what` (codes and exit statuses: src/core/kube-errors.ts). */
export function kubeError(what: string, err: unknown, server?: string): OpsError {
  if (err instanceof OpsError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const status = kubeStatus(err);
  const kind = kubeFailureKind(status);
  if (kind === 'unauthenticated' || kind === 'forbidden')
    return kubeFailure(
      status,
      `${what}: the Kubernetes API refused (${kind === 'unauthenticated' ? 'not authenticated' : 'forbidden'})`,
      {
        missing: 'named',
        meta: { status: status! },
        hint: 'Check your credentials and RBAC: kubectl auth can-i --list',
      },
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
  // What the operator's commands look up is what the person named: the namespace, the release.
  if (kind === 'not-found')
    return kubeFailure(status, `${what}: not found`, {
      missing: 'named',
      hint: 'Check -n/--namespace and --release.',
    });
  return kubeFailure(status, `${what}: ${message.split('\n')[0]}`, {
    missing: 'named',
    meta: status ? { status } : {},
  });
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
