/**
 * Patroni's leader record on Kubernetes: the Endpoints named after the scope (use_endpoints), whose
 * `leader` annotation names the member holding the lock and whose address is that member's pod IP.
 */
import * as k8s from '@kubernetes/client-node';
import { OperationFailed } from '../core/errors.js';
import { leaderFromEndpoints, type LeaderRecord } from '../core/snapshot/leader.js';
import { kubeClients } from './client.js';
import { httpStatus, kubeError } from './errors.js';

/** The leader record, or null when the Endpoints are missing or name no leader. */
export async function readLeaderRecord(
  core: k8s.CoreV1Api,
  namespace: string,
  scope: string,
): Promise<LeaderRecord | null> {
  try {
    return leaderFromEndpoints(await core.readNamespacedEndpoints({ name: scope, namespace }));
  } catch (err) {
    const status = httpStatus(err);
    if (status === 404) return null;
    if (status === 403)
      throw new OperationFailed(
        'E_KUBE_FORBIDDEN',
        `reading the leader record (Endpoints ${scope} in namespace ${namespace}): forbidden`,
        { namespace, scope, status },
        {
          hint: `The Role must allow get on endpoints/${scope}: kubectl auth can-i get endpoints/${scope} -n ${namespace} --as system:serviceaccount:${namespace}:<service account>`,
        },
      );
    throw kubeError(`reading the leader record (Endpoints ${scope} in namespace ${namespace})`, err);
  }
}

/** From inside a pod (the snapshot Job's service account), or with the kubeconfig elsewhere. */
export function clusterLeaderRecord(namespace: string, scope: string): Promise<LeaderRecord | null> {
  const { core } = kubeClients({ namespace });
  return readLeaderRecord(core, namespace, scope);
}
