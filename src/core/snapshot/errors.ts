import { OperationFailed, type OpsError, UsageError } from '../errors.js';
import { kubeFailure, kubeFailureKind } from '../kube-errors.js';
import { KubeApiFailure } from './model.js';

/**
 * Turns a failed Kubernetes call into an error a person can act on: forbidden points at the Role,
 * a missing resource type at the CSI snapshot CRDs, a name clash at --name.
 */
export function classifyKubeError(
  err: unknown,
  doing: string,
  ctx: { namespace: string; name?: string },
): OpsError {
  if (!(err instanceof KubeApiFailure)) {
    const msg = err instanceof Error ? err.message : String(err);
    return new OperationFailed(
      'E_KUBE',
      `${doing}: ${msg}`,
      { namespace: ctx.namespace },
      {
        cause: err,
        hint: 'Check that the Kubernetes API server is reachable from this pod (kubectl get --raw /readyz).',
      },
    );
  }
  const meta = { namespace: ctx.namespace, status: err.status ?? 0, ...(ctx.name ? { name: ctx.name } : {}) };
  // Codes and exit statuses come from the one table (src/core/kube-errors.ts); what the snapshot
  // Job needs that is missing is the environment's fault (the CRDs, the PVC it was given).
  const failure = (message: string, hint: string) =>
    kubeFailure(err.status, message, { missing: 'needed', meta, cause: err, hint });
  switch (kubeFailureKind(err.status)) {
    case 'unauthenticated':
      return failure(
        `${doing}: not authenticated to the Kubernetes API`,
        'The service account token is missing or expired; check automountServiceAccountToken on the CronJob.',
      );
    case 'forbidden':
      return failure(
        `${doing}: forbidden (${err.message})`,
        `The snapshot Role in namespace ${ctx.namespace} must allow create, get, list and delete on volumesnapshots.snapshot.storage.k8s.io (patch too, to record the backup stop LSN); check it with: kubectl auth can-i create volumesnapshots.snapshot.storage.k8s.io -n ${ctx.namespace} --as system:serviceaccount:${ctx.namespace}:<snapshot service account>`,
      );
    case 'not-found':
      return failure(
        `${doing}: not found (${err.message})`,
        'If the resource type is unknown, the cluster lacks the VolumeSnapshot CRDs and snapshot controller: kubectl get crd volumesnapshots.snapshot.storage.k8s.io',
      );
    // A name the user chose (--name) that is taken, or an object the API server will not accept.
    case 'conflict':
      return new UsageError(
        'E_SNAPSHOT_EXISTS',
        `${doing}: a VolumeSnapshot with this name already exists`,
        meta,
        {
          cause: err,
          hint: 'Pick another name, or list them: kubectl get volumesnapshots -n ' + ctx.namespace,
        },
      );
    case 'invalid':
      return new UsageError(
        'E_SNAPSHOT_INVALID',
        `${doing}: the API server rejected the object (${err.message})`,
        meta,
        {
          cause: err,
          hint: 'Check PGOPS_SNAPSHOT_CLASS and PGOPS_SNAPSHOT_PVC (kubectl get volumesnapshotclass; kubectl get pvc).',
        },
      );
    default:
      return failure(
        `${doing}: ${err.message}`,
        'Retry; if it persists check the API server and the snapshot controller logs.',
      );
  }
}

/** 5xx, throttling and network failures are worth another poll; anything else is final. */
export function isTransientKubeError(err: unknown): boolean {
  if (err instanceof KubeApiFailure) return kubeFailureKind(err.status) === 'transient';
  return true;
}
