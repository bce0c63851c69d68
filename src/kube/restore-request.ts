/**
 * The restore request ConfigMap (src/core/pitr/cluster-restore.ts) through the API: read, created,
 * and changed with the resourceVersion as precondition, so two writers never lose each other's
 * step (a conflict is read again and retried).
 */
import * as k8s from '@kubernetes/client-node';
import { OperationFailed } from '../core/errors.js';
import {
  clusterRestoreRequestSchema,
  patroniAnnotations,
  REQUEST_KEY,
  requestConfigMapName,
  type ClusterRestoreRequest,
} from '../core/pitr/cluster-restore.js';
import { isKubeNotFound, kubeFailureKind, kubeStatus } from '../core/kube-errors.js';
import { kubeError } from './errors.js';

export interface RequestStore {
  read(): Promise<ClusterRestoreRequest | undefined>;
  /** Replaces the request (creates the ConfigMap when absent). */
  write(req: ClusterRestoreRequest): Promise<void>;
  /** Applies `change` to the current request (none: nothing happens) and returns the result. */
  update(
    change: (r: ClusterRestoreRequest) => ClusterRestoreRequest,
  ): Promise<ClusterRestoreRequest | undefined>;
}

export function kubeRequestStore(core: k8s.CoreV1Api, namespace: string, scope: string): RequestStore {
  const name = requestConfigMapName(scope);
  const what = `ConfigMap ${name}`;
  async function readRaw(): Promise<{ req?: ClusterRestoreRequest; rv?: string; exists: boolean }> {
    let cm: k8s.V1ConfigMap;
    try {
      cm = await core.readNamespacedConfigMap({ name, namespace });
    } catch (err) {
      if (isKubeNotFound(err)) return { exists: false };
      throw kubeError(`reading ${what}`, err);
    }
    const text = cm.data?.[REQUEST_KEY];
    if (!text) return { exists: true, rv: cm.metadata?.resourceVersion };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = clusterRestoreRequestSchema.safeParse(json);
    if (!parsed.success)
      throw new OperationFailed(
        'E_RESTORE_REQUEST',
        `${what} holds no restore request this agent can read (${REQUEST_KEY})`,
        { configMap: name },
        {
          hint: `Look at it (kubectl get configmap -n ${namespace} ${name} -o yaml); delete it if no restore is under way.`,
        },
      );
    return { req: parsed.data, rv: cm.metadata?.resourceVersion, exists: true };
  }
  async function put(req: ClusterRestoreRequest, rv: string | undefined, exists: boolean) {
    const data = { [REQUEST_KEY]: JSON.stringify(req, null, 2) + '\n' };
    if (!exists) {
      await core.createNamespacedConfigMap({
        namespace,
        body: {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: {
            name,
            namespace,
            labels: { 'app.kubernetes.io/managed-by': 'postgres-agent', 'app.kubernetes.io/instance': scope },
          },
          data,
        },
      });
      return;
    }
    await core.patchNamespacedConfigMap(
      { name, namespace, body: { metadata: { resourceVersion: rv }, data } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }
  /** Reads, applies `change` (undefined: nothing to write) and writes; a conflict is read again. */
  async function mutate(
    change: (cur: ClusterRestoreRequest | undefined) => ClusterRestoreRequest | undefined,
  ): Promise<ClusterRestoreRequest | undefined> {
    for (let attempt = 0; ; attempt++) {
      const cur = await readRaw();
      const next = change(cur.req);
      if (!next) return undefined;
      try {
        await put(next, cur.rv, cur.exists);
        return next;
      } catch (err) {
        if (kubeFailureKind(kubeStatus(err)) === 'conflict' && attempt < 5) continue;
        throw kubeError(`writing ${what}`, err);
      }
    }
  }
  return {
    read: async () => (await readRaw()).req,
    write: async (req) => void (await mutate(() => req)),
    update: (change) => mutate((cur) => (cur ? change(cur) : undefined)),
  };
}

/**
 * Drops Patroni's record of the cluster (its annotations on the Endpoints it keeps), as local mode
 * clears etcd: the restored member 0 then starts as the first leader of its own history instead of
 * a standby waiting for the old leader's optime.
 */
export async function forgetPatroniCluster(
  core: k8s.CoreV1Api,
  namespace: string,
  scope: string,
): Promise<string[]> {
  const dropped: string[] = [];
  for (const name of [scope, `${scope}-config`, `${scope}-failover`, `${scope}-sync`]) {
    let ep: k8s.V1Endpoints;
    try {
      ep = await core.readNamespacedEndpoints({ name, namespace });
    } catch (err) {
      if (isKubeNotFound(err)) continue;
      throw kubeError(`reading Endpoints ${name}`, err);
    }
    const keys = patroniAnnotations(ep.metadata?.annotations);
    if (!keys.length) continue;
    try {
      await core.patchNamespacedEndpoints(
        {
          name,
          namespace,
          body: { metadata: { annotations: Object.fromEntries(keys.map((key) => [key, null])) } },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    } catch (err) {
      throw kubeError(`clearing Patroni's record on Endpoints ${name}`, err);
    }
    dropped.push(...keys.map((key) => `${name}:${key}`));
  }
  return dropped;
}
