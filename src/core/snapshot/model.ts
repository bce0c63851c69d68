/**
 * VolumeSnapshot (snapshot.storage.k8s.io/v1) as far as we read and write it, and the one small
 * interface every snapshot command talks to. The Kubernetes adapter (src/kube/volume-snapshots.ts)
 * implements it; tests use an in-memory implementation that behaves like the API server.
 */
import { z } from 'zod';

export const SNAPSHOT_GROUP = 'snapshot.storage.k8s.io';
export const SNAPSHOT_VERSION = 'v1';
export const SNAPSHOT_PLURAL = 'volumesnapshots';

/** Labels that mark a VolumeSnapshot as one we created; retention never touches any other. */
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'postgres-agent';
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
export const LABEL_SNAPSHOT_OF = 'pyairtable-stack/snapshot-of';

/** Annotations recording how PostgreSQL was prepared when the snapshot was cut. */
export const ANNOTATION_CONSISTENCY = 'pyairtable-stack/consistency';
export const ANNOTATION_START_LSN = 'pyairtable-stack/backup-start-lsn';
export const ANNOTATION_STOP_LSN = 'pyairtable-stack/backup-stop-lsn';
export const ANNOTATION_TIMELINE = 'pyairtable-stack/timeline';
export const ANNOTATION_STARTED_AT = 'pyairtable-stack/backup-started-at';

const optionalString = z.string().optional();

/** A VolumeSnapshot as the API server returns it (parsed with this) and as we create it. */
export const volumeSnapshotSchema = z.looseObject({
  apiVersion: optionalString,
  kind: optionalString,
  metadata: z.looseObject({
    name: z.string(),
    namespace: optionalString,
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    creationTimestamp: optionalString,
    deletionTimestamp: optionalString,
  }),
  spec: z.looseObject({
    volumeSnapshotClassName: optionalString,
    source: z.looseObject({
      persistentVolumeClaimName: optionalString,
      volumeSnapshotContentName: optionalString,
    }),
  }),
  status: z
    .looseObject({
      readyToUse: z.boolean().optional(),
      creationTime: optionalString,
      restoreSize: optionalString,
      boundVolumeSnapshotContentName: optionalString,
      error: z.looseObject({ message: optionalString, time: optionalString }).optional(),
    })
    .optional(),
});

export type VolumeSnapshot = z.output<typeof volumeSnapshotSchema>;

/** A list answer (`items`). */
export const volumeSnapshotListSchema = z.looseObject({ items: z.array(volumeSnapshotSchema).optional() });

/** The body of a failed Kubernetes API call (a `Status` object), as far as we read it. */
export const kubeStatusSchema = z.looseObject({ reason: optionalString, message: optionalString });

/**
 * A failed call to the Kubernetes API, reduced to what classification needs. The adapter turns the
 * client's exceptions into this so that src/core never sees the client library.
 */
export class KubeApiFailure extends Error {
  constructor(
    readonly status: number | undefined,
    readonly reason: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'KubeApiFailure';
  }
}

export interface SnapshotApi {
  readonly namespace: string;
  create(snapshot: VolumeSnapshot): Promise<VolumeSnapshot>;
  /** null when it does not exist. */
  get(name: string): Promise<VolumeSnapshot | null>;
  list(labelSelector: string): Promise<VolumeSnapshot[]>;
  delete(name: string): Promise<void>;
  /** Adds or replaces annotations (a merge patch). */
  annotate(name: string, annotations: Record<string, string>): Promise<void>;
}

/**
 * The PVC name as a label value: label values stop at 63 characters, PVC names do not, so a long
 * name is cut and given a short hash of the whole name to stay unique.
 */
export function pvcLabelValue(pvc: string): string {
  if (pvc.length <= 63) return pvc;
  let h = 0x811c9dc5; // FNV-1a, enough to tell PVC names of one namespace apart
  for (let i = 0; i < pvc.length; i++) h = Math.imul(h ^ pvc.charCodeAt(i), 0x01000193) >>> 0;
  return `${pvc.slice(0, 54).replace(/[-_.]+$/, '')}-${h.toString(16).padStart(8, '0')}`;
}

/** The label selector that finds our snapshots of one release (optionally of one PVC). */
export function ourSelector(release: string, pvc?: string): string {
  const parts = [`${LABEL_MANAGED_BY}=${MANAGED_BY_VALUE}`, `${LABEL_INSTANCE}=${release}`];
  if (pvc) parts.push(`${LABEL_SNAPSHOT_OF}=${pvcLabelValue(pvc)}`);
  return parts.join(',');
}

/** True if we created this snapshot for this release and PVC (labels checked again, not trusted to the selector). */
export function isOurs(s: VolumeSnapshot, release: string, pvc: string): boolean {
  const l = s.metadata.labels ?? {};
  return (
    l[LABEL_MANAGED_BY] === MANAGED_BY_VALUE &&
    l[LABEL_INSTANCE] === release &&
    l[LABEL_SNAPSHOT_OF] === pvcLabelValue(pvc) &&
    s.spec.source.persistentVolumeClaimName === pvc
  );
}

/** True if we created this snapshot for this release, of a PVC `accept` takes (labels checked again). */
export function isOursOfAny(s: VolumeSnapshot, release: string, accept: (pvc: string) => boolean): boolean {
  const pvc = s.spec.source.persistentVolumeClaimName;
  return pvc !== undefined && accept(pvc) && isOurs(s, release, pvc);
}

/** When the snapshot was cut (status.creationTime), else when the object was made. */
export function createdAt(s: VolumeSnapshot): string | undefined {
  return s.status?.creationTime ?? s.metadata.creationTimestamp;
}

export function newestFirst(list: VolumeSnapshot[]): VolumeSnapshot[] {
  const t = (s: VolumeSnapshot) => Date.parse(createdAt(s) ?? '') || 0;
  return [...list].sort((a, b) => t(b) - t(a) || b.metadata.name.localeCompare(a.metadata.name));
}
