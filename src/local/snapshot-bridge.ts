/**
 * The local mode's snapshots: pg_basebackup copies of the primary under the state folder
 * (src/local/snapshots.ts), listed in the same shape as Kubernetes VolumeSnapshots.
 */
import type { SnapshotEntry } from '../core/cluster/cluster-api.js';
import { createLocalSnapshot, type LocalSnapshot, listLocalSnapshots } from './snapshots.js';
import { readSecret } from './state.js';

/** The agent's default PGOPS_REPLICATION_USER. */
const REPLICATION_USER = 'replicator';

export function toEntry(s: LocalSnapshot): SnapshotEntry {
  return { name: s.name, createdAt: s.createdAt, readyToUse: true, source: s.source, sizeBytes: null };
}

export function listSnapshotEntries(root: string): SnapshotEntry[] {
  return listLocalSnapshots(root).map(toEntry);
}

export async function takeSnapshot(
  root: string,
  port: number,
  name: string | undefined,
  release: string,
  binDir: string,
): Promise<SnapshotEntry> {
  const snap = await createLocalSnapshot(
    // pg_basebackup needs a replication connection, which pg_hba allows the replication role only.
    { host: '127.0.0.1', port, user: REPLICATION_USER, password: readSecret(root, 'replication-password') },
    { stateDir: root, name, release, binDir },
  );
  return toEntry(snap);
}
