import {
  createdAt,
  LABEL_INSTANCE,
  LABEL_MANAGED_BY,
  MANAGED_BY_VALUE,
  newestFirst,
  type SnapshotApi,
} from './model.js';

export interface SnapshotEntry {
  name: string;
  createdAt: string | null;
  readyToUse: boolean;
  /** The PVC it was taken of. */
  source: string | null;
  /** e.g. "100Gi", as the CSI driver reports it. */
  restoreSize: string | null;
  error: string | null;
}

/** Our snapshots of a release, newest first (the `list-snapshots` model). */
export async function listSnapshots(api: SnapshotApi, release: string): Promise<SnapshotEntry[]> {
  const all = await api.list(`${LABEL_MANAGED_BY}=${MANAGED_BY_VALUE},${LABEL_INSTANCE}=${release}`);
  return newestFirst(all).map((s) => ({
    name: s.metadata.name,
    createdAt: createdAt(s) ?? null,
    readyToUse: s.status?.readyToUse === true,
    source: s.spec.source.persistentVolumeClaimName ?? null,
    restoreSize: s.status?.restoreSize ?? null,
    error: s.status?.error?.message ?? null,
  }));
}
