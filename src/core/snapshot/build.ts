import {
  LABEL_INSTANCE,
  LABEL_MANAGED_BY,
  LABEL_SNAPSHOT_OF,
  MANAGED_BY_VALUE,
  pvcLabelValue,
  SNAPSHOT_GROUP,
  SNAPSHOT_VERSION,
  type VolumeSnapshot,
} from './model.js';

/** The VolumeSnapshot we create: our labels, the class if one is configured, the PVC as source. */
export function buildVolumeSnapshot(opts: {
  name: string;
  namespace: string;
  release: string;
  pvc: string;
  snapshotClass?: string;
  annotations?: Record<string, string>;
}): VolumeSnapshot {
  return {
    apiVersion: `${SNAPSHOT_GROUP}/${SNAPSHOT_VERSION}`,
    kind: 'VolumeSnapshot',
    metadata: {
      name: opts.name,
      namespace: opts.namespace,
      labels: {
        [LABEL_MANAGED_BY]: MANAGED_BY_VALUE,
        [LABEL_INSTANCE]: opts.release,
        [LABEL_SNAPSHOT_OF]: pvcLabelValue(opts.pvc),
        'app.kubernetes.io/component': 'postgres-snapshot',
      },
      annotations: { ...opts.annotations },
    },
    spec: {
      ...(opts.snapshotClass ? { volumeSnapshotClassName: opts.snapshotClass } : {}),
      source: { persistentVolumeClaimName: opts.pvc },
    },
  };
}
