/** postgres-agent list-backups: complete backups, newest first (`-o json` is an interface). */
import { type BackupListEntry, damagedLines } from '../../core/backup/manifest.js';
import { formatBytes, renderTable, type OutputFormat } from '../../core/output.js';
import { listBackups as list } from '../../runtime/backup/index.js';
import type { AgentContext } from '../context.js';

export function renderBackupTable(entries: BackupListEntry[]): string {
  if (entries.length === 0) return 'No backups.';
  const table = renderTable(
    ['NAME', 'CREATED', 'SIZE', 'DATABASE', 'VERIFIED'],
    entries.map((e) => [
      e.name,
      e.createdAt.replace(/\.\d+Z$/, 'Z'),
      formatBytes(e.sizeBytes),
      e.database,
      e.damaged ? 'DAMAGED' : e.deepVerifiedAt ? 'deep' : e.verified ? 'yes' : 'NO',
    ]),
  );
  return [table, ...damagedLines(entries)].join('\n');
}

export async function listBackups(
  opts: { output?: OutputFormat },
  ctx: AgentContext,
): Promise<BackupListEntry[]> {
  const entries = list(ctx.config.backup.dir);
  ctx.out.result(entries, opts.output ?? 'table', renderBackupTable);
  return entries;
}
