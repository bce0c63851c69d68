/**
 * A whole-cluster point-in-time restore on Kubernetes is a conversation between two programs
 * through one ConfigMap: the restore Job (or postgres-ops) writes the request and moves the
 * StatefulSet; each member's init container reads it and acts on its own volume (member 0 restores,
 * the others move their data aside and re-clone). What they say to each other, and the decisions
 * that need no I/O, are here.
 */
import { z } from 'zod';
import { pitrRestoreResultSchema } from './results.js';

/** The ConfigMap that carries the request (one per cluster; the members may read and patch only it). */
export const requestConfigMapName = (scope: string) => `${scope}-restore-request`;
export const REQUEST_KEY = 'request.json';

export const clusterRestorePhaseSchema = z.enum([
  /** Written by the Job; member 0 restores when it next starts. */
  'requested',
  /** Member 0 restored and put the data in place; the others may start and re-clone. */
  'restored',
  /** Member 0 could not restore: it kept its data and starts on it. */
  'failed',
  /** Every member back, full backup taken (or its failure reported). */
  'done',
]);

export const clusterRestoreRequestSchema = z.object({
  id: z.string().regex(/^[0-9TZ]+$/),
  /** The target as parseTarget reads it (src/core/pitr/target.ts). */
  targetFlags: z.object({
    time: z.string().optional(),
    lsn: z.string().optional(),
    latest: z.boolean().optional(),
  }),
  /** describeTarget of it: what the person asked for, compared when a run resumes. */
  target: z.string(),
  /** The member that restores (member 0: it starts first and alone). */
  first: z.string(),
  /** Members to scale back to. */
  replicas: z.number().int().min(1),
  requestedAt: z.string(),
  phase: clusterRestorePhaseSchema,
  /** The plan, then what member 0's restore reached. */
  result: pitrRestoreResultSchema,
  error: z.string().nullish(),
  /** Pod name -> the directory its previous data was moved to. */
  keptAside: z.record(z.string(), z.string()).default({}),
  fullBackup: z.string().nullish(),
});
export type ClusterRestoreRequest = z.output<typeof clusterRestoreRequestSchema>;

/**
 * What a member did for a request, on its own volume next to the data directory: a restarted init
 * container finishes (or cleanly abandons) what it started, and never repeats a finished step.
 */
export const volumeMarkerSchema = z.object({
  id: z.string(),
  phase: z.enum(['recovering', 'switching', 'done']),
  /** Member 0: what the restore reached, kept until the request records it. */
  result: pitrRestoreResultSchema.nullish(),
});
export type VolumeMarker = z.output<typeof volumeMarkerSchema>;

/** A stamp that sorts by time and is safe in file names and labels. */
export function restoreStamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '') + 'Z';
}

export const asideDir = (pgdata: string, id: string) => `${pgdata}.before-restore-${id}`;
export const restoringDir = (pgdata: string, id: string) => `${pgdata}.restoring-${id}`;

/**
 * Patroni's keys on its Endpoints (leader, optime, initialize, config, history, failsafe, …) are
 * bare names; keys with a prefix belong to someone else and stay. Dropping Patroni's makes the
 * restored member 0 start as a new cluster's first leader instead of a standby of the old history.
 */
export function patroniAnnotations(annotations: Record<string, string> | undefined): string[] {
  return Object.keys(annotations ?? {}).filter((k) => !k.includes('/'));
}

/** What a member's init container does for a request, given what its volume says. */
export type MemberAction =
  | { kind: 'none'; why: string }
  /** Member 0: restore (after removing a partial copy a killed run left). */
  | { kind: 'restore'; cleanPartial: boolean }
  /** Member 0 killed while switching: finish putting the restored copy in place. */
  | { kind: 'finish-switch' }
  /** Another member: move its data aside (it re-clones from the restored leader). */
  | { kind: 'move-aside' }
  /** Another member started before member 0 restored: wait for it. */
  | { kind: 'wait' };

export function memberAction(
  pod: string,
  req: ClusterRestoreRequest | undefined,
  marker: VolumeMarker | undefined,
): MemberAction {
  if (!req) return { kind: 'none', why: 'no restore requested' };
  const mine = marker?.id === req.id ? marker : undefined;
  if (mine?.phase === 'done') return { kind: 'none', why: `restore ${req.id} already applied here` };
  if (pod === req.first) {
    if (mine?.phase === 'switching') return { kind: 'finish-switch' };
    if (req.phase !== 'requested')
      return { kind: 'none', why: `restore ${req.id} is ${req.phase}; nothing to do on this volume` };
    return { kind: 'restore', cleanPartial: mine?.phase === 'recovering' };
  }
  if (req.phase === 'requested') return { kind: 'wait' };
  if (req.phase === 'failed') return { kind: 'none', why: `restore ${req.id} failed; keeping this data` };
  return { kind: 'move-aside' };
}
