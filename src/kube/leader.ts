/**
 * Patroni's leader record on Kubernetes: the Endpoints named after the scope (use_endpoints), whose
 * `leader` annotation names the member holding the lock and whose address is that member's pod IP.
 */
import * as k8s from '@kubernetes/client-node';
import { leaderFromEndpoints, type LeaderRecord } from '../core/snapshot/leader.js';
import { kubeClients } from './client.js';
import { kubeFailure, kubeFailureKind, kubeStatus } from '../core/kube-errors.js';
import { kubeError } from './errors.js';

/** The leader record, or null when the Endpoints are missing or name no leader. */
export async function readLeaderRecord(
  core: k8s.CoreV1Api,
  namespace: string,
  scope: string,
): Promise<LeaderRecord | null> {
  try {
    return leaderFromEndpoints(await core.readNamespacedEndpoints({ name: scope, namespace }));
  } catch (err) {
    const status = kubeStatus(err);
    const kind = kubeFailureKind(status);
    if (kind === 'not-found') return null;
    if (kind === 'forbidden')
      throw kubeFailure(
        status,
        `reading the leader record (Endpoints ${scope} in namespace ${namespace}): forbidden`,
        {
          missing: 'needed',
          meta: { namespace, scope, status: status ?? null },
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
