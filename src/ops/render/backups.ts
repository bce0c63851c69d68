import { formatBytes, renderTable } from '../../core/output.js';
import { damagedLines } from '../../core/backup/manifest.js';
import type { BackupEntry } from '../../core/cluster/cluster-api.js';

export function renderBackups(list: BackupEntry[]): string {
  if (list.length === 0) return 'No backups yet. Take one: postgres-ops backup NAME';
  const table = renderTable(
    ['NAME', 'CREATED', 'SIZE', 'VERIFIED', 'FILE'],
    list.map((b) => [
      b.name,
      b.createdAt,
      formatBytes(b.sizeBytes),
      b.damaged ? 'DAMAGED' : b.verified ? (b.deepVerifiedAt ? 'yes (deep)' : 'yes') : 'NO',
      b.file,
    ]),
  );
  return [table, ...damagedLines(list)].join('\n');
}
