/**
 * Applying retention to the backup directory. Only backups with our manifest are considered; the
 * decision is `planRetention` (pure, in core). A backup is deleted manifest first, so that a crash
 * half way never leaves a listed backup without its archive.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PruneResult } from '../../core/backup/results.js';
import { planRetention } from '../../core/backup/retention.js';
import type { Logger } from '../log.js';
import { fsyncPath, scanBackupDir } from './catalog.js';

export interface PruneOptions {
  backupDir: string;
  retentionDays: number;
  dryRun?: boolean;
  now?: Date;
}

export type { PruneResult };

export async function pruneBackups(opts: PruneOptions, deps: { log: Logger }): Promise<PruneResult> {
  const dir = resolve(opts.backupDir);
  const scan = scanBackupDir(dir);
  for (const i of scan.incomplete)
    deps.log.warn('a manifest of ours that names another backup; left alone', {
      backup: i.name,
      reason: i.reason,
    });
  for (const d of scan.damaged)
    deps.log.warn('a damaged backup: never restore it', { backup: d.manifest.name, reason: d.reason });
  const all = [
    ...scan.backups.map((b) => ({ b, damaged: false })),
    ...scan.damaged.map((b) => ({ b, damaged: true })),
  ];
  const plan = planRetention(
    all.map(({ b, damaged }) => ({
      name: b.manifest.name,
      database: b.manifest.database,
      createdAt: b.manifest.startedAt,
      verified: b.manifest.verified && !damaged,
      damaged,
    })),
    scan.partials.map((p) => ({ file: p.file, modifiedAt: p.modifiedAt })),
    opts.now ?? new Date(),
    opts.retentionDays,
  );
  const deleted: string[] = [];
  if (!opts.dryRun) {
    for (const d of plan.backups) {
      if (d.action !== 'delete') continue;
      const { b } = all.find((x) => x.b.manifest.name === d.name)!;
      rmSync(b.manifestPath, { force: true });
      fsyncPath(dir);
      rmSync(b.dumpPath, { force: true });
      if (b.globalsPath) rmSync(b.globalsPath, { force: true });
      deps.log.info('backup deleted', { backup: d.name, reason: d.reason });
      deleted.push(d.name);
    }
    for (const p of plan.partials) {
      if (p.action !== 'delete') continue;
      rmSync(join(dir, p.file), { recursive: true, force: true });
      deps.log.info('temporary file deleted', { file: p.file, reason: p.reason });
      deleted.push(p.file);
    }
  }
  return { dryRun: !!opts.dryRun, plan, deleted };
}
