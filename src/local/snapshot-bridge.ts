/**
 * The local mode's snapshots: pg_basebackup copies of the primary under the state folder
 * (src/local/snapshots.ts), listed in the same shape as Kubernetes VolumeSnapshots.
 */
import type { SnapshotEntry } from '../ops/cluster-api.js';
import { createLocalSnapshot, type LocalSnapshot, listLocalSnapshots } from './snapshots.js';
import { readSecret, SUPERUSER } from './state.js';

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
    // pg_basebackup runs as the postgres OS user: the password goes to it directly, not via our passfile.
    { host: '127.0.0.1', port, user: SUPERUSER, password: readSecret(root, 'superuser-password') },
    { stateDir: root, name, release, binDir },
  );
  return toEntry(snap);
}
