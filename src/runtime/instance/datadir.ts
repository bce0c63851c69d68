/** Facts about the data directory and its volume, read from disk. */
import { existsSync, readdirSync, statSync, statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { diskUsage } from '../../core/disk-usage.js';
import { exec } from '../exec.js';

/** What a data directory holds: nothing, a primary's or a standby's cluster, or something else. */
export type DataDirKind = 'empty' | 'primary' | 'standby' | 'foreign';

export function inspectDataDir(pgdata: string): DataDirKind {
  let entries: string[];
  try {
    entries = readdirSync(pgdata);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'empty';
    throw err;
  }
  const meaningful = entries.filter((e) => e !== 'lost+found');
  if (meaningful.length === 0) return 'empty';
  if (!entries.includes('PG_VERSION') || !existsSync(join(pgdata, 'global', 'pg_control'))) return 'foreign';
  return existsSync(join(pgdata, 'standby.signal')) ? 'standby' : 'primary';
}

export interface ControlData {
  timeline: number;
  systemIdentifier: string;
  state: string;
}

/** pg_controldata of a stopped (or running) data directory. */
export async function readControlData(binDir: string, pgdata: string): Promise<ControlData> {
  const r = await exec(join(binDir, 'pg_controldata'), ['-D', pgdata], {
    env: { ...process.env, LC_ALL: 'C' },
  });
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(r.stdout)?.[1]?.trim() ?? '';
  return {
    timeline: Number(field("Latest checkpoint's TimeLineID")) || 0,
    systemIdentifier: field('Database system identifier'),
    state: field('Database cluster state'),
  };
}

export interface VolumeStats {
  sizeBytes: number;
  /** Available to PostgreSQL (non-root). */
  freeBytes: number;
  /** As src/core/disk-usage.ts defines it. */
  usedPercent: number;
}

/** Size and free space of the filesystem holding `path` (or its nearest existing parent). */
export function volumeStats(path: string): VolumeStats {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  const s = statfsSync(p);
  const sizeBytes = s.blocks * s.bsize;
  const freeBytes = s.bavail * s.bsize;
  return { sizeBytes, freeBytes, usedPercent: diskUsage(s).usedPercent };
}

/** True when `pgdata` is itself a mount point (then it cannot be removed and re-created as a whole). */
export function isMountPoint(pgdata: string): boolean {
  try {
    return statSync(pgdata).dev !== statSync(dirname(pgdata)).dev;
  } catch {
    return false;
  }
}
