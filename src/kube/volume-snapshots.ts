/**
 * The thin Kubernetes side of snapshots: VolumeSnapshot CRUD through CustomObjectsApi, and nothing
 * else. Every decision (naming, waiting, retention, error wording) lives in src/core/snapshot/.
 */
import * as k8s from '@kubernetes/client-node';
import type { z } from 'zod';
import { parseJson } from '../core/agent-output.js';
import { OperationFailed } from '../core/errors.js';
import { isKubeNotFound } from '../core/kube-errors.js';
import { describeIssues } from '../core/parse-issues.js';
import {
  KubeApiFailure,
  kubeStatusSchema,
  SNAPSHOT_GROUP,
  SNAPSHOT_PLURAL,
  SNAPSHOT_VERSION,
  type SnapshotApi,
  type VolumeSnapshot,
  volumeSnapshotListSchema,
  volumeSnapshotSchema,
} from '../core/snapshot/model.js';
import { kubeClients } from './client.js';

function toFailure(err: unknown): unknown {
  if (err instanceof k8s.ApiException) {
    // A Status object, when the body is one.
    const body = kubeStatusSchema.safeParse(
      typeof err.body === 'string' ? parseJson(err.body) : err.body,
    ).data;
    return new KubeApiFailure(err.code, body?.reason, body?.message || err.message);
  }
  return err;
}

/** An answer of the API server as `schema` says; anything else is reported, not guessed at. */
function parsed<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new OperationFailed(
    'E_SNAPSHOT_SHAPE',
    `the API server answered with ${what} that is not a ${SNAPSHOT_GROUP}/${SNAPSHOT_VERSION} one: ${describeIssues(r.error, '(object)')}`,
    {},
    {
      hint: `kubectl get crd volumesnapshots.${SNAPSHOT_GROUP} -o yaml  # which versions the cluster serves`,
    },
  );
}

const asSnapshot = (v: unknown): VolumeSnapshot => parsed(volumeSnapshotSchema, v, 'a VolumeSnapshot');

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
      call(async () => asSnapshot(await custom.createNamespacedCustomObject({ ...base, body }))),
    async get(name) {
      try {
        return await call(async () => asSnapshot(await custom.getNamespacedCustomObject({ ...base, name })));
      } catch (err) {
        if (err instanceof KubeApiFailure && isKubeNotFound(err)) return null;
        throw err;
      }
    },
    async list(labelSelector) {
      const res: unknown = await call(() => custom.listNamespacedCustomObject({ ...base, labelSelector }));
      return parsed(volumeSnapshotListSchema, res, 'a VolumeSnapshot list').items ?? [];
    },
    async delete(name) {
      try {
        await call(() => custom.deleteNamespacedCustomObject({ ...base, name }));
      } catch (err) {
        // Already gone is what we wanted.
        if (err instanceof KubeApiFailure && isKubeNotFound(err)) return;
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
