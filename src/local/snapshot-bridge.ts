/**
 * Local snapshots live in src/local/snapshots.ts (pg_basebackup copies). Loaded lazily so that the
 * rest of the CLI works in a build without them.
 */
import type { Output } from '../core/output.js';
import type { SnapshotEntry } from '../ops/cluster-api.js';

export interface LocalSnapshots {
  list(root: string): Promise<SnapshotEntry[]>;
  create(root: string, name: string | undefined, out: Output): Promise<SnapshotEntry | undefined>;
}

export async function localSnapshots(): Promise<LocalSnapshots | undefined> {
  return undefined;
}
