/**
 * The thin Kubernetes side of snapshots: VolumeSnapshot CRUD through CustomObjectsApi, and nothing
 * else. Every decision (naming, waiting, retention, error wording) lives in src/core/snapshot/.
 */
import * as k8s from '@kubernetes/client-node';
import {
  KubeApiFailure,
  SNAPSHOT_GROUP,
  SNAPSHOT_PLURAL,
  SNAPSHOT_VERSION,
  type SnapshotApi,
  type VolumeSnapshot,
} from '../core/snapshot/model.js';
import { kubeClients } from './client.js';

function toFailure(err: unknown): unknown {
  if (err instanceof k8s.ApiException) {
    let reason: string | undefined;
    let message = err.message;
    try {
      const body = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as {
        reason?: string;
        message?: string;
      };
      reason = body?.reason;
      if (body?.message) message = body.message;
    } catch {
      /* body is not a Status object */
    }
    return new KubeApiFailure(err.code, reason, message);
  }
  return err;
}

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toFailure(err);
  }
}

export function volumeSnapshotApi(custom: k8s.CustomObjectsApi, namespace: string): SnapshotApi {
  const base = { group: SNAPSHOT_GROUP, version: SNAPSHOT_VERSION, namespace, plural: SNAPSHOT_PLURAL };
  return {
    namespace,
    create: (body) =>
      call(() => custom.createNamespacedCustomObject({ ...base, body }) as Promise<VolumeSnapshot>),
    async get(name) {
      try {
        return await call(
          () => custom.getNamespacedCustomObject({ ...base, name }) as Promise<VolumeSnapshot>,
        );
      } catch (err) {
        if (err instanceof KubeApiFailure && err.status === 404) return null;
        throw err;
      }
    },
    async list(labelSelector) {
      const res = (await call(() => custom.listNamespacedCustomObject({ ...base, labelSelector }))) as {
        items?: VolumeSnapshot[];
      };
      return res.items ?? [];
    },
    async delete(name) {
      try {
        await call(() => custom.deleteNamespacedCustomObject({ ...base, name }));
      } catch (err) {
        // Already gone is what we wanted.
        if (err instanceof KubeApiFailure && err.status === 404) return;
        throw err;
      }
    },
    async annotate(name, annotations) {
      await call(() =>
        custom.patchNamespacedCustomObject(
          { ...base, name, body: { metadata: { annotations } } },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
        ),
      );
    },
  };
}

/** The adapter over the pod's service account (or the kubeconfig outside a cluster). */
export function clusterSnapshotApi(namespace: string): SnapshotApi {
  const { custom } = kubeClients({ namespace });
  return volumeSnapshotApi(custom, namespace);
}
